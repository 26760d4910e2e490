"""The command line, derived from the config dataclasses by tyro.

Every flag is a dataclass field: its name is the field's name, its help the comment beside it, its default the
recipe's value. tyro was chosen for this because it builds a flat, typed parser from nested dataclasses with no
second declaration (``OmitArgPrefixes`` keeps ``--latent-dim`` rather than ``--run.model.latent-dim``), reads
help from field comments, and takes a whole config instance as the defaults, which is how recipes and
``--config FILE`` work. Its multi-line error boxes are turned into latentworks' one-line errors here.

A train command is parsed in two steps: the selectors (``--model``, ``--task``, ``--preset``, ``--backend`` and
``--config``) pick the concrete config class and its recipe, then tyro parses everything against that tree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Generic, TypeVar

import tyro

from latentworks.cli.schema import HELP, render, unknown_option
from latentworks.cli.schema.tree import TYRO_CONFIG, describe
from latentworks.config import ConfigError, load_json, override, to_dict, validate
from latentworks.errors import LatentworksError

T = TypeVar("T")


class ParseError(LatentworksError):
    """A command line tyro rejected, as one line."""


@dataclass
class TrainOptions:
    """Where the run goes, and how it starts."""

    # --print-config needs no folder; every other use does (checked after the parse, with one-line errors)
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR", help="run folder to write",
                                             help_behavior_hint="(required, unless --print-config)")] = None
    resume: bool = False  # continue the run in --out from its newest intact checkpoint
    overwrite: bool = False  # move a run already in --out aside (to <out>.old-N) and start afresh
    config: str | None = None  # start from this config.json (what --print-config prints, or a run's config.json)
    print_config: bool = False  # print the resolved config as JSON and exit


@dataclass
class TrainCommand(Generic[T]):
    run: T
    options: TrainOptions = field(default_factory=TrainOptions)


# ------------------------------------------------------------------------------------------ tyro, one line
def _flag_of(argument: Any) -> str:
    for getter in (lambda a: a.lowered.name_or_flags[0], lambda a: a.display_name()):
        try:
            return str(getter(argument))
        except (AttributeError, IndexError, TypeError):
            continue
    return "an option"


def _one_line(event: Any, prog: str, hints: dict[str, str], flags: Callable[[], list[str]]) -> str:
    name = type(event).__name__
    see = f"see `{prog} --help`"
    if name == "UnrecognizedArgs":
        token = next((t for t in event.tokens if t.startswith("-")), event.tokens[0])
        flag = token.split("=", 1)[0]
        if flag in hints:
            return hints[flag]
        if token.startswith("-") and len(flag) <= 40:
            return unknown_option(flag, flags(), prog)
        shown = token if len(token) <= 40 else token[:37] + "..."
        return f"unexpected argument {shown!r} for `{prog}`; {see}"
    if name == "InvalidChoice":
        return (f"{_flag_of(event.argument)} {event.value!r} is not a choice; use one of "
                f"{', '.join(map(str, event.choices))}")
    if name == "MissingArgs":
        names = ", ".join(_flag_of(a.arg) for a in event.missing_arguments)
        return f"missing {names}; {see}"
    if name == "BadValue":
        return f"{_flag_of(event.argument)} needs a value; {see}"
    if name == "InstantiationFailure":
        message = re.sub(r"^Error parsing ", "", str(event.message).strip().splitlines()[0])
        if getattr(event, "argument", None) is not None and not message.startswith("-"):
            message = f"{_flag_of(event.argument)}: {message}"
        return f"{message}; {see}"
    return f"the command line was not understood; {see}"


def _strip_box(text: str) -> str:
    lines = [re.sub(r"[│╭╮╰╯─┬┴├┤]", "", line).strip() for line in text.splitlines()]
    useful = [ln for ln in lines if ln and not ln.startswith(("For full helptext", "Argument helptext", "usage:"))]
    return useful[1] if len(useful) > 1 else (useful[0] if useful else "the command line was not understood")


def parse(cls: Any, argv: Sequence[str], *, prog: str, description: str | None = None, default: Any = None,
          hints: dict[str, str] | None = None) -> Any:
    """``cls`` from ``argv`` with tyro; a rejected command line is a :class:`ParseError` of one line. ``--help``
    is the page :func:`latentworks.cli.schema.render` writes, the same as before torch is imported."""
    from tyro import _errors

    if any(token in HELP for token in argv):
        print(render(describe(cls, default, description), prog))
        raise SystemExit(0)

    def flags() -> list[str]:
        return [f for g in describe(cls, default)["groups"] for o in g["options"] for f in o["flags"]]

    def hook(event: Any) -> None:
        raise ParseError(_one_line(event, prog, hints or {}, flags))

    captured = io.StringIO()
    try:
        with _errors.on_parse_error(hook), contextlib.redirect_stderr(captured):
            return tyro.cli(cls, args=list(argv), prog=prog, description=description, default=default,
                            config=TYRO_CONFIG)
    except SystemExit as done:
        if done.code in (0, None):
            raise
        raise ParseError(_strip_box(captured.getvalue())) from None


def option_value(argv: Sequence[str], names: Sequence[str]) -> str | None:
    """The value of the last ``--name VALUE`` / ``--name=VALUE`` among ``names`` in ``argv`` (no parsing)."""
    found = None
    for i, token in enumerate(argv):
        for name in names:
            if token == name and i + 1 < len(argv):
                found = argv[i + 1]
            elif token.startswith(name + "="):
                found = token.split("=", 1)[1]
    return found


# ------------------------------------------------------------------------------------------ train commands
@dataclass
class TrainFamily:
    """How one family's train command picks its config: selectors → a recipe, or a config file."""

    recipes: ModuleType  # latentworks.recipes.<family>
    selectors: dict[str, tuple[str, ...]]  # recipe() keyword -> the flags that set it
    default_recipe: Callable[[dict[str, str]], str]  # the recipe name when --preset is not given
    run_classes: Callable[[], list[type]]  # every concrete run class (for "not an option of this model" hints)
    alias: Callable[[str, Any], str] = lambda name, run: name  # the recipe a --preset stands for in this run


def option_hints(classes: list[type], chosen: type, what: Callable[[type], str]) -> dict[str, str]:
    """One-line messages for flags that exist, but not for the chosen model / task."""
    owners: dict[str, list[str]] = {}
    for cls in classes:
        for name in _flags(cls):
            owners.setdefault(name, []).append(what(cls))
    mine = set(_flags(chosen))
    return {f: f"{f} is an option of {' / '.join(dict.fromkeys(o))}, not of {what(chosen)}"
            for f, o in owners.items() if f not in mine}


def _flags(cls: type) -> list[str]:
    """Every flag of a config class: field names and their aliases."""
    import typing

    out = []
    hints = typing.get_type_hints(cls, include_extras=True)
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        metadata = getattr(tp, "__metadata__", ())
        if dataclasses.is_dataclass(typing.get_args(tp)[0] if metadata else tp):
            out += _flags(typing.get_args(tp)[0] if metadata else tp)
            continue
        out.append("--" + f.name.replace("_", "-"))
        for meta in metadata:
            out += [a for a in (getattr(meta, "aliases", None) or ()) if a.startswith("--")]
    return out


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def parse_train(family: TrainFamily, argv: Sequence[str], prog: str, description: str,
                hints_for: Callable[[type], dict[str, str]] | None = None) -> tuple[Any, TrainOptions] | None:
    """The validated run config and the options of a train command; None after ``--print-config``."""
    argv = list(argv)
    picked = {key: option_value(argv, flags) for key, flags in family.selectors.items()}
    config_file = option_value(argv, ("--config",))
    out = option_value(argv, ("--out",))
    resuming = "--resume" in argv and config_file is None and out and (Path(out) / "config.json").is_file()
    if resuming:
        # A resume starts from the run's own settings; options given now must agree (or only change logging).
        config_file = str(Path(out) / "config.json")
    if config_file is not None:
        base = family.recipes.from_json(load_json(config_file))
        for key, value in picked.items():
            stored = _dotted(base, "recipe" if key == "name" else key)
            if key == "name" and value is not None:
                value = family.alias(value, base)
            if value is not None and value != stored:
                if resuming:
                    raise ConfigError(f"{out} holds a '{stored}' run, not '{value}'; drop "
                                      f"{family.selectors[key][0]} to resume it, or pick another --out")
                raise ConfigError(f"{family.selectors[key][0]} {value} contradicts --config {config_file}, which "
                                  f"holds {stored}; drop one of them")
    else:
        chosen = {k: v for k, v in picked.items() if v is not None and k != "name"}
        name = picked.get("name") or family.default_recipe(chosen)
        base = family.recipes.recipe(name, **chosen)
    hints = hints_for(type(base)) if hints_for else {}
    command = parse(TrainCommand[type(base)], argv, prog=prog, description=description,
                    default=TrainCommand(run=base), hints=hints)
    cfg, name = command.run, family.alias(command.run.recipe, command.run)
    if name != cfg.recipe:  # the base already has that recipe's settings; name it truly
        cfg = override(cfg, {"recipe": name})
    cfg = validate(cfg)
    cfg = validate(family.recipes.resolve(cfg))  # the fields the data decides (sizes, vocabulary)
    if command.options.print_config:
        print(json.dumps({"family": cfg.family, **to_dict(cfg)}, indent=2))
        return None
    if command.options.out is None:
        raise ConfigError(f"--out is required: name the run folder to write (or pass --print-config); "
                          f"see `{prog} --help`")
    return cfg, command.options


def train_command(family: TrainFamily, argv: Sequence[str], prog: str, description: str,
                  train_fn: Callable[..., dict[str, Any] | None], summary: Callable[[dict[str, Any]], dict[str, Any]],
                  hints_for: Callable[[type], dict[str, str]] | None = None) -> int:
    """A whole train verb: parse, train into ``--out``, print one JSON line of ``summary(results)``."""
    parsed = parse_train(family, argv, prog, description, hints_for)
    if parsed is None:
        return 0
    cfg, opts = parsed
    results = train_fn(cfg, opts.out, resume=opts.resume, overwrite=opts.overwrite)
    if results is not None:  # None: a torchrun rank that does not write
        print(json.dumps({"out": opts.out, **summary(results)}))
    return 0


__all__ = ["ParseError", "TrainCommand", "TrainFamily", "TrainOptions", "option_hints", "option_value", "parse",
           "parse_train"]
