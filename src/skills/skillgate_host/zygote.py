"""The warm host's zygote: a child of the host that does nothing but fork the host's spares.

Why: every page a process writes after a fork is copied while the child still shares it. A host
that forks its own spares writes some 320 pages per call afterwards (its call bookkeeping), each
one copied, on the call's critical path (docs/performance.md). The zygote, forked once when the
host starts serving, writes a few pages per fork, and the host, which no longer forks, none.

Each spare is forked with CLONE_PARENT, so it is the host's child, exactly like a spare the host
forks itself: the host reaps it, its pdeathsig is armed against the host, and it goes through the
same steps (its cgroup slot first, then run_spare: confined, then it waits for its request). The
host hands over, per spare, over a SOCK_SEQPACKET pair: the slot's index and the call's temp dir,
with the spare's pipe ends and its Landlock ruleset as descriptors (SCM_RIGHTS); the reply is the
spare's pid. The zygote keeps nothing of a spare: it closes what it was handed once it forked.
"""

import gc
import json
import os
import signal
import socket

from .clone import fork_sibling
from .confinement import forget_shared_rules, hand_over
from .skill_process import PR_SET_PDEATHSIG, close_all_but, prctl, run_spare

PR_SET_NAME = 15
NAME = b"skillgate-zygote"  # its /proc/<pid>/comm, to tell it from the host's skill processes
MAX_FDS = 4  # the spare's request read end, stdout and result write ends, its ruleset
REPLY_TIMEOUT_S = 5.0  # a fork takes well under a millisecond; a zygote this late is given up


class Zygote:
    """The host's handle on its zygote."""

    def __init__(self, host_pid, functions, cfg, slots):
        with open("/proc/self/comm", "rb") as f:  # the zygote's own /proc folder is out of its reach
            host_name = f.read().strip()
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.sock.close()
                _serve(host_pid, functions, cfg, slots, theirs, host_name)
            finally:
                os._exit(1)
        theirs.close()
        self.sock.settimeout(REPLY_TIMEOUT_S)

    def order(self, slot_index, prepared, fds):
        """Asks for a spare; False when the zygote is gone."""
        tmp, ruleset = prepared if prepared is not None else (None, None)
        message = json.dumps({"slot": slot_index, "tmp": tmp}).encode()
        try:
            socket.send_fds(self.sock, [message], [*fds, *([ruleset] if ruleset is not None else [])])
        except OSError:
            return False
        return True

    def collect(self):
        """The pid of the spare last ordered (waits for it: a fork, well under a millisecond), or
        None when the zygote could not fork it or is gone."""
        try:
            reply = json.loads(self.sock.recv(4096) or b"{}")
        except (OSError, ValueError):
            return None
        return reply.get("pid")

    def close(self):
        """Ends and reaps the zygote. A spare it forked but never reported is our child all the
        same: not kept, so the host's stray killer ends it, and its slot is emptied when reused."""
        self.sock.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _serve(host_pid, functions, cfg, slots, sock, host_name):
    signal.set_wakeup_fd(-1)  # the host's wake-up pipe is the host's alone
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != host_pid:
        os._exit(0)  # the host died before the death signal was armed
    prctl(PR_SET_NAME, NAME)
    # Not the listener nor any call's channel: only what a spare needs before it confines itself.
    close_all_but(sock.fileno(), *(slots.descriptors() if slots is not None else ()))
    forget_shared_rules()  # closed just now; each spare's ruleset comes from the host
    gc.disable()  # a collection would write to (and so copy) pages the spares share with us
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 4096, MAX_FDS)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)  # the host stopped serving
        order = json.loads(message)
        try:
            reply = _fork_spare(host_pid, functions, cfg, slots, order, fds, host_name)
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(json.dumps(reply).encode())


def _fork_spare(host_pid, functions, cfg, slots, order, fds, host_name):
    request_r, out_w, result_w, *ruleset = fds
    slot = slots.all[order["slot"]] if order["slot"] is not None else None
    with hand_over(order["tmp"], ruleset[0] if ruleset else None):
        try:
            pid, born_inside = fork_sibling(slot.dir_fd if slot is not None else None)
        except OSError as err:
            return {"error": str(err)}
        if pid == 0:
            try:
                if slot is not None:
                    slot.enter(born_inside)  # first: the whole call, its limits and its end, in one cgroup
                prctl(PR_SET_NAME, host_name)  # a skill process like any other, also in ps
                gc.enable()  # the skill's own objects are collected as in any skill process
                run_spare(host_pid, functions, request_r, out_w, result_w, cfg)
            finally:
                os._exit(1)
    return {"pid": pid}
