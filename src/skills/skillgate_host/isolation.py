"""Discovery that survives any skill file.

Each skill file is imported and scanned in a forked child of its own, which sends back the file's
registry entries as one JSON line. A file that hard-exits (`os._exit`), crashes Python (a segfault
in C code), is killed by a resource limit or hangs where the import timer cannot interrupt it
costs only itself: it becomes an error naming the file and how the child died, and the other
files still load. Module state of one file never leaks into another file's discovery either.
"""

import json
import os
import resource
import select
import signal
import time

from .discovery import import_one_file, merge_skills, skill_files, skills_in_module
from .skill_process import close_all_but
from .wire import write_frame

REPORT_CAP = 16 * 1024 * 1024
GRACE_S = 2.0  # past the import timer: scanning the module and writing its report


def discover_isolated(directory, timeout_s, slots=None, child_setup=None, child_cleanup=None):
    """(entries, errors, warnings, files): the registry report of every skill file. With `slots`
    (per-call cgroups) each file's child is imported in one, killed whole afterwards.
    child_setup() runs in each import child after it joined its slot (its own Landlock domain),
    child_cleanup(pid) after it is gone."""
    files, errors = skill_files(directory)
    per_file, imported = [], []
    for file in files:
        report = scan_in_child(directory, file, timeout_s, slots, child_setup, child_cleanup)
        if "error" in report:
            errors.append({"file": file, "error": report["error"]})
            continue
        per_file.append((file, [(entry, None) for entry in report["skills"]], report["warnings"]))
        imported.append(file)
    _, entries, warnings = merge_skills(per_file)
    files_report = {file: [e["name"] for e in entries if e["file"] == file] for file in imported}
    return entries, errors, warnings, files_report


def scan_in_child(directory, file, timeout_s, slots=None, child_setup=None, child_cleanup=None):
    """{"skills": [...], "warnings": [...]} of one file, or {"error": why}."""
    try:
        slot = slots.take() if slots is not None else None
    except OSError as err:
        return {"error": f"not imported: {err}"}
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        pid, born_inside = slot.fork() if slot is not None else (os.fork(), False)
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        if slots is not None and slot is not None:
            slots.put_back(slot)
            return {"error": "not imported: out of processes"}  # never outside its cgroup
        return _scan(directory, file, timeout_s)  # out of processes: as before, in this process
    if pid == 0:
        try:
            if slot is not None:
                slot.enter(born_inside)
            os.close(read_fd)
            if child_setup is not None:
                child_setup()
            _child(directory, file, timeout_s, write_fd)
        finally:
            os._exit(1)
    os.close(write_fd)
    try:
        os.setpgid(pid, pid)  # the child does it too; whoever runs first wins the race
    except OSError:
        pass
    line, timed_out = _read_report(read_fd, time.monotonic() + timeout_s + GRACE_S)
    os.close(read_fd)
    try:  # the child past its deadline, and whatever it started while importing
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    if slots is not None and slot is not None:
        slots.bind(pid, slot)
        slots.end(pid)  # a daemon the file started at import (setsid, double fork) ends here
    if child_cleanup is not None:
        child_cleanup(pid)
    report = _parse(line)
    if report is not None:
        return report
    if timed_out:
        return {"error": f"importing took too long (killed after {timeout_s + GRACE_S:g} s; blocked in C code or a loop?)"}
    return {"error": f"importing it {_death(status)} before it reported its skills"}


def _child(directory, file, timeout_s, write_fd):
    os.setpgid(0, 0)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not drop a core into the workspace
    close_all_but(write_fd)  # the file must not write into the discovery report (our real stdout)
    write_frame(write_fd, _scan(directory, file, timeout_s))
    os._exit(0)


def _scan(directory, file, timeout_s):
    modules, errors = import_one_file(directory, file, timeout_s)
    if errors:
        return {"error": errors[0]["error"]}
    found, warnings = skills_in_module(file, modules[file])
    return {"skills": [entry for entry, _ in found], "warnings": warnings}


def _read_report(fd, deadline):
    """(first line the child wrote, timed out?). Stops at the first newline: a process the file
    started may still hold the pipe open."""
    data = bytearray()
    while b"\n" not in data and len(data) < REPORT_CAP:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(data), True
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return bytes(data).split(b"\n", 1)[0], False


def _parse(line):
    try:
        report = json.loads(line.decode("utf-8"))
    except ValueError:
        return None
    if isinstance(report, dict) and isinstance(report.get("error"), str):
        return report
    if isinstance(report, dict) and isinstance(report.get("skills"), list) and isinstance(report.get("warnings"), list):
        return report
    return None


def _death(status):
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return f"ended Python (exit code {code})"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = str(-code)
    return f"killed Python (signal {name})"
