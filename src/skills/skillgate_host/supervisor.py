"""The call loop: one thread and one `selectors` loop run every call of a host process.

Per call the host forks one skill process (its own session and group, limits, pdeathsig) and
watches, in the same loop, the call's channel (the request, then "kill" or EOF), the skill's
stdout and result pipes, its exit (SIGCHLD through a wake-up pipe) and its deadline. No process
sits between the host and the skill. Blocking happens only while killing something (bounded
rounds, 5 ms apart), never on the happy path.

The warm host keeps one spare: a skill process forked and confined ahead of time that waits for
its single request. A call hands its request to the spare (and a new spare is ordered from the
host's zygote while the skill runs), which takes the fork and the confinement off the call's
latency. Each skill process
still serves exactly one call; without a spare a call forks its own.
"""

import math
import os
import selectors
import signal
import time

from .call import READ, WRITE, Call
from .reaper import kill_group, kill_strays, leader_exited, list_children
from .skill_process import PR_SET_CHILD_SUBREAPER, prctl
from .spawner import Spawner
from .wire import encode_frame, error_done, is_kill, parse_request, start_frame

MAX_REQUEST_BYTES = 4 * 1024 * 1024
KILL_GRACE_S = 2.0  # the gateway kills at the timeout; this backstop acts if it went quiet
DRAIN_S = 1.0  # after the skill exits, how long something that escaped may hold its pipes


class Supervisor:
    def __init__(self, functions, cfg):
        self.functions = functions
        self.cfg = cfg
        self.cap = cfg.max_output_bytes
        self.sel = selectors.DefaultSelector()
        self.calls = set()  # every call not yet answered
        self.running = {}  # unreaped skill process pid -> its call
        self.spawner = Spawner(functions, cfg)
        self.listener = None
        # Orphans of finished calls become our children, so nothing a skill started outlives it.
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.sel.register(self.wake_r, READ, (self._on_child_exit, None))

    # ------------------------------------------------------------------ entry points

    def serve(self, listener, stop_fd):
        """Warm host: a call per connection until `stop_fd` hits EOF, then finish running calls."""
        listener.setblocking(False)
        self.listener = listener
        self.sel.register(listener, READ, (self._on_accept, None))
        self.sel.register(stop_fd, READ, (self._on_stop, None))
        self.spawner.start_zygote()
        self.spawner.prefork()
        self._loop(lambda: self.listener is None and not self.calls)

    def run_one(self, func, args, chan_in, chan_out):
        """Cold host: the one call whose request was already read from `chan_in`."""
        os.set_blocking(chan_in, False)
        os.set_blocking(chan_out, False)
        call = Call(chan_in, chan_out, owns_channel=False)
        self.calls.add(call)
        self._start(call, func, args)
        self._loop(lambda: not self.calls)

    # ------------------------------------------------------------------ the loop

    def _loop(self, finished):
        while not finished():
            for key, mask in self.sel.select(self._next_timeout()):
                # An earlier handler in this batch may have closed (and reused) this descriptor.
                if self.sel.get_map().get(key.fd) is not key:
                    continue
                handler, call = key.data
                handler(call, key.fd, mask)
            self._check_timers()

    def _next_timeout(self):
        soonest = min((c.deadline if c.status is None else c.drain_until for c in self.calls), default=math.inf)
        return None if soonest == math.inf else max(0.0, soonest - time.monotonic())

    def _check_timers(self):
        now = time.monotonic()
        for call in list(self.calls):
            if call.status is None and now > call.deadline:
                call.deadline = math.inf
                self._kill(call)
            elif call.status is not None and not call.done and now > call.drain_until:
                self._finish(call)

    # ------------------------------------------------------------------ handlers

    def _on_accept(self, _call, _fd, _mask):
        assert self.listener is not None  # registered only while listening
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        except OSError:
            # Out of descriptors: the connection stays queued and the listener readable; pause
            # rather than spin until a running call ends and frees some.
            time.sleep(0.01)
            return
        fd = conn.detach()
        os.set_blocking(fd, False)
        call = Call(fd, fd, owns_channel=True)
        self.calls.add(call)
        self._watch_channel(call)

    def _on_stop(self, _call, fd, _mask):
        if os.read(fd, 4096):
            return
        # The gateway closed our stdin: accept nothing more, let running calls finish.
        assert self.listener is not None
        self.sel.unregister(fd)
        self.sel.unregister(self.listener)
        self.listener.close()
        self.listener = None
        self.spawner.drop_spare()
        self.spawner.stop_zygote()

    def _on_channel(self, call, _fd, mask):
        if mask & WRITE:
            self._flush(call)
        if mask & READ and call.reading:
            self._read_channel(call)

    def _read_channel(self, call):
        try:
            data = os.read(call.chan_in, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if call.pid is None and not call.done:
            self._read_request(call, data)
        elif not data:
            call.reading = False  # the gateway gave up on the call
            self._watch_channel(call)
            self._kill(call)
        else:
            self._read_after_request(call, data)

    def _read_request(self, call, data):
        if not data:
            call.done = True  # hung up before asking anything
            self._close(call)
            return
        call.request += data
        if b"\n" not in call.request:
            if len(call.request) > MAX_REQUEST_BYTES:
                self._refuse(call, "bad request: longer than 4 MiB")
            return
        line, rest = bytes(call.request).split(b"\n", 1)
        call.request = bytearray()
        try:
            request = parse_request(line)
        except ValueError as err:
            self._refuse(call, f"bad request: {err}")
            return
        name, args = request.get("skill"), request.get("args") or {}
        func = self.functions.get(name) if isinstance(name, str) else None
        if func is None or not isinstance(args, dict):
            self._refuse(call, f"skill {name!r} is not loaded in the skill host")
            return
        spare = self.spawner.take_spare(line)
        if spare:
            self._adopt(call, *spare)
        else:
            self._start(call, func, args)
        if self.listener is not None:  # a warm host: the next call's process, while this one runs
            self.spawner.prefork()
        self._read_after_request(call, rest)

    def _read_after_request(self, call, data):
        if any(is_kill(line) for line in call.lines_after_request(data)):
            self._kill(call)

    def _on_pipe(self, call, fd, _mask):
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            call.take_output(call.pipes[fd], chunk, self.cap)
            return
        self.sel.unregister(fd)
        os.close(fd)
        del call.pipes[fd]
        if call.status is not None and not call.pipes:
            self._finish(call)

    def _on_child_exit(self, _call, _fd, _mask):
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        for pid, call in list(self.running.items()):
            if leader_exited(pid):
                self._reap(call)
        self.spawner.check_spare()

    # ------------------------------------------------------------------ a call's life

    def _start(self, call, func, args):
        try:
            pid, out_r, result_r = self.spawner.fork_for(func, args)
        except OSError as err:
            self._refuse(call, f"could not start the skill process: {err}")
            return
        self._adopt(call, pid, out_r, result_r)

    def _adopt(self, call, pid, out_r, result_r):
        call.pid = pid
        call.pipes = {out_r: "out", result_r: "result"}
        call.deadline = time.monotonic() + self.cfg.timeout_ms / 1000 + KILL_GRACE_S
        self.running[pid] = call
        for fd in call.pipes:
            os.set_blocking(fd, False)
            self.sel.register(fd, READ, (self._on_pipe, call))
        self._send(call, start_frame(pid))

    def _left_behind(self):
        """Whether we have a child that is none of the ones we keep: something a finished call
        left (alive or not yet reaped). Exact, and no search when nothing is: every live process a
        call started is our child once its skill process is reaped (the skill process was the
        subreaper of its own tree, and its orphans came to us when it exited), or a descendant of
        one that is. It holds whatever the call did, a cgroup left by clone3 included. Unlike
        _keep() it does not wait for the zygote's word on the spare it may be forking now (up to
        a millisecond on the call's latency): a spare not yet known counts as left behind, and
        the search that follows waits for it."""
        keep = self._keep(wait=False)
        return any(pid not in keep for pid in list_children())

    def _keep(self, wait=True):
        """Our children that are not strays: the running skill processes, the spare, the zygote."""
        return {*self.running, *self.spawner.own_pids(wait)}

    def _kill(self, call):
        """Kills the group of a live skill process; its exit then ends the call as usual."""
        if call.pid is not None and call.status is None:
            try:
                os.killpg(call.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _reap(self, call):
        pid = call.pid
        try:  # the exited leader still pins the group id: nothing else can have taken it
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _, call.status = os.waitpid(pid, 0)
        del self.running[pid]
        call.oom = self.spawner.end(pid)  # its cgroup: everything the call started, at once
        if self._left_behind():
            kill_group(pid, self._keep())  # whatever it left in its group, reparented to us
            # Orphans that left the group (setsid) came to us too; they may hold the pipes open.
            kill_strays(self._keep())
        call.drain_until = time.monotonic() + DRAIN_S
        if not call.pipes:
            self._finish(call)

    def _finish(self, call):
        for fd in list(call.pipes):
            self.sel.unregister(fd)
            os.close(fd)
        call.pipes.clear()
        call.reading = False
        call.done = True
        self._send(call, call.done_frame())
        self.spawner.after_reply(call.pid, self.listener is not None)  # cleanup, next spare's domain: after the reply

    def _refuse(self, call, message):
        call.reading = False
        call.done = True
        self._send(call, error_done(message))

    # ------------------------------------------------------------------ the channel

    def _send(self, call, frame):
        call.outbox += encode_frame(frame)
        self._flush(call)

    def _flush(self, call):
        call.write_outbox()
        if call.done and not call.outbox:
            self._close(call)
        else:
            self._watch_channel(call)

    def _close(self, call):
        call.reading = False
        self._watch_channel(call)
        if call.owns_channel:
            os.close(call.chan_in)
        self.calls.discard(call)

    def _watch_channel(self, call):
        call.watch_channel(self.sel, self._on_channel)
