"""A verb's options as plain data, read from the very parser tyro builds for it (flags, types, choices, defaults,
help, required). ``scripts/make_cli_schema.py`` writes these to the packaged ``cli/schema/*.json``; the command
line's ``--help`` is rendered from them (:func:`latentworks.cli.schema.render`) with or without torch loaded."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import tyro

from latentworks.cli.schema import clean

# How every verb's parser is built (parsing.parse uses the same): flat flags, --latent-dim not --run.model.latent-dim.
TYRO_CONFIG = (tyro.conf.OmitArgPrefixes,)


def _option(action: argparse.Action) -> dict[str, Any]:
    text = " ".join(str(action.help or "").split())
    default = None
    at = text.rfind("(default: ")  # tyro appends its own last, after any the help itself gives
    if at >= 0 and text.endswith(")"):
        text, default = text[:at].rstrip(), text[at + len("(default: "):-1]
    text = clean(text.removesuffix("(required)").rstrip())  # the page says (required) from the flag
    if default == "None" or "default:" in text:  # unset, or the help already says what the default is
        default = None
    metavar, nargs = action.metavar, action.nargs
    choices = [str(c) for c in action.choices] if action.choices else None
    if choices and "None" in choices:
        # tyro lists a Literal joined with None in set order, which varies from run to run: one order for all
        choices = ["None", *sorted(c for c in choices if c != "None")]
        if isinstance(metavar, str) and metavar.startswith("{") and set(metavar[1:-1].split(",")) == set(choices):
            metavar = "{" + ",".join(choices) + "}"
    return {"flags": list(action.option_strings), "dest": action.dest, "metavar": metavar,
            "nargs": nargs if nargs is not None else 1, "choices": choices,
            "help": text, "default": default, "required": bool(action.required)}


def _title(group: argparse._ArgumentGroup) -> str:
    title = str(group.title or "")
    if title == "positional arguments":
        return "arguments"
    # tyro names a group by its path in the config tree ("run.data options"); its last part is the section.
    return title.removesuffix(" options").rsplit(".", 1)[-1] or "options"


def describe(cls: Any, default: Any = None, description: str | None = None) -> dict[str, Any]:
    """The options of ``tyro.cli(cls, default=default)`` as plain data, in tyro's order and groups."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # get_parser is the supported read-only view
        parser = tyro.extras.get_parser(cls, default=default, description=description, config=TYRO_CONFIG)
    groups = []
    for group in parser._action_groups:
        options = [_option(a) for a in group._group_actions if not {"-h", "--help"} & set(a.option_strings)]
        if options:
            groups.append({"title": _title(group), "about": clean(str(group.description or "")), "options": options})
    return {"description": clean(description or ""), "groups": groups}


__all__ = ["TYRO_CONFIG", "describe"]
