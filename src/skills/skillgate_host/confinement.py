"""Which paths a confined process may touch, and applying that with Landlock.

Two domains, the second nested in the first (it can only narrow):
  host      the warm host, the cold host, discovery: set before any skill file is imported
  call      every skill process, right after fork (after the cgroup, before any skill code)
Both grant the same system paths read-only and the workspace read-write; the host also has the
private temp root (it makes each call's temp dir there), a call only its own temp dir. TCP is
denied to both unless the call is of a `network` skill (those run cold, in a host whose domain
leaves TCP alone: a warm host imports every file, so its domain must deny TCP).

The seed's layout puts the gateway's folder inside the workspace. Landlock rules are hierarchical
and only grant, so the workspace is granted around it: along the path from the workspace down to
each protected path, every directory gets only READ_DIR (listing, which Landlock applies to the
whole tree below it: names inside the gateway's folder stay listable, contents do not), each
entry beside the path gets full rights, and the protected path itself gets nothing.
"""

import contextlib
import os
import stat
import sys

from . import landlock

SYSTEM_READ = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/sys/devices/system/cpu")
# Not /proc: Landlock's ptrace rule closes /proc/<pid>/mem of processes outside the domain, but
# not /proc/<pid>/environ (PTRACE_MODE_READ passes on this kernel, measured). So only the
# process's own /proc/<pid> (inherited by nothing: a child's /proc/self is another directory)
# and the system-wide files skills read for status.
PROC_FILES = ("/proc/loadavg", "/proc/meminfo", "/proc/uptime", "/proc/stat", "/proc/cpuinfo", "/proc/version", "/proc/filesystems")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
DEVICE_RIGHTS = landlock.READ_FILE | landlock.WRITE_FILE | landlock.IOCTL_DEV


def workspace_grants(workspace, protected):
    """[(path, rights)] for the workspace with every `protected` path (absolute, real) left out."""
    workspace = os.path.realpath(workspace)
    protected = [os.path.realpath(p) for p in protected]
    inside = [p for p in protected if p == workspace or p.startswith(workspace + os.sep)]
    if not inside:
        return [(workspace, landlock.FULL)]
    if workspace in inside:
        return []  # the whole workspace is the gateway's folder: nothing of it is granted
    on_path = set()  # directories between the workspace and a protected path
    for p in inside:
        parent = os.path.dirname(p)
        while parent != workspace and parent.startswith(workspace):
            on_path.add(parent)
            parent = os.path.dirname(parent)
    on_path.add(workspace)
    grants = []
    excluded = set(inside)
    for directory in sorted(on_path):
        grants.append((directory, landlock.LIST))
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            child = os.path.join(directory, name)
            if child not in excluded and child not in on_path:
                grants.append((child, landlock.FULL))
    return grants


def read_only_paths(cfg):
    exe = os.path.realpath(sys.executable)
    paths = [*SYSTEM_READ, sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(exe))]
    paths += [cfg["dir"], os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    paths += cfg["confine"].get("readOnly") or []
    return paths + list(PROC_FILES)


def shared_grants(cfg):
    """What the host and each call both get: everything but the temp dirs and /proc/<own pid>."""
    confine = cfg["confine"]
    grants = [(p, landlock.READ) for p in read_only_paths(cfg)]
    grants += [(d, DEVICE_RIGHTS) for d in DEVICES]
    grants += workspace_grants(cfg["workspace"], confine.get("protected") or [])
    return grants


def active(cfg):
    confine = cfg.get("confine")
    return bool(confine and confine.get("kind") == "landlock")


# A call's domain is built by the host, before it forks the call's skill process: the shared
# grants are opened (O_PATH) once, when the host confines itself, and each fork gets a ruleset of
# those plus its own temp dir. The child then only applies it (one system call): building it
# there cost 0.3 ms of CPU per call (ctypes in a fresh fork touches, and copies, many pages).
# Listing the workspace once is no loss: the host's own domain, taken at the same moment, already
# bounds every call to those entries (a reload starts a new host). A call gets no /proc/<pid>:
# its domain is nested in the host's, which never granted that folder (it did not exist yet).
_shared_rules = None
_prepared = None  # (temp dir, ruleset descriptor) for the process about to be forked
_call_dirs = {}  # skill process pid -> (its temp dir, ruleset), until the host removes the dir
_clean_dirs = []  # (temp dir, ruleset) of answered calls whose dir is as new: empty, 0700, ours, no xattrs
_made = 0


def prepare_call(cfg):
    """Host, ahead of forking a skill process: its temp dir and its domain's ruleset (once)."""
    global _prepared, _made
    if not active(cfg) or _shared_rules is None or _prepared is not None:
        return
    if _clean_dirs:
        # mkdir and rmdir cost 90 us per call on ext4, the ruleset 40 us: both serve again
        _prepared = _clean_dirs.pop()
        return
    confine = cfg["confine"]
    _made += 1
    tmp = os.path.join(confine["tmpRoot"], f"call-{os.getpid()}-{_made}")
    os.mkdir(tmp, 0o700)
    try:
        own = landlock.open_rules([(tmp, landlock.FULL)], confine["abi"])
        try:
            fd = landlock.ruleset(_shared_rules + own, confine["abi"], deny_tcp=not confine.get("network"))
        finally:
            landlock.close_rules(own)
    except BaseException:
        os.rmdir(tmp)
        raise
    _prepared = (tmp, fd)


def prepared():
    """(temp dir, ruleset descriptor) that prepare_call() made for the next skill process, or None."""
    return _prepared


@contextlib.contextmanager
def hand_over(tmp, ruleset_fd):
    """The zygote: what the host prepared for the spare about to be forked, as if prepared here."""
    global _prepared
    _prepared = (tmp, ruleset_fd) if ruleset_fd is not None else None
    try:
        yield
    finally:
        _prepared = None


def forget_shared_rules():
    """The zygote closed the shared rule descriptors: a spare it forks gets its ruleset whole."""
    global _shared_rules
    _shared_rules = None


def forked(cfg, pid):
    """Host, after the fork (pid None: it failed, and nobody used what was prepared)."""
    global _prepared
    prepared, _prepared = _prepared, None
    if prepared is None:
        return
    if pid is None:
        _clean_dirs.append(prepared)
    else:
        _call_dirs[pid] = prepared


def rule_fds():
    """Descriptors a forked skill process must keep open until confine_call()."""
    if _prepared is not None:
        return (_prepared[1],)
    return tuple(fd for fd, _ in _shared_rules or ())


def confine_host(cfg):
    """The host's domain; a no-op without SKILL_SANDBOX landlock."""
    global _shared_rules
    if not active(cfg):
        return
    confine = cfg["confine"]
    os.makedirs(confine["tmpRoot"], mode=0o700, exist_ok=True)
    # The host's own temp dir (a warm host imports every file: their top-level code may use one).
    tmp = os.path.join(confine["tmpRoot"], f"host-{os.getpid()}")
    os.makedirs(tmp, mode=0o700, exist_ok=True)
    _use_tmp(tmp)
    _shared_rules = landlock.open_rules(shared_grants(cfg), confine["abi"])
    own = landlock.open_rules([(confine["tmpRoot"], landlock.FULL), (f"/proc/{os.getpid()}", landlock.READ)], confine["abi"])
    try:
        landlock.restrict(_shared_rules + own, confine["abi"], deny_tcp=not confine.get("network"))
    finally:
        landlock.close_rules(own)


def confine_call(cfg):
    """A skill process's own domain with a private temp dir (TMPDIR); called right after fork,
    with what prepare_call() made, or built here (discovery's import children)."""
    global _shared_rules, _prepared
    if not active(cfg):
        return
    if _prepared is not None:
        # The shared descriptors went with the others (skill_process.confine kept only the ruleset).
        (tmp, fd), _prepared, _shared_rules = _prepared, None, None
    else:
        tmp = call_tmp(cfg, os.getpid())
        os.mkdir(tmp, 0o700)
        shared, _shared_rules = _shared_rules or [], None
        own = landlock.open_rules([(tmp, landlock.FULL)], cfg["confine"]["abi"])
        try:
            fd = landlock.ruleset(shared + own, cfg["confine"]["abi"], deny_tcp=not cfg["confine"].get("network"))
        finally:
            landlock.close_rules(own + shared)
    _use_tmp(tmp)
    try:
        landlock.restrict_self(fd, no_new_privs=False)  # inherited from the host, already confined
    finally:
        os.close(fd)


def _use_tmp(tmp):
    for key in ("TMPDIR", "TMP", "TEMP"):
        os.environ[key] = tmp
    # tempfile caches its folder on first use; not imported yet, it reads TMPDIR when it is.
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        setattr(tempfile, "tempdir", None)


def call_tmp(cfg, pid):
    return os.path.join(cfg["confine"]["tmpRoot"], f"call-{pid}")


def remove_call_tmp(cfg, pid):
    """The host removes a call's temp dir once the call's whole group is gone (after its reply:
    no other call can reach the folder meanwhile, its domain grants only its own)."""
    if not active(cfg):
        return
    import shutil  # here, after the reply: a cold call does not pay for the import before it

    entry = _call_dirs.pop(pid, None)
    if entry is None:
        shutil.rmtree(call_tmp(cfg, pid), ignore_errors=True)
    elif _as_new(entry[0]):
        _clean_dirs.append(entry)  # most calls leave it untouched: a later call gets it and its ruleset
    else:
        os.close(entry[1])
        shutil.rmtree(entry[0], ignore_errors=True)


def _as_new(tmp):
    """Nothing of a call can be found in its temp dir: a folder of ours, mode 0700, empty, no
    extended attributes (nor ACLs). Checked once the call's whole tree is gone."""
    try:
        st = os.lstat(tmp)
        return (stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
                and not os.listdir(tmp) and not os.listxattr(tmp, follow_symlinks=False))
    except OSError:
        return False


def probe():
    """{"abi": N} for the gateway's start-up check."""
    return {"abi": landlock.abi_version()}
