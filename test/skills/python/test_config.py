"""HostConfig against the TypeScript HostConfig, through the shared example (test/skills/protocol.test.ts
checks the same file has exactly the TypeScript fields)."""

import unittest

from _paths import HOST_DIR, protocol_example
from skillgate_host.config import CgroupSlot, HostCgroupConfig, HostConfig, HostConfine, SkillLimits, json_key


def json_keys(cls):
    return sorted(json_key(f.name) for f in cls.fields())


class HostConfigTest(unittest.TestCase):
    def setUp(self):
        self.example = protocol_example("host-config.json")

    def test_field_for_field_the_typescript_host_config(self):
        self.assertEqual(json_keys(HostConfig), sorted(self.example))
        self.assertEqual(json_keys(SkillLimits), sorted(self.example["limits"]))
        self.assertEqual(json_keys(HostConfine), sorted(self.example["confine"]))
        self.assertEqual(json_keys(HostCgroupConfig), sorted(self.example["cgroups"]))
        for slot in self.example["cgroups"]["slots"]:
            self.assertEqual(json_keys(CgroupSlot), sorted(slot))

    def test_typed_values(self):
        cfg = HostConfig.from_json(self.example)
        assert cfg.confine is not None and cfg.cgroups is not None
        self.assertEqual(cfg.import_timeout_ms, 10000)
        self.assertEqual(cfg.limits.file_bytes, 67108864)
        self.assertEqual(cfg.confine.tmp_root, "/tmp/skillgate-skills-x/tmp")
        self.assertEqual(vars(cfg.cgroups.slots[1]), vars(CgroupSlot(threads=(8,), dir=None, procs=None, list=9, oom=None)))
        self.assertEqual(cfg.exclude, ("slow_import.py",))

    def test_the_optional_fields_may_be_left_out(self):
        required = {k: self.example[k] for k in ("dir", "workspace", "limits", "maxOutputBytes", "timeoutMs", "importTimeoutMs")}
        cfg = HostConfig.from_json(required)
        self.assertEqual((cfg.run_as, cfg.socket, cfg.exclude, cfg.confine, cfg.cgroups), (None, None, (), None, None))

    def test_read_by_json_key_like_the_dict_it_replaces(self):
        cfg = HostConfig.from_json(self.example)
        self.assertEqual(cfg["maxOutputBytes"], 65536)
        self.assertEqual(cfg["limits"].get("openFiles"), 256)
        self.assertEqual(cfg["confine"]["readOnly"], ("/srv/skills",))
        self.assertEqual(cfg["cgroups"]["slots"][0].get("oom"), 7)
        self.assertIsNone(HostConfig.from_json({**self.example, "confine": None}).get("confine"))
        with self.assertRaises(KeyError):
            cfg["max_output_bytes"]

    def test_unknown_missing_and_ill_typed_fields_are_refused(self):
        bad = [
            ({**self.example, "surprise": 1}, "unknown field(s) surprise"),
            ({k: v for k, v in self.example.items() if k != "timeoutMs"}, "missing field timeoutMs"),
            ({**self.example, "timeoutMs": "30000"}, "HostConfig.timeoutMs: expected int, got str"),
            ({**self.example, "timeoutMs": True}, "HostConfig.timeoutMs: expected int, got bool"),
            ({**self.example, "exclude": "a.py"}, "HostConfig.exclude: expected a list"),
            ({**self.example, "limits": {**self.example["limits"], "asBytes": None}}, "SkillLimits.asBytes: expected int"),
            ({**self.example, "confine": []}, "HostConfine: expected a JSON object"),
        ]
        for data, message in bad:
            with self.subTest(message=message), self.assertRaises(ValueError) as raised:
                HostConfig.from_json(data)
            self.assertIn(message, str(raised.exception))

    def test_built_in_code_like_a_dataclass(self):
        limits = SkillLimits(cpu_seconds=1, as_bytes=2, open_files=3, file_bytes=4, processes=5)
        self.assertEqual(limits.get("fileBytes"), 4)
        with self.assertRaises(TypeError):
            SkillLimits(cpu_seconds=1)
        with self.assertRaises(TypeError):
            SkillLimits(cpu_seconds=1, as_bytes=2, open_files=3, file_bytes=4, processes=5, surprise=6)

    def test_imports_neither_dataclasses_nor_typing(self):
        # What a cold call pays for at every start (see the module's docstring).
        import subprocess
        import sys

        probe = "import sys; import skillgate_host.config; print(sorted({'dataclasses', 'typing', 'inspect'} & set(sys.modules)))"
        out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=True, env={"PYTHONPATH": HOST_DIR})
        self.assertEqual(out.stdout.strip(), "[]")


if __name__ == "__main__":
    unittest.main()
