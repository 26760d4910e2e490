"""Write ``src/latentworks/cli/schema/*.json``: every verb's options, read from the parser tyro builds for it.

    python scripts/make_cli_schema.py           # rewrite the files
    python scripts/make_cli_schema.py --check   # exit 1 if a file differs from what the code gives now

Each verb's handler is called with ``--help`` (and, for a train verb, each value of its selectors) while
``parse`` is watched: every class it is asked to parse is described (``cli/schema/tree.py``) instead. A selector
value that is refused, or that prints a line (an old recipe name, a ``default`` the ops decide), is left out: the
command line then takes the real parse, which prints that line. ``tests/cli/test_schema.py`` runs ``--check``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

from latentworks import registry
from latentworks.cli import TOP_COMMANDS, commands
from latentworks.cli import parsing as parsing_module
from latentworks.cli.schema import HERE
from latentworks.cli.schema.tree import describe
from latentworks.errors import LatentworksError

FALLBACK = ["--config", "--resume"]  # the options then come from a config file: the real parse reads it
# Building tyro's parser is the slow part, and many selector values (and the train and sweep verbs) ask for the same
# class with the same defaults: one description per (class, defaults, description) for the whole build.
_DESCRIBED: dict[tuple[Any, str, str | None], dict[str, Any]] = {}


class _Asked(Exception):
    def __init__(self, docs: list[dict[str, Any]]):
        self.docs = docs


@contextlib.contextmanager
def _watching_parse():
    """Every ``parse`` the handlers call (by any name they imported it under) records what it was asked."""
    real, seen = parsing_module.parse, []

    def watch(cls, argv, *, prog, description=None, default=None, hints=None):
        key = (cls, repr(default), description)
        if key not in _DESCRIBED:
            _DESCRIBED[key] = describe(cls, default, description)
        seen.append(_DESCRIBED[key])
        if any(t in ("-h", "--help") for t in argv):
            raise _Asked(list(seen))
        return real(cls, argv, prog=prog, description=description, default=default, hints=hints)

    modules = [m for name, m in sys.modules.items() if name.startswith("latentworks.cli")
               and getattr(m, "parse", None) is real]
    for m in modules:
        m.parse = watch
    try:
        yield seen
    finally:
        for m in modules:
            m.parse = real


@contextlib.contextmanager
def _once_per_class():
    """Two pure functions of a class, which the build asks of the same few dozen classes hundreds of times, computed
    once per class while it runs: a train handler's flag list (``parsing._flags``, for its "not an option of this
    model" hints), and tyro's reading of a class's source for its comments (tyro keeps 64 classes; a build reads
    more, so it re-parsed each class's module for every parser)."""
    import tyro._docstrings as docstrings

    flags, tokenization = parsing_module._flags, docstrings._ClassTokenization.make
    cached = functools.cache(flags)
    parsing_module._flags = lambda cls: list(cached(cls))  # a copy: the callers' lists are their own
    source = getattr(tokenization, "__wrapped__", None)  # the function under tyro's bounded cache, if it has one
    if source is not None:
        docstrings._ClassTokenization.make = staticmethod(functools.cache(source))
    try:
        yield
    finally:
        parsing_module._flags = flags
        docstrings._ClassTokenization.make = staticmethod(tokenization)


def _ask(handler, argv: list[str], prog: str) -> dict[str, Any] | None:
    """The merged options the handler parses for ``argv + --help``; None if it refuses or prints a line."""
    err = io.StringIO()
    with _watching_parse() as seen, contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        seen.clear()
        try:
            handler([*argv, "--help"], prog)
        except _Asked as asked:
            docs = asked.docs
        except (LatentworksError, SystemExit):
            return None
        else:
            return None
    if err.getvalue().strip():
        return None
    last = docs[-1]  # the verb's own parse; earlier ones (sweep's fractions) add their options before it
    extra = [g for d in docs[:-1] for g in d["groups"]]
    return {"description": last["description"], "groups": extra + last["groups"]}


def _selector_values(family: Any, base: dict[str, Any]) -> list[tuple[list[str], list[str | None]]]:
    """Each selector's flags and the values to write a schema for (None: not given)."""
    out = []
    for key, flags in family.selectors.items():
        choices = next((o["choices"] for g in base["groups"] for o in g["options"] if flags[0] in o["flags"]), None)
        if key == "name":
            values = ["default", *family.recipes.recipe_names()]
        else:
            values = [c for c in (choices or []) if c != "None"]
        out.append((list(flags), [None, *dict.fromkeys(values)]))
    return out


def schema_of(handler, prog: str, family: Any = None) -> dict[str, Any]:
    base = _ask(handler, [], prog)
    assert base is not None, f"{prog} --help did not reach a parse"
    entries, keys = [base], {"": 0}
    selectors = _selector_values(family, base) if family is not None else []
    for combo in itertools.product(*[values for _, values in selectors]):
        if all(v is None for v in combo):
            continue
        argv = [t for (flags, _), v in zip(selectors, combo) if v is not None for t in (flags[0], v)]
        doc = _ask(handler, argv, prog)
        if doc is None:
            continue
        if doc not in entries:
            entries.append(doc)
        keys[";".join(f"{i}={v}" for i, v in enumerate(combo) if v is not None)] = entries.index(doc)
    # Each distinct option once; the entries (one per distinct set of options and defaults) list its index.
    options: list[dict[str, Any]] = []
    entries = json.loads(json.dumps(entries))  # the entries share described groups; compact copies
    for doc in entries:
        for group in doc["groups"]:
            for i, option in enumerate(group["options"]):
                if option not in options:
                    options.append(option)
                group["options"][i] = options.index(option)
    return {"selectors": [flags for flags, _ in selectors], "fallback": FALLBACK if family else [],
            "keys": keys, "options": options, "entries": entries}


def build() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every verb of the command line."""
    with _once_per_class():
        return _build()


def _build() -> dict[str, dict[str, Any]]:
    out = {}
    for name, (_, target) in commands().items():
        verbs = {"": target} if name in TOP_COMMANDS else target
        for verb, spec in verbs.items():
            handler = registry.resolve(spec.handler)
            family = getattr(sys.modules[handler.__module__], "FAMILY", None)
            uses_family = family is not None and verb in ("train", "sweep")
            key = f"{name}-{verb}" if verb else name
            out[f"{key}.json"] = schema_of(handler, f"latentworks {name} {verb}".strip(),
                                           family if uses_family else None)
    return out


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # tyro orders some choices (a Literal joined with None) by set iteration, which string hashing varies:
        # one hash seed, one file
        os.execve(sys.executable, [sys.executable, __file__, *argv], {**os.environ, "PYTHONHASHSEED": "0"})
    built = build()
    stale = [name for name, s in built.items() if not (HERE / name).is_file()
             or (HERE / name).read_text(encoding="utf-8") != dumps(s)]
    extra = sorted(p.name for p in HERE.glob("*.json") if p.name not in built)
    if "--check" in argv:
        for name in stale + extra:
            print(f"stale: {Path('src/latentworks/cli/schema') / name} (run python scripts/make_cli_schema.py)")
        return 1 if stale or extra else 0
    for name in stale:
        (HERE / name).write_text(dumps(built[name]), encoding="utf-8")
    for name in extra:
        (HERE / name).unlink()
    print(f"{len(built)} schemas, {len(stale)} rewritten, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
