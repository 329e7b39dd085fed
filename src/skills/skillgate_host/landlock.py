"""Landlock from Python with ctypes (no PyPI): the kernel's unprivileged, stackable sandbox.

A Landlock domain only grants: once a process restricts itself, every filesystem access of a
handled kind needs a rule on the path or one of its parents, TCP bind/connect (ABI >= 4) needs a
port rule (we add none: all denied) and, with scoping (ABI >= 6), the process can neither signal
nor connect to an abstract unix socket of a process outside its domain. Domains nest: a child
restricts itself again and gets the intersection. Landlock also forbids ptrace (and so reading
/proc/<pid>/environ|mem) of any process outside the caller's domain.

What each ABI adds (the kernel ignores rights it does not know, so we ask only for those it has):
  1 (5.13)  filesystem: execute, read/write files, read dirs, remove, make every kind of node
  2 (5.19)  REFER: rename/link across directories (denied by any ABI-1 domain)
  3 (6.2)   TRUNCATE
  4 (6.7)   TCP bind and connect
  5 (6.10)  IOCTL_DEV: ioctl on device files
  6 (6.12)  scoping: signals and abstract unix sockets stop at the domain's edge
  7 (6.15)  audit logging flags (nothing more to enforce)
"""

import ctypes
import os
import stat

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # same on x86-64 and arm64
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a file may carry
READ = EXECUTE | READ_FILE | READ_DIR
LIST = READ_DIR
FULL = (1 << 16) - 1 & ~(MAKE_CHAR | MAKE_BLOCK)  # device nodes: never

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class LandlockError(OSError):
    pass


def abi_version():
    """The kernel's Landlock ABI, 0 when it has none (too old, or not in the LSM list)."""
    v = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(v), 0)


def enforced(abi, network):
    """What a domain enforces at this ABI: the words the start log and /readyz use."""
    return {
        "fs": abi >= 1,
        "refer": abi >= 2,
        "truncate": abi >= 3,
        "tcp": abi >= 4 and not network,
        "ioctl": abi >= 5,
        "scope": abi >= 6,
    }


def open_rules(grants, abi):
    """[(O_PATH descriptor, rights)] for `grants` [(path, rights)], rights cut to what the kernel
    and the kind of file allow. Paths that do not exist are skipped, a path listed twice is one
    rule. Opened once by the host and inherited: a call's process then only adds them."""
    fs_rights = FS_BY_ABI[min(abi, 5)]
    merged = {}
    for path, rights in grants:
        merged[path] = merged.get(path, 0) | rights
    rules = []
    for path, rights in merged.items():
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue  # nothing there: nothing to grant
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        allowed = rights & fs_rights & (~0 if is_dir else FILE_ONLY)
        if allowed:
            rules.append((fd, allowed))
        else:
            os.close(fd)
    return rules


def ruleset(rules, abi, deny_tcp):
    """A ruleset descriptor holding `rules` (see open_rules), for restrict_self() here or in a
    forked child: it keeps the rules, not the paths or the descriptors they came from."""
    fs_rights = FS_BY_ABI[min(abi, 5)]
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = RulesetAttr(fs_rights, NET_BIND_TCP | NET_CONNECT_TCP if deny_tcp and abi >= 4 else 0,
                       SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    fd = _syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))  # always close-on-exec
    try:
        rule = PathBeneathAttr()
        rule_ref = ctypes.byref(rule)
        for parent_fd, allowed in rules:
            rule.allowed_access = allowed
            rule.parent_fd = parent_fd
            _syscall(SYS_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(RULE_PATH_BENEATH), rule_ref, ctypes.c_uint32(0))
    except BaseException:
        os.close(fd)
        raise
    return fd


def restrict_self(ruleset_fd, no_new_privs=True):
    """Restricts this process (and everything it starts) to the ruleset. Irreversible. Raises
    LandlockError when the kernel refuses (also when no_new_privs=False but the flag is not set
    yet: a process below a Landlock domain inherits it)."""
    if no_new_privs and _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    _syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0))


def restrict(rules, abi, deny_tcp):
    """Restricts this process to `rules` at once."""
    fd = ruleset(rules, abi, deny_tcp)
    try:
        restrict_self(fd)
    finally:
        os.close(fd)


def close_rules(rules):
    for fd, _ in rules:
        os.close(fd)


def _syscall(number, *args):
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockError(errno, f"landlock syscall {number}: {os.strerror(errno)}")
    return int(result)
