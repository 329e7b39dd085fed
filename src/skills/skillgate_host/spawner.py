"""Forking skill processes, and the warm host's spare: one skill process forked and confined ahead
of its call, blocked on a pipe until the call's request arrives. It serves that one call only."""

import math
import os
import signal

from .cgroup import slots_from
from .confinement import forked, prepare_call, remove_call_tmp
from .reaper import leader_exited
from .skill_process import run_skill, run_spare


class Spare:
    __slots__ = ("pid", "request_w", "out_r", "result_r")

    def __init__(self, pid, request_w, out_r, result_r):
        self.pid = pid
        self.request_w = request_w
        self.out_r = out_r
        self.result_r = result_r


# A warm host forks the next call's spare after it answered the current call, or this long into
# the call if it is still running (so a concurrent call finds one). Forking the host and
# confining the spare take ~1 ms of CPU; on a small machine, done while a short call runs, that
# delays the call's own answer (measured: +15 % on a 1.5 ms call on 2 cores).
SPARE_DELAY_S = 0.005


class Spawner:
    def __init__(self, functions, cfg):
        self.functions = functions
        self.cfg = cfg
        self.spare = None
        self.spare_due = math.inf  # when to fork the next spare, if none is waiting
        self.host_pid = os.getpid()
        self.slots = slots_from(cfg)  # per-call cgroups, when the gateway could create them

    @property
    def spare_pid(self):
        return self.spare.pid if self.spare is not None else None

    def fork_for(self, func, args):
        """A skill process for a call already received: (pid, stdout read end, result read end)."""
        return self._fork(lambda out_w, result_w: run_skill(self.host_pid, func, args, out_w, result_w, self.cfg))

    def take_spare(self, request_line):
        """Hands the (validated) request line to the spare; its (pid, out_r, result_r), or None."""
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
        self.spare = Spare(pid, request_w, out_r, result_r)

    def check_spare(self):
        """After SIGCHLD: a spare that died (killed from outside, failed to confine) is dropped;
        the next call forks its own and replaces it."""
        if self.spare is not None and leader_exited(self.spare.pid):
            self.drop_spare()

    def drop_spare(self):
        self.spare_due = math.inf  # the host is stopping (or the spare died): no new one for now
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

    def want_spare(self, now):
        """The spare was taken: fork the next one after the reply, at the latest SPARE_DELAY_S from now."""
        self.spare_due = min(self.spare_due, now + SPARE_DELAY_S)

    def prefork_if_due(self, now):
        if now >= self.spare_due:
            self.spare_due = math.inf
            self.prefork()

    def after_reply(self, pid):
        """Skill process `pid`'s call was answered: remove its temp dir, then fork the spare if one
        is wanted (its temp dir and Landlock ruleset are made before the fork, in prepare_call)."""
        remove_call_tmp(self.cfg, pid)
        if self.spare_due != math.inf:
            self.spare_due = math.inf
            self.prefork()

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
            if slot is not None:
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
        if slot is not None:
            self.slots.bind(pid, slot)
        os.close(out_w)
        os.close(result_w)
        return pid, out_r, result_r
