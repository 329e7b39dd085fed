"""The skill host protocol, Python side; src/skills/frames.ts is the TypeScript side. Both are
checked against the same examples, test/fixtures/protocol/*.json, so the two cannot drift.

The gateway starts `python3 -B host.py MODE CONFIG_JSON` (MODE: probe, discover, serve, call;
CONFIG_JSON: a HostConfig, see config.py: paths and limits, never a secret or user data). Every
channel carries newline-delimited JSON, one UTF-8 object per line.

  discover  stdout, one line: {"skills": [ENTRY...], "errors": [...], "warnings": [...], "files": [...]}
  serve     stdout: {"t": "importing", "file": FILE} before each skill file, FILE null after the
            last, then {"t": "ready", "pid": PID, "skills": [NAME...], "errors": [{"file", "error"}]}
  one call  (a unix socket to the warm host, or a cold host's stdin/stdout)
    gateway -> host  {"skill": NAME, "file": FILE, "args": {...}}  the request, the first line
                     {"op": "kill"}                                stop the call now
                     EOF                                           the gateway gave up: stop it too
    host -> gateway  {"t": "start", "pid": SKILL_PID}
                     {"t": "done", "result": RESULT | null, "stdout": TEXT, "stdout_truncated": BOOL,
                      "code": EXIT_CODE | null, "signal": NAME | null, "oom": true (only when it was)}
    RESULT           {"ok": true, "value": {"text": TEXT, "truncated": BOOL}}
                     | {"ok": false, "error": TEXT, "trace": TEXT (optional)}

After the request, a line is the kill frame only when it is exactly that object; anything else is
ignored. "done" is written only once everything the skill started is gone.
"""

import json
import os

KILL = {"op": "kill"}


def encode_frame(obj):
    return (json.dumps(obj, ensure_ascii=False, default=str) + "\n").encode("utf-8", "replace")


def write_frame(fd, obj):
    """Blocking write of one frame; a gateway that went away is not an error here."""
    view = memoryview(encode_frame(obj))
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return
        view = view[n:]


def parse_request(line):
    """The call request (bytes, one line) as a dict; ValueError when it is not a JSON object."""
    request = json.loads(line.decode("utf-8"))
    if not isinstance(request, dict):
        raise ValueError("the request is not a JSON object")
    return request


def is_kill(line):
    """Whether one line the gateway sent after its request is the kill frame (exactly that)."""
    try:
        return json.loads(line.decode("utf-8")) == KILL
    except ValueError:
        return False


def start_frame(pid):
    return {"t": "start", "pid": pid}


def done_frame(result, stdout, stdout_truncated, code, signal_name, oom=False):
    frame = {
        "t": "done",
        "result": result,
        "stdout": stdout,
        "stdout_truncated": stdout_truncated,
        "code": code,
        "signal": signal_name,
    }
    if oom:
        frame["oom"] = True
    return frame


def error_done(message):
    """The frame that ends a call which never started a skill process."""
    return {"t": "done", "result": {"ok": False, "error": message}, "stdout": "", "code": None, "signal": None}


def importing_frame(file):
    return {"t": "importing", "file": file}


def ready_frame(pid, skills, errors):
    return {"t": "ready", "pid": pid, "skills": skills, "errors": errors}


def registry_frame(skills, errors, warnings, files):
    return {"skills": skills, "errors": errors, "warnings": warnings, "files": files}


def describe_exception(err):
    if isinstance(err, SyntaxError):
        return f"SyntaxError: {err.msg} (line {err.lineno})"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
