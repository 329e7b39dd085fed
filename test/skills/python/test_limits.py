"""Limits and prctl calls that fail are reported on stderr, never swallowed."""

import subprocess
import sys
import unittest

from _paths import HOST_DIR

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from skillgate_host.config import SkillLimits
from skillgate_host.skill_process import apply_limits, prctl
prctl(99999, 0)  # no such option: EINVAL
apply_limits(SkillLimits(cpu_seconds=0, as_bytes=0, open_files=0, file_bytes=0, processes=-5), for_host=True)
"""


class LimitFailureTest(unittest.TestCase):
    def test_failures_are_written_to_stderr(self):
        # In a child: the limits must not land on the test process.
        run = subprocess.run([sys.executable, "-c", SCRIPT, HOST_DIR], capture_output=True, text=True, timeout=30)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stderr.strip().splitlines()
        self.assertEqual(len(lines), 2, run.stderr)
        self.assertRegex(lines[0], r"^skillgate host: prctl\(99999, 0\) failed: ")
        self.assertRegex(lines[1], r"^skillgate host: setrlimit\(RLIMIT_NPROC, \(-5, -5\)\) failed, the limit is not applied: ")


if __name__ == "__main__":
    unittest.main()
