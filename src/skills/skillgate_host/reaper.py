"""Ending what a call left behind. The host is a child subreaper, so every orphan of a finished call
becomes its child; these helpers kill such leftovers and reap them. A running call's skill process
(a "leader") is never reaped here: its call reaps it, after killing its group."""

import os
import signal
import time

KILL_ROUNDS = 100  # a fork bomb may add members while we kill: bounded, 5 ms apart
STRAY_ROUNDS = 20


def leader_exited(pid):
    """True once `pid` (our child) has exited; leaves it a zombie, so its pid, and with it the
    process group id, cannot be reused while we kill the group."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def kill_group(pgid, keep):
    """SIGKILL the group until it is empty (its leader already reaped). Members that were
    reparented to us stay in the group as zombies until reaped, so reap between rounds."""
    for _ in range(KILL_ROUNDS):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        reap_strays(keep)
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.005)


def kill_strays(keep):
    """Kills and reaps every child of ours whose pid is not in `keep` (the running calls' skill
    processes): orphans, reparented to us, of calls that have ended."""
    for _ in range(STRAY_ROUNDS):
        alive = reap_strays(keep)
        if not alive:
            return
        sigkill_each(alive)
        time.sleep(0.005)


def sigkill_each(pids):
    """SIGKILL each pid; one that is already gone (or not ours to signal) is skipped."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def reap_strays(keep):
    """Reaps the children not in `keep` that have exited; returns those still alive."""
    alive = []
    for pid in list_children():
        if pid in keep:
            continue
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if waited == 0:
            alive.append(pid)
    return alive


def list_children():
    tid = os.getpid()  # single-threaded: the main thread's tid is the pid
    try:
        fd = os.open(f"/proc/{tid}/task/{tid}/children", os.O_RDONLY)
    except OSError:
        return []
    try:
        data = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return [int(p) for p in data.split()]
