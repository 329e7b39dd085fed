"""skillgate's Python side: skill discovery, the warm fork-per-call host, and cold calls.

Standard library only. Started by src/skills/*.ts, never by hand:

  host.py discover CONFIG_JSON   import every skill file, print the registry as one JSON line
  host.py serve    CONFIG_JSON   warm host: bind the socket, import the skills once, then fork a
                                 monitor per connection (single-threaded, selectors)
  host.py call     CONFIG_JSON   cold: one request on stdin, frames on stdout

CONFIG_JSON holds paths and limits only (never a secret, never user data). One call speaks
newline-delimited JSON on its channel (a unix socket when warm, stdin/stdout when cold):

  gateway -> host   {"skill": NAME, "args": {...}}   then, to stop it early, {"op": "kill"}
  host -> gateway   {"t": "start", "pid": SKILL_PID, "monitor": MONITOR_PID}
                    {"t": "done", "result": {...} | null, "stdout": "...", "stdout_truncated": bool,
                     "code": EXIT_CODE | null, "signal": NAME | null}

Each call runs in a child (the "skill process") of a per-call monitor. The skill process is in a
process group of its own with resource limits; the monitor collects its output, caps it, kills
the whole group on request or when it finishes, and reaps every descendant (it is a child
subreaper), so nothing the skill started outlives the call.
"""

import ctypes
import gc
import importlib.util
import inspect
import json
import os
import re
import resource
import selectors
import signal
import socket
import sys
import time
import traceback
import types
import typing

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MAX_REQUEST_BYTES = 4 * 1024 * 1024
KILL_GRACE_S = 2.0

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - every Linux libc loads
    _libc = None


def prctl(option, value):
    if _libc is not None:
        _libc.prctl(option, value, 0, 0, 0)


def write_frame(fd, obj):
    data = (json.dumps(obj, ensure_ascii=False, default=str) + "\n").encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return
        view = view[n:]


# --------------------------------------------------------------------------- discovery


class ImportTimeout(Exception):
    pass


def _raise_import_timeout(_signum, _frame):
    raise ImportTimeout("importing took too long (a loop or a blocking call at module level?)")


def import_skill_files(directory, timeout_s):
    """Imports every *.py in `directory` not starting with `_`. Returns (modules, errors)."""
    if directory not in sys.path:
        sys.path.insert(0, directory)
    modules, errors = {}, []
    try:
        files = sorted(f for f in os.listdir(directory) if f.endswith(".py") and not f.startswith("_"))
    except OSError as err:
        return modules, [{"file": directory, "error": f"cannot list the skills folder: {err}"}]
    previous = signal.signal(signal.SIGALRM, _raise_import_timeout)
    try:
        for file in files:
            stem = file[:-3]
            name = "skillgate_skill_" + re.sub(r"\W", "_", stem)
            spec = importlib.util.spec_from_file_location(name, os.path.join(directory, file))
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            try:
                spec.loader.exec_module(module)
                modules[file] = module
            except BaseException as err:  # a skill file may raise anything, even SystemExit
                sys.modules.pop(name, None)
                errors.append({"file": file, "error": describe_exception(err)})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return modules, errors


def describe_exception(err):
    if isinstance(err, SyntaxError):
        return f"SyntaxError: {err.msg} (line {err.lineno})"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def find_skills(modules):
    """Returns (functions by name, registry entries, warnings)."""
    functions, entries, warnings = {}, [], []
    owner = {}
    for file, module in modules.items():
        for attr, obj in list(vars(module).items()):
            if not callable(obj) or not getattr(obj, "is_skill", False):
                continue
            # Skip skills imported from another file: they are registered where they are defined.
            if getattr(obj, "__module__", module.__name__) != module.__name__:
                continue
            name = getattr(obj, "__name__", attr)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
                warnings.append(f"{file}: skill {name!r} skipped: its name must be a Python identifier of at most 64 characters")
                continue
            if name in owner:
                warnings.append(f"{file}: duplicate skill name {name!r} (already defined in {owner[name]}); this one is ignored")
                continue
            parameters, notes, usable = parameters_of(obj)
            warnings.extend(f"{file}: skill {name!r}: {n}" for n in notes)
            if not usable:
                continue
            owner[name] = file
            functions[name] = obj
            entries.append({
                "name": name,
                "description": description_of(obj, name),
                "parameters": parameters,
                "file": file,
                "requiresApproval": bool(getattr(obj, "requires_approval", False)),
            })
    return functions, entries, warnings


def description_of(func, name):
    text = getattr(func, "description", None)
    if isinstance(text, str) and text.strip():
        return " ".join(text.split())
    doc = inspect.getdoc(func) or ""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split()) or name.replace("_", " ")


PRIMITIVES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def type_schema(annotation):
    """JSON schema of one annotation, or None when unsupported."""
    if annotation in PRIMITIVES:
        return {"type": PRIMITIVES[annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        values = list(args)
        if not values or not all(type(v) in PRIMITIVES for v in values):
            return None
        kinds = {PRIMITIVES[type(v)] for v in values}
        schema = {"enum": values}
        if len(kinds) == 1:
            schema["type"] = kinds.pop()
        return schema
    if origin in (list, typing.List) and len(args) == 1 and args[0] in PRIMITIVES:
        return {"type": "array", "items": {"type": PRIMITIVES[args[0]]}}
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        inner = type_schema(rest[0]) if len(rest) == 1 else None
        if inner is None:
            return None
        if "enum" in inner:
            return {**inner, "enum": inner["enum"] + [None], **({"type": [inner["type"], "null"]} if "type" in inner else {})}
        return {**inner, "type": [inner["type"], "null"]}
    return None


def parameters_of(func):
    """(JSON schema, warnings, usable). Unsupported optional parameters are hidden; required ones skip the skill."""
    schema = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    notes = []
    try:
        signature = inspect.signature(func)  # follows __wrapped__ set by functools.wraps
    except (TypeError, ValueError) as err:
        return schema, [f"exposed without arguments: its signature cannot be read ({err})"], True
    try:
        hints = typing.get_type_hints(inspect.unwrap(func))
    except Exception:
        hints = {}
    docs = param_docs(inspect.getdoc(func) or "")
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind == param.VAR_POSITIONAL else "**"
            notes.append(f"{star}{name} is not exposed (only named, typed parameters become arguments)")
            continue
        if param.kind == param.POSITIONAL_ONLY:
            if param.default is param.empty:
                return schema, [f"skipped: positional-only parameter {name!r} cannot be passed by name"], False
            continue
        annotation = hints.get(name, param.annotation)
        has_default = param.default is not param.empty
        if annotation is param.empty:
            annotation = type(param.default) if has_default and type(param.default) in PRIMITIVES else str
        prop = type_schema(annotation)
        if prop is None:
            if has_default:
                notes.append(f"parameter {name!r} has an unsupported type ({annotation!r}) and is not exposed; its default is used")
                continue
            return schema, [f"skipped: required parameter {name!r} has an unsupported type ({annotation!r}); use str, int, float, bool, Literal, Optional or list[str]"], False
        if name in docs:
            prop["description"] = docs[name]
        if has_default:
            try:
                json.dumps(param.default)
                prop["default"] = param.default
            except (TypeError, ValueError):
                pass
        else:
            schema["required"].append(name)
        schema["properties"][name] = prop
    return schema, notes, True


def param_docs(doc):
    """Parameter descriptions from Google style (`Args:` / `name (type): text`) or Sphinx (`:param name: text`)."""
    found = {}
    for match in re.finditer(r":param\s+(?:\w+\s+)?(\w+):\s*(.+)", doc):
        found[match.group(1)] = match.group(2).strip()
    section = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?|\s*\n)+)", doc, re.M)
    if section:
        for match in re.finditer(r"^[ \t]+(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$", section.group(1), re.M):
            found.setdefault(match.group(1), match.group(2).strip())
    return found


# --------------------------------------------------------------------------- one call


def drop_privileges(run_as):
    if not run_as:
        return
    import pwd

    entry = pwd.getpwuid(int(run_as)) if run_as.isdigit() else pwd.getpwnam(run_as)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ["HOME"] = entry.pw_dir


def apply_limits(limits, with_cpu):
    pairs = [
        (resource.RLIMIT_AS, limits.get("asBytes")),
        (resource.RLIMIT_NOFILE, limits.get("openFiles")),
        (resource.RLIMIT_FSIZE, limits.get("fileBytes")),
        (resource.RLIMIT_NPROC, limits.get("processes")),
    ]
    if with_cpu:
        cpu = limits.get("cpuSeconds")
        pairs.append((resource.RLIMIT_CPU, cpu and (cpu, cpu + 1)))
    for which, value in pairs:
        if not value:
            continue
        soft, hard = value if isinstance(value, tuple) else (value, value)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass


def run_in_skill_process(func, args, out_w, result_w, cfg):
    """The skill process: own group, limits, stdout/stderr into the monitor's pipe, result as JSON."""
    code = 1
    try:
        os.setpgid(0, 0)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        # Only stdio and the result pipe: the skill must not reach the call channel and forge frames.
        os.closerange(3, result_w)
        os.closerange(result_w + 1, 1 << 16)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
        apply_limits(cfg["limits"], with_cpu=True)
        value = func(**args)
        result = {"ok": True, "value": render_value(value, cfg["maxOutputBytes"])}
        code = 0
    except BaseException as err:
        result = {"ok": False, "error": describe_exception(err), "trace": traceback.format_exc()[-8000:]}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    write_frame(result_w, result)
    os._exit(code)


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


def kill_group(pgid):
    """SIGKILL the group until it is empty; a fork bomb may add members while we kill (bounded)."""
    for _ in range(100):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        reap_children()
        time.sleep(0.005)


REAPED = {}  # pid -> wait status, for children reaped while cleaning up (the skill process among them)


def reap_children():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        REAPED[pid] = status


def wait_nohang(pid):
    if pid in REAPED:
        return REAPED.pop(pid)
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return REAPED.pop(pid, None)
    return status if waited == pid else None


def kill_descendants():
    """As a subreaper, orphans of the skill become our children; kill those that left its group."""
    me = os.getpid()
    for _ in range(20):
        try:
            with open(f"/proc/{me}/task/{me}/children") as f:
                children = [int(p) for p in f.read().split()]
        except OSError:
            children = []
        if not children:
            reap_children()
            return
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)
        reap_children()


def monitor_call(func, args, chan_in, chan_out, cfg):
    """Runs one call in a skill process and reports it. Returns when every descendant is gone."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    cap = cfg["maxOutputBytes"]
    out_r, out_w = os.pipe()
    result_r, result_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(result_r)
        run_in_skill_process(func, args, out_w, result_w, cfg)
    os.close(out_w)
    os.close(result_w)
    write_frame(chan_out, {"t": "start", "pid": pid, "monitor": os.getpid()})

    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ, "out")
    sel.register(result_r, selectors.EVENT_READ, "result")
    sel.register(chan_in, selectors.EVENT_READ, "chan")
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ, "exit")
    stdout, stdout_truncated, result_buf = bytearray(), False, bytearray()
    status = None
    deadline = time.monotonic() + cfg["timeoutMs"] / 1000 + KILL_GRACE_S  # backstop if the gateway goes quiet
    drain_until = None
    open_pipes = 2
    while open_pipes > 0:
        now = time.monotonic()
        if status is None and now > deadline:
            kill_group(pid)
            deadline = float("inf")
        if drain_until is not None and now > drain_until:
            break  # something that escaped the group still holds a pipe; stop waiting for it
        for key, _ in sel.select(timeout=0.05 if pidfd is None else 0.5):
            what = key.data
            if what == "exit":
                sel.unregister(pidfd)
                os.close(pidfd)
                pidfd = -1
                continue
            if what == "chan":
                try:
                    data = os.read(chan_in, 4096)
                except OSError:
                    data = b""
                if not data or b"kill" in data:
                    kill_group(pid)
                    sel.unregister(chan_in)
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fd)
                open_pipes -= 1
            elif what == "out":
                room = cap - len(stdout)
                if len(chunk) > room:
                    stdout_truncated = True
                stdout += chunk[: max(room, 0)]
            elif len(result_buf) < 2 * cap + 65536:
                result_buf += chunk
        if status is None:
            status = wait_nohang(pid)
            if status is not None:
                kill_group(pid)  # whatever the skill left behind in its group
                drain_until = time.monotonic() + 1.0
    if status is None:
        kill_group(pid)
        status = REAPED.pop(pid, None)
        if status is None:
            _, status = os.waitpid(pid, 0)
    kill_descendants()
    try:
        result = json.loads(result_buf.decode("utf-8", "replace")) if result_buf.strip() else None
    except ValueError:
        result = None
    code = os.waitstatus_to_exitcode(status)
    write_frame(chan_out, {
        "t": "done",
        "result": result,
        "stdout": stdout.decode("utf-8", "replace"),
        "stdout_truncated": stdout_truncated,
        "code": code if code >= 0 else None,
        "signal": signal.Signals(-code).name if code < 0 else None,
    })


def read_request(fd):
    buf = bytearray()
    while b"\n" not in buf and len(buf) < MAX_REQUEST_BYTES:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
    line = bytes(buf).split(b"\n", 1)[0]
    return json.loads(line.decode("utf-8"))


def answer_request(functions, chan_in, chan_out, cfg):
    try:
        request = read_request(chan_in)
        func = functions.get(request.get("skill"))
        args = request.get("args") or {}
    except (ValueError, OSError) as err:
        write_frame(chan_out, {"t": "done", "result": {"ok": False, "error": f"bad request: {err}"}, "stdout": "", "code": None, "signal": None})
        return
    if func is None or not isinstance(args, dict):
        error = f"skill {request.get('skill')!r} is not loaded in the skill host"
        write_frame(chan_out, {"t": "done", "result": {"ok": False, "error": error}, "stdout": "", "code": None, "signal": None})
        return
    monitor_call(func, args, chan_in, chan_out, cfg)


# --------------------------------------------------------------------------- modes


def mode_discover(cfg):
    apply_limits(cfg["limits"], with_cpu=True)
    modules, errors = import_skill_files(cfg["dir"], cfg["importTimeoutMs"] / 1000)
    _, entries, warnings = find_skills(modules)
    files = {file: [e["name"] for e in entries if e["file"] == file] for file in modules}
    # Keep our real stdout for the registry; skill files may print while being imported.
    write_frame(REAL_STDOUT, {"skills": entries, "errors": errors, "warnings": warnings, "files": files})


def mode_call(cfg):
    request = read_request(0)
    file = request.get("file")
    modules, errors = import_skill_files_only(cfg["dir"], file, cfg["importTimeoutMs"] / 1000)
    if errors:
        write_frame(REAL_STDOUT, {"t": "done", "result": {"ok": False, "error": f"{file}: {errors[0]['error']}"}, "stdout": "", "code": None, "signal": None})
        return
    functions, _, _ = find_skills(modules)
    func = functions.get(request.get("skill"))
    if func is None:
        write_frame(REAL_STDOUT, {"t": "done", "result": {"ok": False, "error": f"skill {request.get('skill')!r} not found in {file}"}, "stdout": "", "code": None, "signal": None})
        return
    monitor_call(func, request.get("args") or {}, 0, REAL_STDOUT, cfg)


def import_skill_files_only(directory, file, timeout_s):
    """The cold path imports just the file that defines the skill."""
    if not isinstance(file, str) or "/" in file or not file.endswith(".py"):
        return {}, [{"file": str(file), "error": "bad file name"}]
    if directory not in sys.path:
        sys.path.insert(0, directory)
    previous = signal.signal(signal.SIGALRM, _raise_import_timeout)
    name = "skillgate_skill_" + re.sub(r"\W", "_", file[:-3])
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(directory, file))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        spec.loader.exec_module(module)
        return {file: module}, []
    except BaseException as err:
        return {}, [{"file": file, "error": describe_exception(err)}]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def mode_serve(cfg):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(cfg["socket"])
    listener.listen(128)
    drop_privileges(cfg.get("runAs"))
    apply_limits(cfg["limits"], with_cpu=False)
    modules, errors = import_skill_files(cfg["dir"], cfg["importTimeoutMs"] / 1000)
    functions, entries, _ = find_skills(modules)
    # Monitors are reaped by the kernel; each one waits for its own skill process itself.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # Forked children share the host's pages copy-on-write; keep the collector off them.
    gc.freeze()
    write_frame(REAL_STDOUT, {"t": "ready", "pid": os.getpid(), "skills": [e["name"] for e in entries], "errors": errors})
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(0, selectors.EVENT_READ, "stdin")
    while True:
        for key, _ in sel.select():
            if key.data == "stdin":
                if not os.read(0, 4096):
                    return  # the gateway closed our stdin: shut down, running calls finish on their own
                continue
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            pid = os.fork()
            if pid == 0:
                try:
                    gc.disable()
                    listener.close()
                    os.setsid()
                    answer_request(functions, conn.fileno(), conn.fileno(), cfg)
                finally:
                    os._exit(0)
            conn.close()


def main():
    global REAL_STDOUT
    mode, cfg = sys.argv[1], json.loads(sys.argv[2])
    # Skill code may print at import time; frames go to a private copy of the original stdout.
    REAL_STDOUT = os.dup(1)
    os.dup2(2, 1)
    os.chdir(cfg["workspace"])
    if mode != "serve":
        drop_privileges(cfg.get("runAs"))
    {"discover": mode_discover, "call": mode_call, "serve": mode_serve}[mode](cfg)


REAL_STDOUT = 1

if __name__ == "__main__":
    main()
