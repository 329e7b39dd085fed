"""One skill call as the supervisor tracks it: its channel, its skill process, what it produced."""

import json
import math
import os
import selectors
import signal

from .wire import done_frame

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
MAX_LINE_AFTER_REQUEST = 4096  # the gateway sends only the kill frame after its request


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
        self.request = bytearray()  # the request line until it is complete, then what follows it
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

    def lines_after_request(self, data):
        """The complete lines the gateway sent after its request (a line may come in pieces)."""
        *lines, rest = bytes(self.request + data).split(b"\n")
        self.request = bytearray(rest if len(rest) <= MAX_LINE_AFTER_REQUEST else b"")
        return lines

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
        code = os.waitstatus_to_exitcode(self.status) if self.status is not None else 0
        return done_frame(
            result,
            self.stdout.decode("utf-8", "replace"),
            self.stdout_truncated,
            code if code >= 0 else None,
            signal.Signals(-code).name if code < 0 else None,
            self.oom,
        )

    def write_outbox(self):
        """Writes as much of the queued frames as the non-blocking channel takes now."""
        while self.outbox:
            try:
                n = os.write(self.chan_out, self.outbox)
            except BlockingIOError:
                return
            except OSError:  # the gateway went away; the call still ends properly
                self.outbox.clear()
                return
            del self.outbox[:n]

    def watch_channel(self, sel, handler):
        """Registers the channel with `sel` for what the call waits for now: the gateway's lines
        while reading, writability while frames are queued, nothing once both are over."""
        want_read = READ if self.reading else 0
        want_write = WRITE if self.outbox else 0
        if self.chan_in == self.chan_out:
            self._interest(sel, self.chan_in, want_read | want_write, handler)
        else:
            self._interest(sel, self.chan_in, want_read, handler)
            self._interest(sel, self.chan_out, want_write, handler)

    def _interest(self, sel, fd, events, handler):
        key = sel.get_map().get(fd)
        data = (handler, self)
        if key is None:
            if events:
                sel.register(fd, events, data)
        elif not events:
            sel.unregister(fd)
        elif key.events != events:
            sel.modify(fd, events, data)
