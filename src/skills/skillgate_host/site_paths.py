"""The interpreter's site-packages on sys.path, without running the code in its .pth files.

The gateway starts every host with `python3 -S` (src/skills/launcher.ts): no `site` at start.
What skill code needs of what `site` does at start is done here: the site-packages folders on
sys.path (a virtual environment's, per its pyvenv.cfg) with the paths their .pth files list, and
the `exit`, `quit` and `help` builtins. What `site` also does is run each .pth line that starts
with `import`, before the host confines itself: on this machine a CA-bundle hook that imports
certifi and setuptools' distutils hook, some 20 ms of every cold call's start, and the
`threading` and `random` they import made every forked skill process copy some 150 more pages at
birth (their fork hooks run in each child).

So, compared with `site`: .pth `import` lines are not run, so a package installed in a way that
needs one (an editable install of setuptools >= 64, meson-python or scikit-build, whose .pth
installs an import finder; an old-style `-nspkg.pth` namespace package) is not importable in a
skill; sitecustomize and usercustomize are not run; the user's own site-packages (~/.local) is
not added (HOME is out of a skill's reach anyway, unless SKILL_SANDBOX=none).
"""

import os
import sys


def add_site_packages():
    """Appends each existing site-packages folder and the paths its .pth files list: a virtual
    environment's (SKILL_PYTHON=/path/to/venv/bin/python) and, when its pyvenv.cfg says so or
    there is none, the interpreter's own."""
    import site  # its module only: with -S, importing it does not run main()

    site.setquit()  # exit() and quit(), which skill code calls as in any script
    site.sethelper()
    for folder in site.getsitepackages(site_prefixes()):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.append(folder)
            sys.path.extend(pth_paths(folder))


def site_prefixes():
    """The prefixes `site` would take site-packages from, found the way site.venv() finds a
    virtual environment (its pyvenv.cfg next to the executable or one folder up). Sets
    sys.prefix to the environment, as site does."""
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    venv = os.path.dirname(exe_dir)
    conf = next((c for c in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(venv, "pyvenv.cfg")) if os.path.isfile(c)), None)
    if conf is None:
        return [sys.prefix, sys.exec_prefix]
    system_site = True
    try:
        with open(conf, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.partition("=")
                if sep and key.strip().lower() == "include-system-site-packages":
                    system_site = value.strip().lower() == "true"
    except OSError:
        pass
    base = [sys.prefix, sys.exec_prefix]
    sys.prefix = sys.exec_prefix = venv
    return [venv, *base] if system_site else [venv]


def pth_paths(folder):
    """The folders that `folder`'s .pth files list (those that exist, once each, not yet on
    sys.path), in site's order: files by name, lines in order, `import` lines skipped."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".pth") and not n.startswith("."))
    except OSError:
        return []
    found = []
    for name in names:
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue  # site skips an unreadable .pth the same way
        for line in lines:
            line = line.rstrip()
            if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                continue
            path = os.path.abspath(os.path.join(folder, line))
            if os.path.exists(path) and path not in sys.path and path not in found:  # a folder or a zipped egg
                found.append(path)
    return found
