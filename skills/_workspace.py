"""Helpers shared by the skill files: the workspace and safe paths inside it.

Files starting with `_` are not scanned for skills, but skill files can import them.
"""

import os
import stat


class OutsideWorkspace(PermissionError):
    """A path that resolves (symlinks included) outside WORKSPACE_DIR."""


def workspace_root():
    root = os.environ.get("WORKSPACE_DIR") or os.getcwd()
    return os.path.realpath(root)


def protected_paths():
    """The gateway's own folders and files inside the workspace (the gateway passes them in
    SKILLGATE_PROTECTED_PATHS): refused here too, in case the sandbox is off."""
    return [p for p in os.environ.get("SKILLGATE_PROTECTED_PATHS", "").split(os.pathsep) if p]


def is_protected(real):
    return any(real == p or real.startswith(p + os.sep) for p in protected_paths())


def resolve_inside(relative=""):
    """The real path of `relative` inside the workspace; refuses `..`, absolute paths, symlinks out
    and the gateway's own files."""
    root = workspace_root()
    candidate = os.path.realpath(os.path.join(root, relative or "."))
    if candidate != root and not candidate.startswith(root + os.sep):
        raise OutsideWorkspace(f"refused: {relative!r} is outside the workspace")
    if is_protected(candidate):
        raise OutsideWorkspace(f"refused: {relative!r} belongs to the gateway, not the workspace")
    return candidate


def open_file_inside(relative):
    """Opens a regular file inside the workspace for reading, race-free.

    resolve_inside() checks a name, and the name could be swapped for a symlink before a later
    open() follows it. So the file is opened first (no following a final symlink, no blocking on
    a FIFO), and then what was actually opened is checked: its real path through /proc/self/fd
    must be inside the workspace and it must be a regular file. Returns a binary file object or
    raises OutsideWorkspace / IsADirectoryError / FileNotFoundError.
    """
    candidate = resolve_inside(relative)
    fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        opened = os.path.realpath(f"/proc/self/fd/{fd}")
        if not is_inside(opened):
            raise OutsideWorkspace(f"refused: {relative!r} is outside the workspace")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(f"{relative} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_inside(path):
    root = workspace_root()
    real = os.path.realpath(path)
    return (real == root or real.startswith(root + os.sep)) and not is_protected(real)


def human_size(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
