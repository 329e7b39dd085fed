"""Frames on a call channel: one JSON object per line (the protocol is described in host.py)."""

import json
import os


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


def error_done(message):
    """The frame that ends a call which never started a skill process."""
    return {"t": "done", "result": {"ok": False, "error": message}, "stdout": "", "code": None, "signal": None}


def describe_exception(err):
    if isinstance(err, SyntaxError):
        return f"SyntaxError: {err.msg} (line {err.lineno})"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
