"""Per-call cgroups, through descriptors the gateway opened and handed over.

The gateway (src/skills/cgroups.ts, unconfined) creates the slot cgroups, sets their limits and
passes this host, as inherited descriptors, per slot: each cgroup v1 hierarchy's `tasks` and the
cgroup2 folder and its cgroup.procs (write, see below), one cgroup.procs to read (who is still in
it) and the memory controller's event file (OOM kills). The host never opens a cgroup path
itself: it is confined (Landlock, bwrap) before any skill code runs and could not reach
/sys/fs/cgroup by name.
Writes through these descriptors are checked against the opener's credentials, so a host or skill
process that dropped to SKILL_RUN_AS can still join its slot.

A skill process is in its slot before it runs anything of its own, and then closes every
descriptor but its pipes, so it cannot move itself out. When its call ends the host kills what
is in the slot, round by round until it is empty, which ends the call's whole tree whatever it
did (setsid, double fork). Not with cgroup.kill: see killSlot in src/skills/cgroup-fs.ts.

How it gets there is what a call's latency is made of. Moving a whole process (writing to
cgroup.procs) takes the kernel's global cgroup_threadgroup_rwsem for writing, whose first writer
waits for an RCU grace period: 5 to 25 ms on this 2-core machine whenever the previous move was
more than a grace period ago, i.e. on every cold call. So the cgroup2 slot is entered at birth,
clone3(CLONE_INTO_CGROUP) (see clone.py), and each cgroup v1 slot by writing "0" to its `tasks`
file, which moves the calling thread only and skips that lock (the process has one thread right
after fork). Writing cgroup.procs remains the fallback when clone3 is not available.
"""

import os
import time

from .clone import fork_into_cgroup
from .reaper import sigkill_each

KILL_ROUNDS = 100  # a fork bomb may add members while we kill: bounded, 5 ms apart


class Slot:
    __slots__ = ("threads", "dir_fd", "procs_fd", "list_fd", "oom_fd", "oom_seen", "emptied")

    def __init__(self, spec):
        self.threads = list(spec["threads"])
        self.dir_fd = spec.get("dir")
        self.procs_fd = spec.get("procs")
        self.list_fd = spec["list"]
        self.oom_fd = spec.get("oom")
        self.oom_seen = 0
        self.emptied = False  # seen empty by end(), and nothing can enter a free slot: no recheck

    def fork(self):
        """Forks a process that is in this slot's cgroup2 folder from birth when the kernel lets us;
        (pid, born_inside), pid 0 in the child, which must call enter(born_inside) next."""
        return fork_into_cgroup(self.dir_fd)

    def enter(self, born_inside=False):
        """In the forked child, first thing: join the slot in every hierarchy, or die. A skill
        process outside its cgroup would escape the call's limits and its end."""
        try:
            for fd in self.threads:
                os.write(fd, b"0")
            if not born_inside and self.procs_fd is not None:
                os.write(self.procs_fd, b"0")
        except OSError as err:
            os.write(2, f"skillgate: could not join the call's cgroup: {err}\n".encode())
            os._exit(70)

    def members(self):
        try:
            return [int(p) for p in os.pread(self.list_fd, 1 << 20, 0).split()]
        except OSError:
            return []

    def kill(self):
        """SIGKILL everything in the slot until it is empty (bounded)."""
        for _ in range(KILL_ROUNDS):
            pids = self.members()
            if not pids:
                return True
            sigkill_each(pids)
            time.sleep(0.005)
        return not self.members()

    def oom_kills(self):
        """The slot's OOM-kill count (v2 memory.events, v1 memory.oom_control: "oom_kill N")."""
        if self.oom_fd is None:
            return 0
        try:
            text = os.pread(self.oom_fd, 4096, 0).decode("ascii", "replace")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0


class Slots:
    """The host's slots: one per process that may run at once (calls and the spare)."""

    def __init__(self, config):
        self.memory_mb = config.get("memoryMb")
        self.all = [Slot(spec) for spec in config["slots"]]
        self.free = list(self.all)
        self.used = {}  # pid -> Slot

    def descriptors(self):
        """Every slot descriptor (what a process that forks into the slots must keep open)."""
        fds = []
        for slot in self.all:
            fds += slot.threads
            fds += [fd for fd in (slot.dir_fd, slot.procs_fd, slot.list_fd, slot.oom_fd) if fd is not None]
        return fds

    def take(self):
        """A free, empty slot, or OSError: without one a skill process would run unbounded."""
        for slot in self.free:
            if slot.emptied or not slot.members() or slot.kill():
                self.free.remove(slot)
                if not slot.emptied:
                    slot.oom_seen = slot.oom_kills()
                slot.emptied = False
                return slot
        raise OSError("no free per-call cgroup (every slot is busy or cannot be emptied)")

    def bind(self, pid, slot):
        self.used[pid] = slot

    def put_back(self, slot):
        self.free.append(slot)

    def end(self, pid):
        """The call of skill process `pid` is over: kill what is left in its slot and free it.
        True when the memory controller killed something of this call (it hit the limit)."""
        slot = self.used.pop(pid, None)
        if slot is None:
            return False
        slot.emptied = slot.kill()
        kills = slot.oom_kills()
        oom, slot.oom_seen = kills > slot.oom_seen, kills
        self.free.append(slot)
        return oom


def slots_from(cfg):
    """The host's Slots, or None when the gateway runs without per-call cgroups. With cgroups on but
    no slot lent (the gateway could not make one), every fork is refused: fail closed."""
    config = cfg.get("cgroups")
    return Slots(config) if config is not None else None
