"""The host's own warnings (not a skill's output): one line each on stderr.

Where that goes depends on the process: the warm host's and discovery's stderr is read by the
gateway (logged when the host dies or discovery fails); in a skill process stderr is the call's
output pipe, so a limit that could not be set shows up with the call's output.
"""

import os
import resource


def warn(message):
    try:
        os.write(2, f"skillgate host: {message}\n".encode("utf-8", "replace"))
    except OSError:
        pass  # stderr itself is closed: there is nowhere left to report to


def limit_name(which):
    """RLIMIT_NPROC rather than 6 in a message."""
    return next((n for n in dir(resource) if n.startswith("RLIMIT_") and getattr(resource, n) == which), str(which))
