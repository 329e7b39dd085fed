"""Helpers shared by the skill files: the workspace and safe paths inside it.

Files starting with `_` are not scanned for skills, but skill files can import them.
"""

import os


class OutsideWorkspace(PermissionError):
    """A path that resolves (symlinks included) outside WORKSPACE_DIR."""


def workspace_root():
    root = os.environ.get("WORKSPACE_DIR") or os.getcwd()
    return os.path.realpath(root)


def resolve_inside(relative=""):
    """The real path of `relative` inside the workspace; refuses `..`, absolute paths and symlinks out."""
    root = workspace_root()
    candidate = os.path.realpath(os.path.join(root, relative or "."))
    if candidate != root and not candidate.startswith(root + os.sep):
        raise OutsideWorkspace(f"refused: {relative!r} is outside the workspace")
    return candidate


def is_inside(path):
    root = workspace_root()
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def human_size(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
