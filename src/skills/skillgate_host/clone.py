"""fork() with the child born inside a cgroup2 folder: clone3(CLONE_INTO_CGROUP) through ctypes.

Why: moving a process into a cgroup afterwards (a write to cgroup.procs) takes the kernel's global
cgroup_threadgroup_rwsem for writing, and its first writer after a quiet spell waits for an RCU
grace period (5 to 25 ms measured here), on the critical path of every cold call. A child created
inside the cgroup needs no move (Linux >= 5.7; the fork path takes that lock for reading only).

This is os.fork() as CPython does it (the audit event, PyOS_BeforeFork / PyOS_AfterFork_*, all with
the GIL held: libc's syscall() is called through PyDLL, which keeps it) with clone3 in place of
glibc's fork(). What glibc's fork() would add is only needed by a process with other threads
(arena and stdio locks another thread may hold) and by pthread_atfork handlers of loaded C
libraries; so a process with more than one thread always takes os.fork(), and the caller then
joins the cgroup by writing cgroup.procs. Also skipped: glibc's own resets in the child (its
thread descriptor keeps the parent's tid, which raise() and pthread_kill() on oneself do not use
since glibc 2.34; glibc 2.36's arc4random buffer, which nothing in the host uses). OpenSSL 3
notices a fork by its pid, not by an atfork handler. Python's own fork hooks (random's reseed,
threading) run as with os.fork().
"""

import ctypes
import errno as errnos
import os
import signal
import sys

SYS_CLONE3 = 435  # same on x86-64 and arm64
CLONE_INTO_CGROUP = 0x200000000
CLONE_PARENT = 0x8000

_pylibc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the GIL stays held across the call
_pylibc.syscall.restype = ctypes.c_long
_api = ctypes.pythonapi
_refused = False  # the kernel said no once (too old, seccomp, no permission): fork() from then on


class CloneArgs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
        "set_tid", "set_tid_size", "cgroup",
    )]


# Made once, not per fork: every page the host writes between two forks is copied (the spare
# still shares it), so a fork that allocates nothing also costs the next call fewer page copies.
# Only `flags` and `cgroup` change from one fork to the next (the kernel reads the block, never writes it).
_ARGS = CloneArgs(flags=CLONE_INTO_CGROUP, exit_signal=signal.SIGCHLD)
_CALL = (_pylibc.syscall, ctypes.c_long(SYS_CLONE3), ctypes.byref(_ARGS), ctypes.c_size_t(ctypes.sizeof(_ARGS)))
_BEFORE, _AFTER_CHILD, _AFTER_PARENT = _api.PyOS_BeforeFork, _api.PyOS_AfterFork_Child, _api.PyOS_AfterFork_Parent


def fork_into_cgroup(cgroup_fd):
    """(pid, born_inside): like os.fork(), the child already in the cgroup2 folder `cgroup_fd` when
    that is possible here; else a plain os.fork() and born_inside False."""
    global _refused
    if cgroup_fd is None or _refused or not _single_threaded():
        return os.fork(), False
    pid, err = _clone3(CLONE_INTO_CGROUP, cgroup_fd)
    if pid >= 0:
        return pid, True
    if err in (errnos.EAGAIN, errnos.ENOMEM):  # out of processes or memory, as os.fork() says
        raise OSError(err, os.strerror(err))
    _refused = True  # ENOSYS, EPERM, EACCES, EINVAL, EBUSY...: this kernel or sandbox says no
    return os.fork(), False


def fork_sibling(cgroup_fd):
    """(pid, born_inside): a fork whose child is our parent's child (CLONE_PARENT: the zygote forks
    the host's skill processes), inside the cgroup2 folder `cgroup_fd` when the kernel lets us.
    OSError when clone3 is not available here: there is no plain fork() that does this."""
    if cgroup_fd is not None and not _refused:
        pid, err = _clone3(CLONE_PARENT | CLONE_INTO_CGROUP, cgroup_fd)
        if pid >= 0:
            return pid, True
        if err in (errnos.EAGAIN, errnos.ENOMEM):
            raise OSError(err, os.strerror(err))
    pid, err = _clone3(CLONE_PARENT, 0)
    if pid < 0:
        raise OSError(err, os.strerror(err))
    return pid, False


def _clone3(flags, cgroup_fd):
    """(pid, errno): clone3 with os.fork()'s hooks around it; pid 0 in the child, -1 on failure."""
    sys.audit("os.fork")
    _ARGS.flags = flags
    # With CLONE_PARENT the kernel wants no exit signal: the child gets ours (SIGCHLD) for our parent.
    _ARGS.exit_signal = 0 if flags & CLONE_PARENT else signal.SIGCHLD
    _ARGS.cgroup = cgroup_fd
    syscall, number, args, size = _CALL
    _BEFORE()
    pid = syscall(number, args, size)
    if pid == 0:
        _AFTER_CHILD()
        return 0, 0
    err = ctypes.get_errno()
    _AFTER_PARENT()
    return (pid, 0) if pid > 0 else (-1, err)


def _single_threaded():
    """One thread in this process (procfs counts a process's threads in its task folder's links)."""
    try:
        return os.stat("/proc/self/task").st_nlink == 3
    except OSError:
        return False
