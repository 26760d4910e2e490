"""Where datasets are looked for: the ordered data roots every loader searches (MNIST, Tiny Shakespeare, image
folders' cache), the user cache, and the check of a ``--data-dir`` a user named.

The order, first match wins: the ``data_dir`` argument (``--data-dir``); ``$LATENTWORKS_DATA``; the user cache
(``$LATENTWORKS_CACHE``, else ``$XDG_CACHE_HOME/latentworks``, else ``~/.cache/latentworks``); a development
``shared/data`` folder next to any ancestor of the working directory or of this file (``LATENTWORKS_NO_DEV_DATA=1``
turns it off). Each loader decides what it looks for under a root and what it falls back to.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from latentworks.config import require


def cache_root() -> Path:
    """The user cache: downloads and converted datasets go here."""
    env = os.environ.get("LATENTWORKS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "latentworks"
    return Path.home() / ".cache" / "latentworks"


def dev_data_roots() -> list[Path]:
    """``shared/data`` folders next to ancestors of the cwd and of this file (a development checkout)."""
    if os.environ.get("LATENTWORKS_NO_DEV_DATA", "") not in ("", "0"):
        return []
    roots: list[Path] = []
    starts: list[Path] = []
    # A deleted cwd raises OSError; the package location still works then.
    with contextlib.suppress(OSError):
        starts.append(Path.cwd().resolve())
    starts.append(Path(__file__).resolve().parent)
    for start in starts:
        for ancestor in (start, *start.parents):
            cand = ancestor / "shared" / "data"
            if cand.is_dir() and cand not in roots:
                roots.append(cand)
    return roots


def data_roots(data_dir: str | Path | None) -> list[tuple[str, Path]]:
    """The roots to search, in order, as (label, root) pairs; the labels name them in notices and errors."""
    cands: list[tuple[str, Path]] = []
    if data_dir is not None:
        cands.append(("data_dir", Path(data_dir).expanduser()))
    env = os.environ.get("LATENTWORKS_DATA")
    if env:
        cands.append(("$LATENTWORKS_DATA", Path(env).expanduser()))
    cands.append(("cache", cache_root()))
    cands.extend(("shared/data", root) for root in dev_data_roots())
    return cands


def check_data_dir(data_dir: str | None) -> None:
    """``--data-dir`` names a folder that exists (or 'embedded'): a folder the user named is never skipped."""
    if data_dir is None or data_dir == "embedded":
        return
    require(data_dir.strip() != "", "data_dir", data_dir, "is empty; name a folder or leave the option out")
    require(Path(data_dir).is_dir(), "data_dir", data_dir,
            "is not a folder; pass the folder holding the datasets, or 'embedded'")


__all__ = ["cache_root", "check_data_dir", "data_roots", "dev_data_roots"]
