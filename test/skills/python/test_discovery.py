"""Discovery of skill files written with the shipped decorator and with an inline one."""

import os
import tempfile
import typing
import unittest

import _paths  # puts the host package on sys.path
from skillgate_host.decorator import skill
from skillgate_host.discovery import find_functions, find_skills, import_skill_files, param_docs, parameters_of, type_schema

FORMS = os.path.join(_paths.ROOT, "test", "fixtures", "skills-decorators")  # the TypeScript test runs them too


def form(name):
    with open(os.path.join(FORMS, name), encoding="utf-8") as f:
        return f.read()


SHIPPED, INLINE = form("shipped_form.py"), form("inline_form.py")


class DiscoveryTest(unittest.TestCase):
    def discover(self, files):
        with tempfile.TemporaryDirectory() as directory:
            for name, source in files.items():
                with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
                    f.write(source)
            modules, errors = import_skill_files(directory, 5)
            functions, entries, warnings = find_skills(modules)
            # What the warm host and a cold call use: the same choice, by name.
            found = find_functions(modules)
            self.assertEqual({n: f for n, f in found.items() if n in functions}, functions)
        return functions, {e["name"]: e for e in entries}, errors, warnings

    def test_both_decorator_forms_in_one_folder(self):
        functions, entries, errors, warnings = self.discover({"shipped.py": SHIPPED, "inline.py": INLINE, "_helper.py": "x = 1\n"})
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(sorted(entries), ["add", "fetch", "greet"])
        greet = entries["greet"]
        self.assertEqual((greet["description"], greet["requiresApproval"], greet["network"], greet["file"]), ("Greet someone", True, False, "shipped.py"))
        self.assertEqual(greet["parameters"]["required"], ["name"])
        self.assertEqual(greet["parameters"]["properties"]["name"], {"type": "string", "description": "who to greet"})
        self.assertTrue(entries["fetch"]["network"])
        add = entries["add"]
        self.assertEqual((add["description"], add["requiresApproval"], add["network"], add["file"]), ("Add two numbers", False, False, "inline.py"))
        self.assertEqual(add["parameters"]["properties"]["b"], {"type": "integer", "default": 2})
        self.assertEqual(functions["add"](a=1), 3)
        self.assertEqual(functions["greet"](name="x", times=2), "hello hello x")

    def test_a_broken_file_is_an_error_and_the_rest_load(self):
        _, entries, errors, _ = self.discover({"ok.py": INLINE, "broken.py": "def (:\n"})
        self.assertEqual(list(entries), ["add"])
        self.assertEqual([e["file"] for e in errors], ["broken.py"])
        self.assertIn("SyntaxError", errors[0]["error"])

    def test_a_duplicate_name_is_a_warning(self):
        _, entries, _, warnings = self.discover({"a.py": INLINE, "b.py": INLINE})
        self.assertEqual(entries["add"]["file"], "a.py")
        self.assertEqual(len(warnings), 1)
        self.assertIn("duplicate skill name 'add'", warnings[0])

    def test_a_name_defined_twice_runs_the_definition_discovery_listed(self):
        # The first "greet" has a parameter no schema can express: discovery lists the second.
        first = "from skillgate_host.decorator import skill\n\n@skill('first')\ndef greet(x: complex):\n    return 'first'\n"
        second = "from skillgate_host.decorator import skill\n\n@skill('second')\ndef greet(name: str):\n    return 'second'\n"
        functions, entries, _, _ = self.discover({"a.py": first, "b.py": second})
        self.assertEqual(entries["greet"]["file"], "b.py")
        self.assertEqual(functions["greet"](name="x"), "second")


class DecoratorTest(unittest.TestCase):
    def test_marks_and_keeps_the_function(self):
        @skill("Twice", approval=True)
        def twice(x: int):
            """Doubles."""
            return 2 * x

        marks = {k: getattr(twice, k) for k in ("is_skill", "description", "requires_approval", "network")}
        self.assertEqual(marks, {"is_skill": True, "description": "Twice", "requires_approval": True, "network": False})
        self.assertEqual((twice.__name__, twice.__doc__, twice(x=4)), ("twice", "Doubles.", 8))
        self.assertEqual(parameters_of(twice)[0]["properties"], {"x": {"type": "integer"}})


class SchemaTest(unittest.TestCase):
    def test_type_schemas(self):
        self.assertEqual(type_schema(str), {"type": "string"})
        self.assertEqual(type_schema(typing.Literal["a", "b"]), {"enum": ["a", "b"], "type": "string"})
        self.assertEqual(type_schema(list[int]), {"type": "array", "items": {"type": "integer"}})
        self.assertEqual(type_schema(typing.Optional[int]), {"type": ["integer", "null"]})
        self.assertIsNone(type_schema(dict))

    def test_parameter_docs_in_both_styles(self):
        google = "Does it.\n\nArgs:\n    path (str): the file\n    n: how many\n"
        self.assertEqual(param_docs(google), {"path": "the file", "n": "how many"})
        self.assertEqual(param_docs(":param str path: the file\n:param n: how many"), {"path": "the file", "n": "how many"})


if __name__ == "__main__":
    unittest.main()
