"""HostConfig: what the gateway tells host.py (argv, JSON), typed. Field for field the
TypeScript `HostConfig` of src/skills/launcher.ts, in snake_case (JSON key `importTimeoutMs` is
field `import_timeout_ms`); test/fixtures/protocol/host-config.json is checked by both sides.

Each class declares its fields as annotations, the way a dataclass would, but the classes are
plain: a cold call starts a host per call, and `dataclasses` with `typing` (and the `inspect`,
`ast` and `dis` they pull in) cost it some 6 ms of imports. The annotations stay strings
(`from __future__ import annotations`) and this module reads the few forms it uses itself:
`int`, `str`, `bool`, a config class, `X | None` and `tuple[X, ...]`.

Unknown or missing keys are refused at start, so a field added on one side only fails loudly
instead of being ignored. Modules that read the config as the dict it used to be (`cfg["dir"]`,
`cfg.get("confine")`) keep working: each class also answers by JSON key, with the typed values.
"""

from __future__ import annotations

REQUIRED = object()  # a field's default when it has none


def json_key(field_name):
    head, *rest = field_name.split("_")
    return head + "".join(part.title() for part in rest)


class Field:
    """One declared field: its name, JSON key, default, and what it holds: `kind` (a type or a
    config class), `many` for a tuple of those, `nullable` for `| None`."""

    __slots__ = ("name", "key", "kind", "many", "nullable", "default")

    def __init__(self, name, annotation, default):
        self.name = name
        self.key = json_key(name)
        self.default = default
        text = annotation.strip()
        self.nullable = text.endswith("| None")
        if self.nullable:
            text = text[: -len("| None")].strip()
        self.many = text.startswith("tuple[") and text.endswith(", ...]")
        if self.many:
            text = text[len("tuple["):-len(", ...]")].strip()
        kind = _KINDS.get(text) or _CLASSES.get(text)
        if kind is None:
            raise TypeError(f"config field {name}: annotation {annotation!r} is not one this module reads")
        self.kind = kind

    def convert(self, value, where):
        """`value` from the JSON, checked against the annotation (nested classes built)."""
        if value is None and self.nullable:
            return None
        if self.many:
            if not isinstance(value, list):
                raise ValueError(f"{where}: expected a list")
            return tuple(self._one(v, where) for v in value)
        return self._one(value, where)

    def _one(self, value, where):
        kind = self.kind
        if issubclass(kind, _FromJson):
            return kind.from_json(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
        return value


_KINDS = {"int": int, "str": str, "bool": bool}
_CLASSES = {}  # name -> config class, filled as they are defined


class _FromJson:
    _fields: tuple[Field, ...] = ()

    def __init_subclass__(cls):
        _CLASSES[cls.__name__] = cls
        annotations = cls.__dict__.get("__annotations__", {})
        cls._fields = tuple(Field(name, text, cls.__dict__.get(name, REQUIRED)) for name, text in annotations.items())

    def __init__(self, **values):
        for field in self._fields:
            value = values.pop(field.name, field.default)
            if value is REQUIRED:
                raise TypeError(f"{type(self).__name__}: missing {field.name}")
            setattr(self, field.name, value)
        if values:
            raise TypeError(f"{type(self).__name__}: unknown {', '.join(sorted(values))}")

    @classmethod
    def fields(cls):
        """The declared fields, in order."""
        return cls._fields

    @classmethod
    def from_json(cls, data):
        """An instance from the gateway's JSON object; ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.key for f in cls._fields})
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
        values = {}
        for field in cls._fields:
            if field.key in data:
                values[field.name] = field.convert(data[field.key], f"{cls.__name__}.{field.key}")
            elif field.default is REQUIRED:
                raise ValueError(f"{cls.__name__}: missing field {field.key}")
        return cls(**values)

    def __getitem__(self, key):
        for field in self._fields:
            if field.key == key:
                return getattr(self, field.name)
        raise KeyError(key)

    def get(self, key, default=None):
        try:
            value = self[key]
        except KeyError:
            return default
        return default if value is None else value


class SkillLimits(_FromJson):
    """Resource limits of one skill process (src/skills/limits.ts)."""
    cpu_seconds: int
    as_bytes: int
    open_files: int
    file_bytes: int
    processes: int


class HostConfine(_FromJson):
    """Landlock: the domains host.py applies to itself and to every call (src/skills/sandbox.ts)."""
    kind: str
    abi: int
    protected: tuple[str, ...]
    read_only: tuple[str, ...]
    tmp_root: str
    network: bool


class CgroupSlot(_FromJson):
    """One per-call cgroup slot: descriptor numbers as the host sees them (src/skills/cgroups.ts)."""
    threads: tuple[int, ...]
    dir: int | None
    procs: int | None
    list: int
    oom: int | None


class HostCgroupConfig(_FromJson):
    memory_mb: int
    slots: tuple[CgroupSlot, ...]


class HostConfig(_FromJson):
    dir: str
    workspace: str
    limits: SkillLimits
    max_output_bytes: int
    timeout_ms: int
    import_timeout_ms: int
    run_as: str | None = None
    socket: str | None = None
    exclude: tuple[str, ...] = ()
    confine: HostConfine | None = None
    cgroups: HostCgroupConfig | None = None
