"""Typed run configurations: one tree per run, validated once, stored as ``config.json``, compared on ``--resume``.

A run config is a tree of dataclasses with sections such as ``data``, ``model`` (the model's own ``Config``),
``train`` and ``eval``. This module holds what every tree needs, whatever the family:

* :func:`to_dict` / :func:`from_dict`: the JSON form that ``config.json`` holds, type-checked field by field on
  the way back in, so a hand-edited file fails with one line naming the field;
* :func:`validate`: every section's ``check()`` runs once, before any work; each failure is one line that names
  the option and the fix (:func:`require` writes it);
* :func:`override`: dotted-path changes (``{"train.epochs": 3}``) for studies, benchmarks and the Python API;
* :func:`changed_fields`: what a resume would change, so a resume that alters the data, the split or the
  model is refused.

Field annotations carry the command line too (:mod:`latentworks.cli.parsing` derives every flag from them):
a comment after a field is its help text, :data:`Derived` marks a field that the pipeline fills from the data
(never a flag), and :func:`flag_alias` keeps an older spelling working.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

import tyro

from latentworks.checksum import verified
from latentworks.errors import LatentworksError

T = TypeVar("T")

#: A field the pipeline fills from the data (image size, vocabulary, ...): stored, never a command-line flag.
Derived = Annotated[T, tyro.conf.Suppress]


def flag_alias(*names: str) -> Any:
    """Annotation marker for extra spellings of a flag: ``Annotated[int, flag_alias("--batch")]``."""
    return tyro.conf.arg(aliases=names)


class ConfigError(LatentworksError):
    """A configuration value a user can fix; the message names the option."""


def flag(name: str) -> str:
    """The command-line spelling of a field name."""
    return "--" + name.replace("_", "-")


def require(ok: bool, name: str, value: Any, fix: str) -> None:
    """One-line error ``--name value: fix`` unless ``ok``."""
    if not ok:
        shown = repr(value) if isinstance(value, str) else value
        raise ConfigError(f"{flag(name)} {shown}: {fix}")


def positive(value: float | int | None) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def finite(value: float | int | None) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


# ------------------------------------------------------------------------------------------ walking the tree
def sections(cfg: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every dataclass node of the tree, depth first, with its dotted path ('' for the root)."""
    yield prefix, cfg
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from sections(value, f"{prefix}{f.name}.")


def validate(cfg: Any) -> Any:
    """Judge a whole tree in one place, before any work: every value against its field's type, then every
    section's ``check()``, leaves first. Returns ``cfg``; the first problem is a one-line :class:`ConfigError`."""
    nodes = list(sections(cfg))
    for _, node in nodes:
        hints = typing.get_type_hints(type(node), include_extras=True)
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if not dataclasses.is_dataclass(value):
                try:
                    _convert(hints[f.name], value, flag(f.name))
                except ConfigError as err:
                    raise ConfigError(str(err).replace(f"{flag(f.name)}: ", f"{flag(f.name)} ", 1)) from None
    for _, node in reversed(nodes):
        check = getattr(node, "check", None)
        if callable(check):
            check()
    return cfg


# ------------------------------------------------------------------------------------------ JSON form
def to_dict(cfg: Any) -> dict[str, Any]:
    """The JSON form of a config tree (tuples become lists)."""
    return _jsonable(dataclasses.asdict(cfg))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build ``cls`` from its JSON form, checking every value against the field's type.

    Unknown keys and values of the wrong type are one-line errors naming the dotted field; missing keys keep
    the field's default (so a config written by an older latentworks still loads).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field {'.'.join([where, unknown[0]])!r}; "
                          f"known fields: {', '.join(fields)}")
    kwargs = {name: _convert(hints[name], data[name], f"{where}.{name}") for name in fields if name in data}
    try:
        return cls(**kwargs)
    except LatentworksError as err:
        raise ConfigError(f"{where}: {err}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _convert(tp: Any, value: Any, where: str) -> Any:
    tp = _strip(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of its types")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        converted = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(converted) if origin is tuple else converted
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected an object, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def load_json(path: str | Path) -> Any:
    """A JSON file as data; every failure to read or parse is one line naming the file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a config file; pass the run's config.json")
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; pass a config.json written by --print-config or a run") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; pass a JSON config file") from None
    except OSError as err:
        raise ConfigError(f"cannot read {path} ({err.strerror or err}); check the path and its permissions") from None
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}); fix or regenerate it") from None
    return verified(path, tree)  # a run's config.json carries a checksum: edited by hand, it is refused


# ------------------------------------------------------------------------------------------ changing a tree
def override(cfg: T, changes: Mapping[str, Any]) -> T:
    """A copy of ``cfg`` with dotted-path fields replaced: ``override(cfg, {"train.epochs": 3})``."""
    for path, value in changes.items():
        cfg = _replace_path(cfg, path.split("."), value, path)
    return cfg


def _replace_path(node: Any, parts: list[str], value: Any, path: str) -> Any:
    names = {f.name for f in dataclasses.fields(node)}
    if parts[0] not in names:
        raise ConfigError(f"no field {path!r} in {type(node).__name__}; known: {', '.join(sorted(names))}")
    if len(parts) == 1:
        return dataclasses.replace(node, **{parts[0]: value})
    child = _replace_path(getattr(node, parts[0]), parts[1:], value, path)
    return dataclasses.replace(node, **{parts[0]: child})


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"epochs": 3}}`` → ``{"train.epochs": 3}``."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any], free: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths whose values differ between two JSON trees, leaving out those under a ``free`` prefix."""
    a, b = flatten(old), flatten(new)
    keys = sorted(set(a) | set(b))
    return [k for k in keys if a.get(k) != b.get(k) and not any(k == f or k.startswith(f + ".") for f in free)]


__all__ = [
    "ConfigError",
    "Derived",
    "changed_fields",
    "flag",
    "flag_alias",
    "flatten",
    "from_dict",
    "load_json",
    "override",
    "positive",
    "require",
    "to_dict",
    "validate",
]
