"""skillgate's Python side: skill discovery, the warm fork-per-call host, and cold calls.

Standard library only; the pieces live in the skillgate_host package next to this file. Started by
src/skills/*.ts, never by hand:

  host.py discover CONFIG_JSON   import every skill file (each in a forked child of its own), print
                                 the registry as one JSON line
  host.py serve    CONFIG_JSON   warm host: bind the socket, import the skills once
                                 (but CONFIG_JSON's "exclude" files; {"t": "importing", "file": F}
                                 on stdout before each, F null after the last), write
                                 {"t": "ready", ...}, then one fresh skill process per connection
                                 (a spare is forked ahead of its call, by the host's zygote:
                                 skillgate_host/spawner.py, zygote.py)
  host.py call     CONFIG_JSON   cold: one request on stdin, frames on stdout

CONFIG_JSON is a HostConfig (skillgate_host/config.py); the frames each mode writes and reads are
described in one place, skillgate_host/wire.py (src/skills/frames.ts on the gateway's side).

The skill process is a direct child of the host, in a session and process group of its own with
resource limits. The host collects its output, caps it, kills the whole group on request, at the
deadline or when it exits, and kills every orphan it left (the host is a child subreaper), so
nothing the skill started outlives the call; "done" is written only after that.
"""

import gc
import importlib
import json
import os
import sys

# The package sits next to this file; say so explicitly, in case Python runs with -P / safe path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from skillgate_host.site_paths import add_site_packages  # noqa: E402 (the path above comes first)

if sys.flags.no_site:  # started with -S, as the gateway does: see skillgate_host/site_paths.py
    add_site_packages()

from skillgate_host.cgroup import slots_from  # noqa: E402
from skillgate_host.config import HostConfig  # noqa: E402
# Skill files import the shipped decorator; importing it here, before SKILL_RUN_AS drops our
# privileges, serves their import from sys.modules even when the checkout is not readable by that
# user (a clone under a 0700 home folder).
from skillgate_host import decorator as _preloaded_decorator  # noqa: E402,F401
from skillgate_host.confinement import confine_call, confine_host, probe, remove_call_tmp  # noqa: E402
from skillgate_host.discovery import find_functions, import_one_file, import_skill_files  # noqa: E402
from skillgate_host.isolation import discover_isolated  # noqa: E402
from skillgate_host.seccomp import refuse_clone3  # noqa: E402
from skillgate_host.skill_process import apply_limits, drop_privileges  # noqa: E402
from skillgate_host.supervisor import MAX_REQUEST_BYTES, Supervisor  # noqa: E402
from skillgate_host.wire import error_done, importing_frame, parse_request, ready_frame, registry_frame, write_frame  # noqa: E402

REAL_STDOUT = 1


def mode_discover(cfg):
    apply_limits(cfg.limits)
    slots = slots_from(cfg)  # the cgroup descriptors were opened by the gateway: usable after confine
    confine_host(cfg)
    # Each file in a child of its own: one that kills Python on import costs only itself. Each
    # child joins its cgroup slot, then confines itself again, like a call, before the file's
    # top-level code runs.
    entries, errors, warnings, files = discover_isolated(
        cfg.dir, cfg.import_timeout_ms / 1000, slots, lambda: confine_import_child(cfg), lambda pid: remove_call_tmp(cfg, pid)
    )
    # Keep our real stdout for the registry; skill files may print while being imported.
    write_frame(REAL_STDOUT, registry_frame(entries, errors, warnings, files))


def confine_import_child(cfg):
    """Discovery's import child, before the file's top-level code runs: like a call's process."""
    refuse_clone3()
    confine_call(cfg)


def mode_call(cfg):
    try:
        request = read_request(0)
    except (ValueError, OSError) as err:
        write_frame(REAL_STDOUT, error_done(f"bad request: {err}"))
        return
    file = request.get("file")
    confine_host(cfg)
    modules, errors = import_one_file(cfg.dir, file, cfg.import_timeout_ms / 1000)
    if errors:
        write_frame(REAL_STDOUT, error_done(f"{file}: {errors[0]['error']}"))
        return
    functions = find_functions(modules)
    func = functions.get(request.get("skill"))
    args = request.get("args") or {}
    if func is None or not isinstance(args, dict):
        write_frame(REAL_STDOUT, error_done(f"skill {request.get('skill')!r} not found in {file}"))
        return
    Supervisor(functions, cfg).run_one(func, args, 0, REAL_STDOUT)


def read_request(fd):
    buf = bytearray()
    while b"\n" not in buf and len(buf) < MAX_REQUEST_BYTES:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
    return parse_request(bytes(buf).split(b"\n", 1)[0])


def mode_serve(cfg):
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(cfg.socket)
    listener.listen(128)
    drop_privileges(cfg.run_as)
    apply_limits(cfg.limits, for_host=True)
    confine_host(cfg)  # before the first skill file is imported
    # Discovery imported each file in a child of its own; we import them all in this process. If
    # one still kills us (it behaves differently here), the gateway knows which from the last
    # "importing" frame and restarts us without it.
    modules, errors = import_skill_files(
        cfg.dir,
        cfg.import_timeout_ms / 1000,
        exclude=set(cfg.exclude),
        before_each=lambda file: write_frame(REAL_STDOUT, importing_frame(file)),
    )
    write_frame(REAL_STDOUT, importing_frame(None))
    functions = find_functions(modules)
    # Forked children share the host's pages copy-on-write; keep the collector off them.
    gc.freeze()
    supervisor = Supervisor(functions, cfg)
    write_frame(REAL_STDOUT, ready_frame(os.getpid(), list(functions), errors))
    supervisor.serve(listener, 0)


# Modules the host package imports where it first needs them, not at start: a cold call would
# pay for each at every start (inspect and typing alone, some 5 ms), mostly for nothing.
LATER = ("inspect", "typing", "shutil", "traceback")
# What the warm host uses, loaded once for every skill process forked from it.
WARM = ("socket", "shutil", "traceback", "skillgate_host.zygote")


def preload(mode, run_as):
    """Imports now what `mode` would import later. Once SKILL_RUN_AS dropped our privileges the
    interpreter's own files may be out of reach (a pyenv under /root, a checkout under a 0700
    home): a host that drops them loads everything it may need first."""
    names = WARM if mode == "serve" else ()
    if run_as or mode == "discover":
        names += LATER
    for name in names:
        importlib.import_module(name)


def main():
    global REAL_STDOUT
    mode = sys.argv[1]
    if mode == "probe":
        write_frame(1, probe())
        return
    cfg = HostConfig.from_json(json.loads(sys.argv[2]))
    preload(mode, cfg.run_as)
    # Skill code may print at import time; frames go to a private copy of the original stdout.
    REAL_STDOUT = os.dup(1)
    os.dup2(2, 1)
    os.chdir(cfg.workspace)
    if mode != "serve":
        drop_privileges(cfg.run_as)
    {"discover": mode_discover, "call": mode_call, "serve": mode_serve}[mode](cfg)


if __name__ == "__main__":
    main()
