"""HostConfig: what the gateway tells host.py (argv, JSON), typed. Field for field the
TypeScript `HostConfig` of src/skills/launcher.ts, in snake_case (JSON key `importTimeoutMs` is
field `import_timeout_ms`); test/fixtures/protocol/host-config.json is checked by both sides.

Plain dataclasses (no eq, repr or frozen): those cost a millisecond more to define, and a host
starts for every cold call.

Unknown or missing keys are refused at start, so a field added on one side only fails loudly
instead of being ignored. Modules that read the config as the dict it used to be (`cfg["dir"]`,
`cfg.get("confine")`) keep working: each class also answers by JSON key, with the typed values.
"""

import dataclasses
import typing
from dataclasses import dataclass
from typing import Optional

NONE_TYPE = type(None)


def json_key(field_name):
    head, *rest = field_name.split("_")
    return head + "".join(part.title() for part in rest)


class _FromJson:
    @classmethod
    def from_json(cls, data):
        """An instance from the gateway's JSON object; ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {json_key(f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
        values = {}
        for key, field in fields.items():
            if key in data:
                values[field.name] = _convert(hints[field.name], data[key], f"{cls.__name__}.{key}")
            elif field.default is dataclasses.MISSING:
                raise ValueError(f"{cls.__name__}: missing field {key}")
        return cls(**values)

    def __getitem__(self, key):
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            if json_key(field.name) == key:
                return getattr(self, field.name)
        raise KeyError(key)

    def get(self, key, default=None):
        try:
            value = self[key]
        except KeyError:
            return default
        return default if value is None else value


def _convert(kind, value, where):
    """`value` checked against the annotation `kind` (nested classes built from their JSON)."""
    if typing.get_origin(kind) is typing.Union:
        options = [k for k in typing.get_args(kind) if k is not NONE_TYPE]
        return None if value is None else _convert(options[0], value, where)
    if isinstance(kind, type) and issubclass(kind, _FromJson):
        return kind.from_json(value)
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list")
        return tuple(_convert(item, v, where) for v in value)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ValueError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value


@dataclass(eq=False, repr=False)
class SkillLimits(_FromJson):
    """Resource limits of one skill process (src/skills/limits.ts)."""
    cpu_seconds: int
    as_bytes: int
    open_files: int
    file_bytes: int
    processes: int


@dataclass(eq=False, repr=False)
class HostConfine(_FromJson):
    """Landlock: the domains host.py applies to itself and to every call (src/skills/sandbox.ts)."""
    kind: str
    abi: int
    protected: tuple[str, ...]
    read_only: tuple[str, ...]
    tmp_root: str
    network: bool


@dataclass(eq=False, repr=False)
class CgroupSlot(_FromJson):
    """One per-call cgroup slot: descriptor numbers as the host sees them (src/skills/cgroups.ts)."""
    threads: tuple[int, ...]
    dir: Optional[int]
    procs: Optional[int]
    list: int
    oom: Optional[int]


@dataclass(eq=False, repr=False)
class HostCgroupConfig(_FromJson):
    memory_mb: int
    slots: tuple[CgroupSlot, ...]


@dataclass(eq=False, repr=False)
class HostConfig(_FromJson):
    dir: str
    workspace: str
    limits: SkillLimits
    max_output_bytes: int
    timeout_ms: int
    import_timeout_ms: int
    run_as: Optional[str] = None
    socket: Optional[str] = None
    exclude: tuple[str, ...] = ()
    confine: Optional[HostConfine] = None
    cgroups: Optional[HostCgroupConfig] = None
