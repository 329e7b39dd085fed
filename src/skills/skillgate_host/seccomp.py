"""A seccomp filter for skill code: clone3 answers ENOSYS, so no process of a call is born in
another cgroup.

clone3(CLONE_INTO_CGROUP) takes a cgroup folder opened with O_PATH, and Landlock does not check
O_PATH opens: a skill running as root could start a child in any cgroup it may write to, outside
its call's memory and pids limits until the call ends (the host kills it then, as everything a
call leaves). clone3 is the only way in that needs no open for writing (writing cgroup.procs does,
which Landlock refuses). With ENOSYS, glibc and CPython fall back to clone() for fork, threads and
posix_spawn, as on a kernel without clone3; only CLONE_INTO_CGROUP and the other clone3-only
flags are gone. The host and the zygote, which fork skill processes with clone3, are not filtered.

Installed in every process that runs skill code (each call's process, discovery's import
children) before the code runs; inherited by whatever they start, and no process can remove it.
Best effort: a kernel or a sandbox without seccomp filters leaves the rest as it was.
"""

import ctypes
import errno
import struct

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SYS_CLONE3 = 435  # the same on every architecture (one table for calls added since Linux 5.1)
X32_SYSCALL_BIT = 0x40000000  # x86-64's x32 ABI numbers clone3 435 | this bit
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x45, 0x06


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _instruction(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


# Made once, when the host loads this module: the skill process only hands the kernel a pointer
# (what a fresh fork writes is copied, see zygote.py).
_PROGRAM = b"".join((
    _instruction(BPF_LD_W_ABS, 0, 0, 0),  # A = seccomp_data.nr
    _instruction(BPF_JEQ_K, 2, 0, SYS_CLONE3),  # clone3: refuse
    _instruction(BPF_JSET_K, 1, 0, X32_SYSCALL_BIT),  # any x32 call: refuse (clone3 among them)
    _instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    _instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
))
_BUFFER = ctypes.create_string_buffer(_PROGRAM, len(_PROGRAM))
_FPROG = SockFprog(len(_PROGRAM) // 8, ctypes.cast(_BUFFER, ctypes.c_void_p))
_libc = ctypes.CDLL(None, use_errno=True)


def refuse_clone3():
    """Installs the filter in this process; False when the kernel said no (no seccomp, or neither
    no_new_privs nor CAP_SYS_ADMIN: SKILL_SANDBOX=none as an unprivileged user)."""
    return _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(_FPROG), 0, 0) == 0
