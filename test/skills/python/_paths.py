"""Where the host package and the shared protocol examples are, for every test module here."""

import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HOST_DIR = os.path.join(ROOT, "src", "skills")
PROTOCOL = os.path.join(ROOT, "test", "fixtures", "protocol")

if HOST_DIR not in sys.path:
    sys.path.insert(0, HOST_DIR)


def protocol_example(name):
    with open(os.path.join(PROTOCOL, name), encoding="utf-8") as f:
        return json.load(f)
