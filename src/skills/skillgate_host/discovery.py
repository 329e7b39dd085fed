"""Discovery: import skill files, find the skills in them, derive JSON schemas from signatures.

Only discovery derives schemas. The warm host and a cold call need the functions by name, the same
choice discovery made (find_functions), which takes inspect and typing only for a name defined
twice: those two imports (with ast, dis, tokenize) are some 5 ms of every cold call's start.
"""

import collections
import importlib.util
import json
import os
import re
import signal
import sys
import types

from .ownership import forwarded_function, owned_by, renamed
from .wire import describe_exception


class ImportTimeout(Exception):
    pass


def _raise_import_timeout(_signum, _frame):
    raise ImportTimeout("importing took too long (a loop or a blocking call at module level?)")


def skill_files(directory):
    """([every *.py in `directory` not starting with `_`], errors)."""
    try:
        return sorted(f for f in os.listdir(directory) if f.endswith(".py") and not f.startswith("_")), []
    except OSError as err:
        return [], [{"file": directory, "error": f"cannot list the skills folder: {err}"}]


def import_skill_files(directory, timeout_s, exclude=(), before_each=None):
    """Imports every skill file of `directory` but `exclude` in this process, calling
    before_each(file) first. Returns (modules, errors)."""
    files, errors = skill_files(directory)
    modules, more = _import_files(directory, [f for f in files if f not in exclude], timeout_s, before_each)
    return modules, errors + more


def import_one_file(directory, file, timeout_s):
    """The cold path imports just the file that defines the skill."""
    if not isinstance(file, str) or "/" in file or not file.endswith(".py"):
        return {}, [{"file": str(file), "error": "bad file name"}]
    return _import_files(directory, [file], timeout_s)


def _import_files(directory, files, timeout_s, before_each=None):
    if directory not in sys.path:
        sys.path.insert(0, directory)  # skill files import their own helpers (e.g. _workspace.py)
    modules, errors = {}, []
    previous = signal.signal(signal.SIGALRM, _raise_import_timeout)
    try:
        for file in files:
            name = "skillgate_skill_" + re.sub(r"\W", "_", file[:-3])
            if before_each is not None:
                before_each(file)
            try:
                spec = importlib.util.spec_from_file_location(name, os.path.join(directory, file))
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {file} as a module")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                signal.setitimer(signal.ITIMER_REAL, timeout_s)
                spec.loader.exec_module(module)
                modules[file] = module
            except BaseException as err:  # a skill file may raise anything, even SystemExit
                sys.modules.pop(name, None)
                errors.append({"file": file, "error": describe_exception(err)})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return modules, errors


def find_skills(modules):
    """Returns (functions by name, registry entries, warnings) of imported skill files."""
    return merge_skills((file, *skills_in_module(file, module)) for file, module in modules.items())


def find_functions(modules):
    """The functions by name, for the names find_skills returns the same function, without
    registry entries. Also a skill whose schema cannot be derived, which discovery leaves out of
    the registry: the gateway calls only what its registry lists, so it is never called. Only
    where that changes which definition a name gets (one defined twice) is the schema derived."""
    candidates = [(name, obj, forwarded) for file, module in modules.items() for name, obj, forwarded in named_skills(file, module)[0]]
    seen = collections.Counter(name for name, _, _ in candidates)
    functions = {}
    for name, obj, forwarded in candidates:
        if name in functions or (seen[name] > 1 and not parameters_of(forwarded or obj)[2]):
            continue
        functions[name] = obj
    return functions


def skills_in_module(file, module):
    """([(entry, function)], warnings) of one imported file, before any check across files."""
    named, warnings = named_skills(file, module)
    found = []
    for name, obj, forwarded in named:
        parameters, notes, usable = parameters_of(forwarded or obj)
        warnings.extend(f"{file}: skill {name!r}: {n}" for n in notes)
        if not usable:
            continue
        found.append(({
            "name": name,
            "description": description_of(obj, name, forwarded),
            "parameters": parameters,
            "file": file,
            "requiresApproval": bool(getattr(obj, "requires_approval", False)),
            "network": bool(getattr(obj, "network", False)),
        }, obj))
    return found, warnings


def named_skills(file, module):
    """([(name, function, forwarded)], warnings): the skills this file defines, by the name they
    are called by (forwarded: the function a pass-through wrapper stands for, or None)."""
    found, warnings = [], []
    for attr, obj in list(vars(module).items()):
        if not _marked_as_skill(obj):
            continue
        mine, origin = owned_by(obj, module)
        if not mine:
            # Imported by name: the file that defines it registers it, it is not listed twice.
            warnings.append(f"{file}: skill {attr!r} skipped here: it is defined in {origin} and only imported by this file")
            continue
        # A decorator without functools.wraps: the decorated function speaks for its wrapper.
        forwarded = forwarded_function(obj, module)
        name = getattr(obj, "__name__", attr)
        if forwarded is not None and not renamed(obj):
            name = forwarded.__name__
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            warnings.append(f"{file}: skill {name!r} skipped: its name must be a Python identifier of at most 64 characters")
            continue
        found.append((name, obj, forwarded))
    return found, warnings


def merge_skills(per_file):
    """per_file: (file, [(entry, function)], warnings) in file order. The first definition of a
    name wins; a later one is a warning. Returns (functions by name, entries, warnings)."""
    functions, entries, warnings, owner = {}, [], [], {}
    for file, found, notes in per_file:
        warnings.extend(notes)
        for entry, func in found:
            name = entry["name"]
            if name in owner:
                warnings.append(f"{file}: duplicate skill name {name!r} (already defined in {owner[name]}); this one is ignored")
                continue
            owner[name] = file
            functions[name] = func
            entries.append(entry)
    return functions, entries, warnings


def _marked_as_skill(obj):
    try:
        return callable(obj) and bool(getattr(obj, "is_skill", False))
    except Exception:  # an object whose attribute hooks raise is not a skill
        return False


def description_of(func, name, forwarded=None):
    text = getattr(func, "description", None)
    if isinstance(text, str) and text.strip():
        return " ".join(text.split())
    import inspect

    doc = inspect.getdoc(func) or (inspect.getdoc(forwarded) if forwarded is not None else None) or ""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split()) or name.replace("_", " ")


PRIMITIVES = {str: "string", int: "integer", float: "number", bool: "boolean"}
NONE_TYPE = type(None)


def type_schema(annotation):
    """JSON schema of one annotation, or None when unsupported."""
    import typing

    if annotation in PRIMITIVES:
        return {"type": PRIMITIVES[annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        values = list(args)
        if not values or not all(type(v) in PRIMITIVES for v in values):
            return None
        kinds = {PRIMITIVES[type(v)] for v in values}
        schema: dict[str, object] = {"enum": values}
        if len(kinds) == 1:
            schema["type"] = kinds.pop()
        return schema
    if origin in (list, typing.List) and len(args) == 1 and args[0] in PRIMITIVES:
        return {"type": "array", "items": {"type": PRIMITIVES[args[0]]}}
    if origin in (typing.Union, types.UnionType) and NONE_TYPE in args:
        rest = [a for a in args if a is not NONE_TYPE]
        inner = type_schema(rest[0]) if len(rest) == 1 else None
        if inner is None:
            return None
        if "enum" in inner:
            return {**inner, "enum": inner["enum"] + [None], **({"type": [inner["type"], "null"]} if "type" in inner else {})}
        return {**inner, "type": [inner["type"], "null"]}
    return None


def parameters_of(func):
    """(JSON schema, warnings, usable). Unsupported optional parameters are hidden; required ones skip the skill."""
    import inspect
    import typing

    schema = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    notes = []
    try:
        signature = inspect.signature(func)  # follows __wrapped__ set by functools.wraps
    except (TypeError, ValueError) as err:
        return schema, [f"exposed without arguments: its signature cannot be read ({err})"], True
    try:
        hints = typing.get_type_hints(inspect.unwrap(func))
    except Exception:
        hints = {}
    docs = param_docs(inspect.getdoc(func) or "")
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind == param.VAR_POSITIONAL else "**"
            notes.append(f"{star}{name} is not exposed (only named, typed parameters become arguments)")
            continue
        if param.kind == param.POSITIONAL_ONLY:
            if param.default is param.empty:
                return schema, [f"skipped: positional-only parameter {name!r} cannot be passed by name"], False
            continue
        annotation = hints.get(name, param.annotation)
        has_default = param.default is not param.empty
        if annotation is param.empty:
            annotation = type(param.default) if has_default and type(param.default) in PRIMITIVES else str
        prop = type_schema(annotation)
        if prop is None:
            if has_default:
                notes.append(f"parameter {name!r} has an unsupported type ({annotation!r}) and is not exposed; its default is used")
                continue
            return schema, [f"skipped: required parameter {name!r} has an unsupported type ({annotation!r}); use str, int, float, bool, Literal, Optional or list[str]"], False
        if name in docs:
            prop["description"] = docs[name]
        if has_default:
            try:
                json.dumps(param.default)
                prop["default"] = param.default
            except (TypeError, ValueError):
                pass
        else:
            schema["required"].append(name)
        schema["properties"][name] = prop
    return schema, notes, True


def param_docs(doc):
    """Parameter descriptions from Google style (`Args:` / `name (type): text`) or Sphinx (`:param name: text`)."""
    found = {}
    for match in re.finditer(r":param\s+(?:\w+\s+)?(\w+):\s*(.+)", doc):
        found[match.group(1)] = match.group(2).strip()
    section = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?|\s*\n)+)", doc, re.M)
    if section:
        for match in re.finditer(r"^[ \t]+(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$", section.group(1), re.M):
            found.setdefault(match.group(1), match.group(2).strip())
    return found
