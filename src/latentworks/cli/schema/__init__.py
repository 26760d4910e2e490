"""Every verb's options, packaged as JSON, so that ``--help`` and a mistyped flag are answered before torch loads.

The train verbs' options are the run config tree, whose classes live beside their torch modules: reading them
imports torch (seconds). ``scripts/make_cli_schema.py`` writes ``<command>[-<verb>].json`` here from the parser
tyro builds for each verb (:mod:`.tree`), once per value of the verb's selectors (``--task``, ``--preset``,
``--model``, ...), and a test regenerates them and compares, so they cannot drift. :func:`answer` reads the one
file of the verb asked for: it prints the help, or refuses an unknown flag ("did you mean ...") or a value that is
not a choice; anything it does not know for certain (a ``--config`` file, a selector value it was not written for,
a flag of another model) it leaves to the real parse, which renders its help the same way.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latentworks.errors import LatentworksError

HERE = Path(__file__).resolve().parent
HELP = ("-h", "--help")


# ------------------------------------------------------------------------------------------ help text
def clean(text: str) -> str:
    """Docstring markup out of help text: ``x`` and :role:`x` read as x; "The ``eval`` section:" is dropped."""
    text = re.sub(r"^The ``\w+`` section(?: of [^.;:]*)?(?:[.;:]\s*|$)", "", text.strip())
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return re.sub(r"``([^`]+)``", r"\1", text)


def _positional(option: dict[str, Any]) -> str:
    """RUN rather than tyro's STR: a positional is named by its field, unless its choices say more."""
    metavar = option["metavar"]
    name = metavar if metavar and metavar.startswith("{") else option["dest"].rsplit(".", 1)[-1].upper()
    return f"{name}..." if option["nargs"] in ("+", "*") else name


def _usage(doc: dict[str, Any], prog: str) -> str:
    positionals = [o for g in doc["groups"] for o in g["options"] if not o["flags"]]
    names = [_positional(o) if o["nargs"] not in ("?", "*") else f"[{_positional(o)}]" for o in positionals]
    return " ".join([f"usage: {prog} [OPTIONS]", *names])


def _spelling(option: dict[str, Any]) -> str:
    if not option["flags"]:
        return _positional(option)
    if option["nargs"] == 0:
        return ", ".join(option["flags"])
    return f"{', '.join(option['flags'])} {option['metavar'] or 'VALUE'}"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)  # never split a --flag


def render(doc: dict[str, Any], prog: str) -> str:
    """The help page of one verb: usage, what it does, then each section's options, each default once."""
    width = max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))
    lines = [_usage(doc, prog), ""]
    if doc["description"]:
        lines += [*_wrap(doc["description"], width), ""]
    lines += ["  -h, --help              show this help and exit"]
    for group in doc["groups"]:
        title = group["title"] + (f": {group['about']}" if group["about"] else "")
        lines += ["", *_wrap(title, width)]
        for option in group["options"]:
            text = option["help"]
            if option["required"]:
                text += " (required)"
            elif option["default"] is not None and option["default"] != "":
                text += f" (default: {option['default']})"
            spelled = _spelling(option)
            body = _wrap(text.strip(), width - 26) or [""]
            if len(spelled) <= 22:
                lines.append(f"  {spelled:<22}  {body[0]}".rstrip())
                body = body[1:]
            else:
                lines.append(f"  {spelled}")
            lines += [" " * 26 + line for line in body]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ the pre-parser
def load(key: str) -> dict[str, Any] | None:
    """The packaged schema of one verb (``arithmetic-train``, ``download``), or None when none is packaged."""
    path = HERE / f"{key}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    for doc in schema["entries"]:  # each distinct option is stored once, the entries list its index
        for group in doc["groups"]:
            group["options"] = [schema["options"][i] for i in group["options"]]
    return schema


def selection(schema: dict[str, Any], argv: Sequence[str]) -> str:
    """The key of the selector values ``argv`` gives (the last of each, as the real parse takes them)."""
    parts = []
    for i, flags in enumerate(schema["selectors"]):
        value = None
        for j, token in enumerate(argv):
            name, eq, inline = token.partition("=")
            if name.replace("_", "-") in flags:
                value = inline if eq else (argv[j + 1] if j + 1 < len(argv) else None)
        if value is not None:
            parts.append(f"{i}={value}")
    return ";".join(parts)


def _is_flag(token: str) -> bool:
    if not token.startswith("-") or token == "-":
        return False
    try:
        float(token)  # a negative number is a value
        return False
    except ValueError:
        return True


def _walk(options: dict[str, dict[str, Any]], argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The flags that are set in ``argv`` (values skipped as the parser would take them), and (flag, value) pairs."""
    flags, values, i = [], [], 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            break
        if not _is_flag(token):
            continue
        name, eq, inline = token.partition("=")
        name = name if name in options else name.replace("_", "-")
        flags.append(name)
        option = options.get(name)
        if option is None:
            continue
        taken = [inline] if eq else []
        want = option["nargs"]
        limit = {"?": 1, "*": len(argv), "+": len(argv)}.get(want, want)
        while len(taken) < limit and i < len(argv) and not _is_flag(argv[i]):
            taken.append(argv[i])
            i += 1
        values += [(name, v) for v in taken]
    return flags, values


def answer(key: str, argv: Sequence[str], prog: str) -> bool:
    """Print ``prog``'s help (True), raise on an unknown flag or a bad choice, or leave ``argv`` to the real parse
    (False) — all without importing torch."""
    schema = load(key)
    if schema is None or any(t.split("=", 1)[0] in schema["fallback"] for t in argv):
        return False
    chosen = schema["keys"].get(selection(schema, argv))
    doc = schema["entries"][chosen] if chosen is not None else schema["entries"][schema["keys"].get("", 0)]
    options = {flag: o for g in doc["groups"] for o in g["options"] for flag in o["flags"]}
    flags, values = _walk(options, argv)
    selectors = {f for group in schema["selectors"] for f in group}
    for flag, value in values:
        choices = options[flag]["choices"]
        # Unknown selector values: only the selectors' own choices are certain (the options follow the model).
        if choices and value not in choices and (chosen is not None or flag in selectors):
            raise LatentworksError(f"{flag} {value!r} is not a choice; use one of {', '.join(choices)}")
    if chosen is None:
        return False  # selectors this schema was not written for: the real parse knows their options
    if any(f in HELP for f in flags):
        print(render(doc, prog))
        return True
    known_somewhere = {f for d in schema["entries"] for g in d["groups"] for o in g["options"] for f in o["flags"]}
    for flag in flags:
        if flag not in options and flag not in HELP and flag not in known_somewhere:
            raise LatentworksError(unknown_option(flag, list(options), prog))
    return False


def unknown_option(flag: str, flags: Sequence[str], prog: str) -> str:
    """One line for a flag the verb does not have, naming the closest one it does."""
    close = difflib.get_close_matches(flag, [f for f in flags if f.startswith("--")], n=1, cutoff=0.6)
    if close:
        return f"unknown option {flag}; did you mean {close[0]}?"
    return f"unknown option {flag} for `{prog}`; see `{prog} --help`"


__all__ = ["answer", "clean", "load", "render", "selection", "unknown_option"]
