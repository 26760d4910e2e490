"""The endpoint table of ``docs/explore-api.md``, generated from the explorer's route table (the one list).

    python docs/explore_routes.py           # rewrite the table between the markers in docs/explore-api.md
    python docs/explore_routes.py --check   # exit 1 when the file's table differs from the routes

``tests/explore/test_routes.py`` runs the check, so a route added to
:data:`latentworks.explore.server.ROUTES` fails the tests until the docs are regenerated.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent / "explore-api.md"
START = "<!-- endpoints: generated from latentworks.explore.server.ROUTES by docs/explore_routes.py -->"
END = "<!-- /endpoints -->"


def table() -> str:
    """The markdown table, one row per route, in the table's order."""
    from latentworks.explore.server import ROUTES

    rows = ["| endpoint | body | answer |", "| --- | --- | --- |"]
    rows += [f"| `{r.method} {r.path}` | {r.body} | {r.answer} |".replace("|  |", "| |") for r in ROUTES]
    return "\n".join(rows)


def render(text: str) -> str:
    """``text`` with the part between the markers replaced by :func:`table`."""
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers; put them around the endpoint table")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(f"{DOC} does not match the route table; run python docs/explore_routes.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    print(DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
