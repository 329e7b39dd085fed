"""The host's own warnings (not a skill's output): one line each on stderr.

Where that goes depends on the process: the gateway logs these lines from the warm host's and
discovery's stderr as warnings (frames.ts readHostWarnings); in a skill process stderr is the
call's output pipe, so a limit that could not be set there shows up with the call's output.
"""

import os
import resource


PREFIX = "skillgate host: "  # src/skills/frames.ts logs the lines that carry it


def warning_line(message):
    return f"{PREFIX}{' '.join(str(message).splitlines())}\n"


def warn(message):
    try:
        os.write(2, warning_line(message).encode("utf-8", "replace"))
    except OSError:
        pass  # stderr itself is closed: there is nowhere left to report to


def limit_name(which):
    """RLIMIT_NPROC rather than 6 in a message."""
    return next((n for n in dir(resource) if n.startswith("RLIMIT_") and getattr(resource, n) == which), str(which))
