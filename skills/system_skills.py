"""Operator skills: the training workspace and the Python environment."""

import os
import shutil
import subprocess
import sys

from skillgate_host.decorator import skill  # shipped next to host.py
from _workspace import human_size, is_inside, resolve_inside, workspace_root


MAX_ENTRIES = 200


@skill("List the files and folders we have in the training workspace (WORKSPACE_DIR)")
def check_workspace_files(subdir: str = ""):
    """List the files in the workspace.

    Args:
        subdir: a folder inside the workspace to list instead of its top level
    """
    folder = resolve_inside(subdir)  # raises OutsideWorkspace: the call fails with a clear error
    if not os.path.isdir(folder):
        return f"{subdir or '.'} is not a folder in the workspace"
    entries = sorted(os.scandir(folder), key=lambda e: (not e.is_dir(follow_symlinks=False), e.name.lower()))
    if not entries:
        return f"The workspace folder {subdir or workspace_root()} is empty."
    lines = [f"{workspace_root() if not subdir else subdir}: {len(entries)} entries"]
    for entry in entries[:MAX_ENTRIES]:
        if entry.is_symlink():
            target = "link" if is_inside(entry.path) else "link outside the workspace, not followed"
            lines.append(f"  {entry.name} ({target})")
        elif entry.is_dir():
            lines.append(f"  {entry.name}/")
        else:
            lines.append(f"  {entry.name}  {human_size(entry.stat().st_size)}")
    if len(entries) > MAX_ENTRIES:
        lines.append(f"  ... and {len(entries) - MAX_ENTRIES} more")
    return "\n".join(lines)


@skill("Show the installed Python packages (uv pip list, else pip list)")
def check_python_packages():
    """List installed Python packages with uv if present, else pip."""
    attempts = []
    if shutil.which("uv"):
        attempts.append(("uv pip list", ["uv", "pip", "list", "--no-config", "--python", sys.executable]))
    # -I (isolated) and cwd "/": with the workspace as cwd, `-m pip` would import a pip.py that
    # anyone managed to put in the workspace, and run it.
    attempts.append(("python -m pip list", [sys.executable, "-I", "-m", "pip", "list", "--disable-pip-version-check"]))
    problems = []
    for label, argv in attempts:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=25, stdin=subprocess.DEVNULL, cwd="/")
        except (OSError, subprocess.TimeoutExpired) as err:
            problems.append(f"{label}: {err}")
            continue
        if done.returncode == 0:
            return f"$ {label}\n{done.stdout.strip()}"
        problems.append(f"{label}: {_last_line(done.stderr or done.stdout) or f'exited with code {done.returncode}'}.")
    return "Neither uv nor pip is available for this Python (" + sys.executable + "):\n" + "\n".join(problems)


def _last_line(text):
    """The last non-empty line of a tool's output: its error, without the traceback above it."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1].rstrip(".") if lines else ""
