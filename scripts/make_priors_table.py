"""Write the priors table into README.md, between ``<!-- priors:begin -->`` and ``<!-- priors:end -->``.

    python scripts/make_priors_table.py           # rewrite the block
    python scripts/make_priors_table.py --check   # exit 1 if README's block differs from what the data gives now

The rows are ``latentworks.recipes.arithmetic_priors.PRIORS`` (one per arithmetic recipe); nothing outside the
markers is touched. ``tests/recipes/test_arithmetic_priors.py`` runs ``--check``, so the README cannot drift.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentworks.recipes.arithmetic import TASK_NAMES
from latentworks.recipes.arithmetic_priors import COLUMNS, note, table_rows

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- priors:begin -->", "<!-- priors:end -->"


def block() -> str:
    """The Markdown between the markers (markers included)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    body = [line(list(COLUMNS)), "|" + "---|" * len(COLUMNS), *(line(r) for r in table_rows(TASK_NAMES))]
    lead = ("**What each recipe is given, and what it learns**, so that a figure from a generic network is not "
            "read as one from a network shaped like the algorithm:")
    return "\n".join([BEGIN, "<!-- written by scripts/make_priors_table.py from "
                      "src/latentworks/recipes/arithmetic_priors.py: edit the data, then run the script -->",
                      lead, "", *body, "", note(), END])


def rendered(text: str, path: Path = README) -> str:
    """``text`` (the README at ``path``) with its block replaced; one line naming the problem if the markers are
    not there once each, in order."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"{path}: needs one {BEGIN} and one {END} after it, in the arithmetic section")
    head, rest = text.split(BEGIN, 1)
    return head + block() + rest.split(END, 1)[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md's block is not what the data gives")
    ap.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = rendered(text, args.readme)
    if args.check:
        if new != text:
            print(f"{args.readme}: the priors table differs from recipes/arithmetic_priors.py; run "
                  "python scripts/make_priors_table.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
    print(args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
