"""site-packages without site: the paths a host started with -S gets (skillgate_host/site_paths.py)."""

import os
import subprocess
import sys
import tempfile
import unittest

import _paths  # puts the host package on sys.path
from skillgate_host.site_paths import pth_paths


class PthPathsTest(unittest.TestCase):
    def test_path_lines_are_taken_and_import_lines_are_not_run(self):
        with tempfile.TemporaryDirectory() as folder:
            os.mkdir(os.path.join(folder, "editable"))
            marker = os.path.join(folder, "ran")
            with open(os.path.join(folder, "a.pth"), "w", encoding="utf-8") as f:
                f.write(f"# a comment\n\nimport os; open({marker!r}, 'w')\neditable\nmissing\neditable\n")
            with open(os.path.join(folder, ".hidden.pth"), "w", encoding="utf-8") as f:
                f.write("editable\n")
            self.assertEqual(pth_paths(folder), [os.path.join(folder, "editable")])
            self.assertFalse(os.path.exists(marker), "an import line of a .pth is never run")

    def test_a_missing_folder_has_none(self):
        self.assertEqual(pth_paths("/nonexistent/site-packages"), [])


class VirtualEnvironmentTest(unittest.TestCase):
    def test_a_venv_interpreter_gets_its_own_site_packages(self):
        with tempfile.TemporaryDirectory() as folder:
            venv = os.path.join(folder, "venv")
            made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], capture_output=True)
            if made.returncode != 0:
                self.skipTest(f"python3 -m venv does not work here: {made.stderr.decode(errors='replace')[-200:]}")
            python = os.path.join(venv, "bin", "python")
            site_packages = subprocess.run([python, "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True, text=True, check=True).stdout.strip()
            with open(os.path.join(site_packages, "sg_probe_module.py"), "w", encoding="utf-8") as f:
                f.write("VALUE = 'from the venv'\n")
            probe = (
                "import sys; sys.path.insert(0, sys.argv[1])\n"
                "from skillgate_host.site_paths import add_site_packages\n"
                "add_site_packages()\n"
                "import sg_probe_module\n"
                "import builtins\n"
                "print(sg_probe_module.VALUE, sys.prefix == sys.argv[2], 'threading' in sys.modules, callable(getattr(builtins, 'exit', None)))\n"
            )
            out = subprocess.run([python, "-S", "-c", probe, _paths.HOST_DIR, venv], capture_output=True, text=True, check=True).stdout.strip()
            self.assertEqual(out, "from the venv True False True")


if __name__ == "__main__":
    unittest.main()
