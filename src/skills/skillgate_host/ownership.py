"""Which skill file a skill belongs to.

A skill imported by name from another file (`from other import greet`) is registered by the file
that defines it, not listed a second time here. A skill decorated here is this file's, whoever
wrote the decorator: a shared decorator in `_common.py` without functools.wraps leaves the
wrapper's `__module__` and code in `_common.py`, but the function it wraps was defined here. So a
callable is this file's when its `__module__` says so (which also covers classes and exec'd
functions) or when any code behind it (the wrapper, what it wraps, what its closure holds) was
defined in this file.
"""

import functools
import os
import types

MAX_DEPTH = 4  # decorators nest a few levels at most
MAX_VISITED = 64  # bounds the walk over closures and attributes of odd callables
CO_VARKEYWORDS = 0x08  # inspect.CO_VARKEYWORDS, without importing inspect (see discovery.py)


def owned_by(obj, module):
    """(True, None) when `obj` belongs to `module`; else (False, where it comes from)."""
    if _module_name(obj) == module.__name__:
        return True, None
    here = _normalize(getattr(module, "__file__", None))
    innermost = None  # breadth-first: the last file seen is that of the most deeply wrapped code
    for filename in _code_files(obj):
        if here is not None and _normalize(filename) == here:
            return True, None
        innermost = filename
    if innermost is not None:
        return False, os.path.basename(innermost)
    return False, f"module {_module_name(obj) or '?'}"


def _module_name(obj):
    try:
        name = getattr(obj, "__module__", None)
    except Exception:  # a skill file's object may raise anything from its attribute hooks
        return None
    return name if isinstance(name, str) else None


def _normalize(path):
    return os.path.normcase(os.path.abspath(path)) if isinstance(path, str) else None


def _code_files(obj):
    """co_filename of every Python function behind `obj`, breadth-first and bounded."""
    queue, seen = [(obj, 0)], set()
    while queue and len(seen) < MAX_VISITED:
        current, depth = queue.pop(0)
        if id(current) in seen or depth > MAX_DEPTH:
            continue
        seen.add(id(current))
        code = getattr(current, "__code__", None) if isinstance(current, types.FunctionType) else None
        if isinstance(code, types.CodeType):
            yield code.co_filename
        queue.extend((inner, depth + 1) for inner in _wrapped_by(current))


def _wrapped_by(obj):
    """The callables `obj` may wrap: __wrapped__, a bound method's function, a partial's function,
    closure cells and, for callable instances, their attributes and class's __call__."""
    found = []
    try:
        for attr in ("__wrapped__", "__func__"):
            inner = getattr(obj, attr, None)
            if callable(inner):
                found.append(inner)
        if isinstance(obj, functools.partial):
            found.append(obj.func)
        if isinstance(obj, types.FunctionType):
            for cell in obj.__closure__ or ():
                try:
                    if callable(cell.cell_contents):
                        found.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
        elif not isinstance(obj, type):
            found.extend(v for v in getattr(obj, "__dict__", {}).values() if isinstance(v, types.FunctionType))
            call = getattr(type(obj), "__call__", None)
            if isinstance(call, types.FunctionType):
                found.append(call)
    except Exception:  # odd objects: what we found so far is enough
        pass
    return found


def forwarded_function(obj, module):
    """The function of this file that a pass-through wrapper forwards to, or None.

    What functools.wraps would have said: a decorator without it leaves a wrapper taking only
    (*args, **kwargs), named "wrapper", without the docstring. When its closure holds exactly one
    function defined in this file, that function's name, parameters and docstring are the skill's.
    """
    if not isinstance(obj, types.FunctionType) or hasattr(obj, "__wrapped__"):
        return None
    code = obj.__code__
    if code.co_argcount or code.co_kwonlyargcount or not code.co_flags & CO_VARKEYWORDS:
        return None  # parameters of its own are the skill's; without **kwargs it forwards none
    here = _normalize(getattr(module, "__file__", None))
    inner = []
    for cell in obj.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, types.FunctionType) and _normalize(value.__code__.co_filename) == here:
            inner.append(value)
    return inner[0] if len(inner) == 1 else None


def renamed(func):
    """True when a decorator set the wrapper's __name__ on purpose."""
    return func.__name__ != func.__code__.co_name
