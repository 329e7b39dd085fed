"""Forking skill processes, and the warm host's spare: one skill process forked and confined ahead
of its call, blocked on a pipe until the call's request arrives. It serves that one call only.
A warm host has its spares forked by its zygote (zygote.py) when it can, else forks them itself."""

import os
import signal

from .cgroup import slots_from
from .confinement import forked, prepare_call, prepared, remove_call_tmp
from .reaper import leader_exited
from .skill_process import run_skill, run_spare


class Spare:
    __slots__ = ("pid", "request_w", "out_r", "result_r", "slot")

    def __init__(self, pid, request_w, out_r, result_r, slot=None):
        self.pid = pid  # None while the zygote has not said it yet
        self.request_w = request_w
        self.out_r = out_r
        self.result_r = result_r
        self.slot = slot  # its cgroup slot, until it has a pid to be bound to


class Spawner:
    def __init__(self, functions, cfg):
        self.functions = functions
        self.cfg = cfg
        self.spare = None
        self.host_pid = os.getpid()
        self.slots = slots_from(cfg)  # per-call cgroups, when the gateway could create them
        self.zygote = None

    def start_zygote(self):
        """A warm host: its spares are forked by a zygote from now on (see zygote.py)."""
        from .zygote import Zygote  # a warm host's only (host.py loads it before dropping privileges)

        try:
            self.zygote = Zygote(self.host_pid, self.functions, self.cfg, self.slots)
        except OSError:
            self.zygote = None  # out of processes for now: the host forks its spares itself

    def stop_zygote(self):
        zygote, self.zygote = self.zygote, None
        if zygote is not None:
            zygote.close()

    def own_pids(self, wait=True):
        """The zygote's and the spare's pids. wait=False: as far as known now, without waiting
        for the zygote to report the spare it may be forking (then that one is missing)."""
        if wait:
            self._settle()
        spare_pid = self.spare.pid if self.spare is not None else None
        zygote_pid = self.zygote.pid if self.zygote is not None else None
        return [pid for pid in (spare_pid, zygote_pid) if pid is not None]

    def fork_for(self, func, args):
        """A skill process for a call already received: (pid, stdout read end, result read end)."""
        return self._fork(lambda out_w, result_w: run_skill(self.host_pid, func, args, out_w, result_w, self.cfg))

    def take_spare(self, request_line):
        """Hands the (validated) request line to the spare; its (pid, out_r, result_r), or None."""
        self._settle()
        spare, self.spare = self.spare, None
        if spare is None:
            return None
        try:
            written = os.write(spare.request_w, request_line)
        except OSError:  # it died meanwhile
            written = -1
        if written != len(request_line):  # or the request is more than the pipe holds at once
            self.spare = spare
            self.drop_spare()
            return None
        os.close(spare.request_w)  # EOF: the spare parses what it read and runs the skill
        return spare.pid, spare.out_r, spare.result_r

    def prefork(self):
        if self.spare is not None:
            return
        try:
            request_r, request_w = os.pipe2(os.O_CLOEXEC)
        except OSError:
            return  # out of descriptors for now: calls fork on demand
        if self.zygote is not None:
            self._order_spare(request_r, request_w)
            return
        try:
            pid, out_r, result_r = self._fork(
                lambda out_w, result_w: run_spare(self.host_pid, self.functions, request_r, out_w, result_w, self.cfg)
            )
        except OSError:
            pid = None  # out of processes or descriptors for now: calls fork on demand
        os.close(request_r)
        if pid is None:
            os.close(request_w)
            return
        os.set_blocking(request_w, False)
        self.spare = Spare(pid, request_w, out_r, result_r)  # pyright: ignore[reportPossiblyUnboundVariable] (bound when pid is)

    def _order_spare(self, request_r, request_w):
        """The next spare from the zygote (its pid comes later, see _settle). When the zygote is
        gone, no spare: the next call forks its own, and the host its spares from then on."""
        try:
            slot = self.slots.take() if self.slots is not None else None
        except OSError:
            os.close(request_r)
            os.close(request_w)
            return  # no free slot: calls fork on demand (and are refused the same way)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        prepare_call(self.cfg)  # unless after_reply() made them already
        zygote, slots = self.zygote, self.slots
        assert zygote is not None  # prefork orders only from a zygote
        index = slots.all.index(slot) if slots is not None and slot is not None else None
        ordered = zygote.order(index, prepared(), (request_r, out_w, result_w))
        for fd in (request_r, out_w, result_w):
            os.close(fd)
        os.set_blocking(request_w, False)
        self.spare = Spare(None, request_w, out_r, result_r, slot)
        if not ordered:
            self._abandon(self.spare)

    def _settle(self):
        """The spare ordered from the zygote gets its pid (before anything looks at the host's
        children: kill_strays must know it is ours). Undone when the zygote could not fork it."""
        spare = self.spare
        if spare is None or spare.pid is not None:
            return
        pid = self.zygote.collect() if self.zygote is not None else None
        if pid is None:
            self._abandon(spare)
            return
        forked(self.cfg, pid)
        if self.slots is not None and spare.slot is not None:
            self.slots.bind(pid, spare.slot)
        spare.pid, spare.slot = pid, None

    def _abandon(self, spare):
        """The ordered spare was not forked: what was made for it is put back, and the host forks
        its spares itself from now on."""
        self.spare = None
        forked(self.cfg, None)  # its temp dir and ruleset were not used: they serve again
        for fd in (spare.request_w, spare.out_r, spare.result_r):
            os.close(fd)
        if self.slots is not None and spare.slot is not None:
            self.slots.put_back(spare.slot)
        self.stop_zygote()

    def check_spare(self):
        """After SIGCHLD: a spare that died (killed from outside, failed to confine) is dropped;
        the next call forks its own and replaces it."""
        self._settle()
        if self.spare is not None and leader_exited(self.spare.pid):
            self.drop_spare()

    def drop_spare(self):
        self._settle()
        spare, self.spare = self.spare, None
        if spare is None:
            return
        for fd in (spare.request_w, spare.out_r, spare.result_r):
            os.close(fd)
        try:
            os.killpg(spare.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        os.waitpid(spare.pid, 0)
        self.end(spare.pid)
        remove_call_tmp(self.cfg, spare.pid)

    def after_reply(self, pid, more_calls):
        """Skill process `pid`'s call was answered: remove its temp dir and, when more calls may
        come (a warm host), make the next skill process's temp dir and Landlock ruleset now, so
        that the next fork (the spare, forked while a call runs, on the same CPUs) is as short
        as a plain fork."""
        remove_call_tmp(self.cfg, pid)
        if more_calls:
            prepare_call(self.cfg)

    def end(self, pid):
        """Skill process `pid` was reaped: kill what is left of its call in its cgroup. True when
        the call went over its memory limit."""
        return self.slots.end(pid) if self.slots is not None else False

    def _fork(self, body):
        """Forks a skill process running body(out_w, result_w); returns (pid, out_r, result_r)."""
        slot = self.slots.take() if self.slots is not None else None
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        try:
            prepare_call(self.cfg)  # unless after_reply() made them already
            pid, born_inside = slot.fork() if slot is not None else (os.fork(), False)
        except OSError:
            forked(self.cfg, None)
            for fd in (out_r, out_w, result_r, result_w):
                os.close(fd)
            if self.slots is not None and slot is not None:
                self.slots.put_back(slot)
            raise
        if pid == 0:
            try:
                if slot is not None:
                    slot.enter(born_inside)  # first: the whole call, its limits and its end, in one cgroup
                body(out_w, result_w)
            finally:
                os._exit(1)
        forked(self.cfg, pid)
        if self.slots is not None and slot is not None:
            self.slots.bind(pid, slot)
        os.close(out_w)
        os.close(result_w)
        return pid, out_r, result_r
