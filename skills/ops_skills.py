"""Operator skills: disk usage, reading a text file, recent changes, machine load."""

import errno
import heapq
import os
import shutil
import time

from skillgate_host.decorator import skill  # shipped next to host.py
from _workspace import human_size, is_protected, open_file_inside, resolve_inside, workspace_root


MAX_WALK = 100_000  # entries visited at most, so a huge tree cannot stall a call


def walk_files(root):
    """(path, stat) of regular files under root, never following symlinks, bounded; the gateway's
    own folders are left out."""
    seen = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not is_protected(os.path.join(folder, d))]
        for name in files:
            if is_protected(os.path.join(folder, name)):
                continue
            seen += 1
            if seen > MAX_WALK:
                return
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not os.path.islink(path):
                yield path, st


@skill("Disk usage: how much space the workspace takes and how much is free")
def workspace_disk_usage():
    """Total size, the biggest top-level entries and free disk space."""
    root = workspace_root()
    per_entry, total, count = {}, 0, 0
    for path, st in walk_files(root):
        total += st.st_size
        count += 1
        top = os.path.relpath(path, root).split(os.sep)[0]
        per_entry[top] = per_entry.get(top, 0) + st.st_size
    disk = shutil.disk_usage(root)
    lines = [
        f"Workspace {root}: {human_size(total)} in {count} files",
        f"Disk: {human_size(disk.free)} free of {human_size(disk.total)} ({disk.used * 100 // max(disk.total, 1)}% used)",
    ]
    biggest = heapq.nlargest(10, per_entry.items(), key=lambda kv: kv[1])
    if biggest:
        lines.append("Largest:")
        lines.extend(f"  {name}  {human_size(size)}" for name, size in biggest)
    return "\n".join(lines)


@skill("Read a text file (path relative to the workspace), size-capped")
def read_text_file(path: str, max_bytes: int = 20000):
    """Show the beginning of a text file.

    Args:
        path: the file, relative to the workspace
        max_bytes: how much of it to show (at most 60000)
    """
    cap = max(1, min(max_bytes, 60_000))
    try:
        f = open_file_inside(path)  # raises OutsideWorkspace: the call fails with a clear error
    except (IsADirectoryError, FileNotFoundError, NotADirectoryError):
        return f"{path} is not a file in the workspace"
    except OSError as err:
        if err.errno == errno.ELOOP:  # the name itself is a symlink: follow it only if it stays inside
            real = resolve_inside(path)
            f = open_file_inside(os.path.relpath(real, workspace_root()))
        else:
            raise
    with f:
        data = f.read(cap + 1)
        size = os.fstat(f.fileno()).st_size
    if b"\x00" in data[:4096]:
        return f"{path} looks like a binary file; not shown"
    text = data[:cap].decode("utf-8", "replace")
    more = f"\n[showing the first {cap} bytes of {human_size(size)}]" if len(data) > cap else ""
    return text + more


@skill("Recently modified or changed items in the workspace, newest first")
def recent_files(limit: int = 10, days: int = 7):
    """The newest files.

    Args:
        limit: how many to show (at most 100)
        days: only files changed in this many days
    """
    root = workspace_root()
    since = time.time() - max(days, 0) * 86400
    found = [(st.st_mtime, path, st.st_size) for path, st in walk_files(root) if st.st_mtime >= since]
    newest = heapq.nlargest(max(1, min(limit, 100)), found)
    if not newest:
        return f"Nothing changed in the workspace in the last {days} days."
    lines = [f"Changed in the last {days} days (newest first):"]
    for mtime, path, size in newest:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))
        lines.append(f"  {stamp}  {os.path.relpath(path, root)}  {human_size(size)}")
    return "\n".join(lines)


@skill("System status: load average, memory, uptime of this server")
def system_status():
    """Machine health at a glance."""
    load1, load5, load15 = os.getloadavg()
    meminfo = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, value = line.split(":", 1)
                meminfo[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    lines = [f"Load: {load1:.2f} {load5:.2f} {load15:.2f} on {os.cpu_count()} CPUs"]
    if "MemTotal" in meminfo:
        avail = meminfo.get("MemAvailable", meminfo.get("MemFree", 0))
        lines.append(f"Memory: {human_size(avail)} available of {human_size(meminfo['MemTotal'])}")
    try:
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0])
        lines.append(f"Uptime: {int(up // 86400)}d {int(up % 86400 // 3600)}h {int(up % 3600 // 60)}m")
    except OSError:
        pass
    return "\n".join(lines)
