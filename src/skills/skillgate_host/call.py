"""One skill call as the supervisor tracks it: its channel, its skill process, what it produced."""

import json
import math
import os
import signal


class Call:
    __slots__ = (
        "chan_in", "chan_out", "owns_channel", "reading", "request", "outbox", "done",
        "pid", "pipes", "stdout", "stdout_truncated", "result", "status", "deadline", "drain_until",
        "oom",
    )

    def __init__(self, chan_in, chan_out, owns_channel):
        self.chan_in = chan_in
        self.chan_out = chan_out
        self.owns_channel = owns_channel  # a warm connection is ours to close; cold stdio is not
        self.reading = True  # chan_in is watched: first the request, then "kill" or EOF
        self.request = bytearray()
        self.outbox = bytearray()  # frames not yet written (the channel is non-blocking)
        self.done = False  # the done frame is queued; the call ends once it is written
        self.pid = None  # the skill process, also its process group and session id
        self.pipes = {}  # read end -> "out" | "result", while open
        self.stdout = bytearray()
        self.stdout_truncated = False
        self.result = bytearray()
        self.status = None  # wait status, once the skill process is reaped
        self.deadline = math.inf  # backstop kill if the gateway never asks for it
        self.drain_until = math.inf  # after exit: how long an escaped writer may hold the pipes
        self.oom = False  # the call's cgroup hit its memory limit and the kernel killed in it

    def take_output(self, kind, chunk, cap):
        if kind == "out":
            room = cap - len(self.stdout)
            if len(chunk) > room:
                self.stdout_truncated = True
            if room > 0:
                self.stdout += chunk[:room]
        elif len(self.result) < 2 * cap + 65536:
            self.result += chunk

    def done_frame(self):
        try:
            result = json.loads(self.result.decode("utf-8", "replace")) if self.result.strip() else None
        except ValueError:
            result = None
        code = os.waitstatus_to_exitcode(self.status)
        frame = {
            "t": "done",
            "result": result,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stdout_truncated": self.stdout_truncated,
            "code": code if code >= 0 else None,
            "signal": signal.Signals(-code).name if code < 0 else None,
        }
        if self.oom:
            frame["oom"] = True
        return frame

