"""wire.py against the protocol examples the TypeScript tests read too (test/skills/protocol.test.ts)."""

import json
import os
import unittest

from _paths import protocol_example
from skillgate_host import log, wire
from skillgate_host.call import Call


class FramesTest(unittest.TestCase):
    def test_each_builder_makes_the_shared_example(self):
        examples = protocol_example("host-frames.json")
        for example in [*examples["valid"], examples["registry"]]:
            builder, args = example["build"]
            with self.subTest(builder=builder, frame=example.get("name")):
                self.assertEqual(getattr(wire, builder)(*args), example["frame"])

    def test_a_warning_is_the_shared_example_line(self):
        warning = protocol_example("host-frames.json")["warning"]
        builder, args = warning["build"]
        self.assertEqual(getattr(log, builder)(*args), warning["line"])
        self.assertEqual(log.warning_line("two\nlines"), "skillgate host: two lines\n", "one line, whatever the message")

    def test_a_frame_is_one_json_line(self):
        encoded = wire.encode_frame(wire.done_frame(None, "a\nb ünïcode", False, 0, None))
        self.assertTrue(encoded.endswith(b"\n"))
        self.assertEqual(encoded.count(b"\n"), 1)
        self.assertEqual(json.loads(encoded)["stdout"], "a\nb ünïcode")

    def test_write_frame_to_a_closed_pipe_is_not_an_error(self):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            wire.write_frame(write_end, wire.start_frame(1))
        finally:
            os.close(write_end)


class RequestTest(unittest.TestCase):
    def test_the_gateway_request_parses(self):
        lines = protocol_example("gateway-lines.json")
        line = json.dumps(lines["request"]).encode()
        self.assertEqual(wire.parse_request(line), lines["request"])

    def test_a_request_that_is_not_an_object_is_refused(self):
        for line in (b"[1]", b'"skill"', b"not json", b"\xff"):
            with self.subTest(line=line), self.assertRaises(ValueError):
                wire.parse_request(line)


class KillFrameTest(unittest.TestCase):
    def test_the_kill_frame_matches_exactly(self):
        lines = protocol_example("gateway-lines.json")
        self.assertTrue(wire.is_kill(lines["kill"].encode()))
        for line in lines["also_kill"]:
            with self.subTest(line=line):
                self.assertTrue(wire.is_kill(line.encode()))
        for line in lines["not_kill"]:
            with self.subTest(line=line):
                self.assertFalse(wire.is_kill(line.encode()))

    def test_lines_after_the_request_are_put_together_from_pieces(self):
        call = Call(0, 1, owns_channel=False)
        self.assertEqual(call.lines_after_request(b'{"op":'), [])
        self.assertEqual(call.lines_after_request(b'"kill"}\n{"op"'), [b'{"op":"kill"}'])
        self.assertEqual(call.lines_after_request(b':"kill"}\n'), [b'{"op":"kill"}'])

    def test_a_skill_argument_that_says_kill_is_not_a_kill(self):
        call = Call(0, 1, owns_channel=False)
        lines = call.lines_after_request(b'{"skill": "x", "args": {"note": "kill"}}\n')
        self.assertFalse(any(wire.is_kill(line) for line in lines))


class DescribeExceptionTest(unittest.TestCase):
    def test_messages(self):
        self.assertEqual(wire.describe_exception(ValueError("no")), "ValueError: no")
        self.assertEqual(wire.describe_exception(KeyError()), "KeyError")
        err = SyntaxError("invalid syntax")
        err.lineno = 3
        self.assertEqual(wire.describe_exception(err), "SyntaxError: invalid syntax (line 3)")


if __name__ == "__main__":
    unittest.main()
