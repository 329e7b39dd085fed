"""What runs inside a skill process: a fresh fork of the host, confined before the skill runs."""

import ctypes
import json
import os
import resource
import signal
import sys

from .confinement import confine_call, rule_fds
from .log import limit_name, warn
from .seccomp import refuse_clone3
from .wire import describe_exception, write_frame

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - every Linux libc loads
    _libc = None


def prctl(option, value):
    if _libc is not None and _libc.prctl(option, value, 0, 0, 0) != 0:
        warn(f"prctl({option}, {value}) failed: {os.strerror(ctypes.get_errno())}")


def drop_privileges(run_as):
    if not run_as:
        return
    import pwd

    entry = pwd.getpwuid(int(run_as)) if run_as.isdigit() else pwd.getpwnam(run_as)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ["HOME"] = entry.pw_dir


def apply_limits(limits, for_host=False):
    """A skill process (or discovery) gets every limit. The warm host runs every call's bookkeeping
    in one process: no CPU limit (it lives long), and it keeps its descriptor and address-space
    limits (three descriptors and up to three output caps of buffers per running call). It only
    imports files that discovery already imported under every limit."""
    pairs = [
        (resource.RLIMIT_FSIZE, limits.get("fileBytes")),
        (resource.RLIMIT_NPROC, limits.get("processes")),
    ]
    if not for_host:
        cpu = limits.get("cpuSeconds")
        pairs.append((resource.RLIMIT_CPU, cpu and (cpu, cpu + 1)))
        pairs.append((resource.RLIMIT_NOFILE, limits.get("openFiles")))
        pairs.append((resource.RLIMIT_AS, limits.get("asBytes")))
    for which, value in pairs:
        if not value:
            continue
        soft, hard = value if isinstance(value, tuple) else (value, value)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as err:
            warn(f"setrlimit({limit_name(which)}, {(soft, hard)}) failed, the limit is not applied: {err}")
    if not for_host:
        # A crashing skill must not drop a core file (memory, maybe secrets) into the workspace.
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ValueError, OSError) as err:
            warn(f"setrlimit(RLIMIT_CORE, 0) failed, a crash may write a core file: {err}")


def confine(host_pid, out_w, result_w, cfg, keep=()):
    """Own session and group, dies with the host, stdio into the host's pipe, nothing else open
    (but the result pipe and `keep`)."""
    # The host's SIGCHLD wake-up pipe is about to be closed here; the skill's own children must not
    # write into whatever file later takes that descriptor number.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.setsid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != host_pid:
        os._exit(1)  # the host died before the death signal was armed: nobody would stop us
    # Orphans of the skill's own children stay in its subtree while it runs, so the host never
    # mistakes them for leftovers of another call; once it exits they come to the host and die.
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    # Only stdio and the result pipe: not the listener, not another call's channel or pipes (and
    # the host's Landlock rule descriptors, which confine_call closes once it applied them).
    close_all_but(result_w, *keep, *rule_fds())
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    apply_limits(cfg["limits"])
    refuse_clone3()  # no child of this call born in another cgroup (seccomp.py)
    # The call's own Landlock domain, narrower than the host's: last, before any skill code.
    confine_call(cfg)


def close_all_but(*keep):
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


def run_skill(host_pid, func, args, out_w, result_w, cfg):
    """The body of a skill process forked for a call already received; never returns."""
    def prepare():
        confine(host_pid, out_w, result_w, cfg)
        return func, args

    _run(prepare, result_w, cfg)


def run_spare(host_pid, functions, request_r, out_w, result_w, cfg):
    """The body of a skill process forked ahead of its call: confined first, then it waits for its
    one request (the gateway's JSON line, already validated by the host); never returns."""
    def prepare():
        confine(host_pid, out_w, result_w, cfg, keep=(request_r,))
        data = bytearray()
        while chunk := os.read(request_r, 65536):
            data += chunk
        if not data:
            os._exit(0)  # the host let the spare go unused
        request = json.loads(data)
        return functions[request["skill"]], request.get("args") or {}

    _run(prepare, result_w, cfg)


def _run(prepare, result_w, cfg):
    code = 1
    try:
        func, args = prepare()
        value = func(**args)
        result = {"ok": True, "value": render_value(value, cfg["maxOutputBytes"])}
        code = 0
    except BaseException as err:
        result = {"ok": False, "error": describe_exception(err), "trace": _trace()}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    write_frame(result_w, result)
    os._exit(code)


def _trace():
    """The failed skill's traceback. Imported here, only when a skill failed (a warm host has it
    loaded already: host.py); the import itself can fail (a skill that used up its descriptors
    under RLIMIT_NOFILE): then the error goes without its trace."""
    try:
        import traceback

        return traceback.format_exc()[-8000:]
    except Exception:
        return ""


def render_value(value, cap):
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    data = text.encode("utf-8", "replace")
    if len(data) <= cap:
        return {"text": text, "truncated": False}
    return {"text": data[:cap].decode("utf-8", "ignore"), "truncated": True}
