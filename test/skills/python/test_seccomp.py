"""The seccomp filter skill code runs under: clone3 refused, everything else as before."""

import subprocess
import sys
import unittest

import _paths

PROBE = """
import ctypes, os, subprocess, sys, threading
sys.path.insert(0, sys.argv[1])
from skillgate_host.seccomp import refuse_clone3
if not refuse_clone3():
    print("unavailable"); sys.exit(0)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
refused = libc.syscall(435, None, 0) == -1 and ctypes.get_errno() == 38
pid = os.fork()
if pid == 0:
    os._exit(3)
forked = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 3
spawned = subprocess.run(["/bin/sh", "-c", "exit 4"]).returncode == 4
seen = []
thread = threading.Thread(target=seen.append, args=(1,))
thread.start(); thread.join()
print(refused, forked, spawned, seen == [1])
"""


class Clone3Test(unittest.TestCase):
    def test_clone3_is_refused_and_fork_spawn_and_threads_work(self):
        out = subprocess.run([sys.executable, "-c", PROBE, _paths.HOST_DIR], capture_output=True, text=True, check=True).stdout.strip()
        if out == "unavailable":
            self.skipTest("no seccomp filters for this process here")
        self.assertEqual(out, "True True True True")


if __name__ == "__main__":
    unittest.main()
