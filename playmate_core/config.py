"""The one configuration mechanism: frozen dataclasses that read and write plain JSON-style dicts.

Every config (renderer networks, motion families, training) subclasses :class:`Config` and is declared with
``@dataclass(frozen=True)``. ``to_dict`` gives nested dicts with lists for tuples (what ``json.dumps`` stores in
files and safetensors metadata, key for key the layout ``dataclasses.asdict`` wrote before). ``from_dict(values,
source)`` is its inverse: it rejects unknown keys and values of the wrong type, naming ``source`` (the file) and
the dotted key; missing keys take the field's default. ``validate()`` (called on construction, so also by
``dataclasses.replace`` and :meth:`Config.updated`) raises ValueError for values out of range.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any, Union


class ConfigError(ValueError):
    """A config dict or file that does not match its dataclass (the message names the source and the key)."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every config dataclass (subclasses are ``@dataclass(frozen=True)`` too)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError for values out of range (subclasses override)."""

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Any, source: str = "config"):
        """A dict (parsed JSON) -> config; ConfigError names ``source`` and the key for unknown keys / wrong types."""
        return _build(cls, values, source, "")

    @classmethod
    def from_json_file(cls, path: str, source: str | None = None):
        """Read a JSON file; errors name ``source`` (default: the file's name)."""
        source = source or os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            try:
                values = json.load(f)
            except json.JSONDecodeError as err:
                raise ConfigError(f"{source}: not valid JSON ({err})") from None
        return cls.from_dict(values, source)

    def updated(self, changes: dict, source: str = "config"):
        """A copy with ``changes`` (a nested dict of the same layout, e.g. {"stage1": {"steps": 5}}) applied."""
        return self.from_dict(_merge(self.to_dict(), changes), source)


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _merge(base: dict, changes: dict) -> dict:
    merged = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict) and key in merged
        merged[key] = _merge(merged[key], value) if nested else value
    return merged


def _build(cls, values: Any, source: str, path: str):
    where = f"{source}: {path}" if path else source
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(values).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid keys: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name in values:
            key = f"{path}.{field.name}" if path else field.name
            kwargs[field.name] = _convert(hints[field.name], values[field.name], source, key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing key {field.name!r}")
    try:
        return cls(**kwargs)
    except ValueError as err:  # from validate(), also for configs it builds (e.g. a training config's model)
        raise ConfigError(f"{where}: {err}") from None


def _convert(kind: Any, value: Any, source: str, key: str) -> Any:
    """Check ``value`` against the annotation ``kind`` and convert it (lists -> tuples, ints -> floats)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        kind = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(kind), typing.get_args(kind)
    if isinstance(kind, type) and issubclass(kind, Config):
        return _build(kind, value, source, key)
    if origin is tuple:
        if isinstance(value, (list, tuple)):
            items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
            if len(items) == len(value):
                return tuple(_convert(k, v, source, f"{key}[{i}]") for i, (k, v) in enumerate(zip(items, value)))
        return _wrong(kind, value, source, key)
    if origin is dict or kind is dict:
        return dict(value) if isinstance(value, dict) else _wrong("a JSON object", value, source, key)
    if kind is bool:
        return value if isinstance(value, bool) else _wrong(kind, value, source, key)
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else _wrong(kind, value, source, key)
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok else _wrong(kind, value, source, key)
    if kind is str:
        return value if isinstance(value, str) else _wrong(kind, value, source, key)
    raise TypeError(f"config field {key}: unsupported annotation {kind!r}")


def _wrong(kind: Any, value: Any, source: str, key: str):
    name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if typing.get_origin(kind) is tuple:
        name = "a list " + ("of " + typing.get_args(kind)[0].__name__ if typing.get_args(kind)[-1] is Ellipsis
                            else f"of {len(typing.get_args(kind))} values")
    raise ConfigError(f"{source}: {key} must be {name}, got {value!r}")
