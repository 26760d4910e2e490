"""A checksum in ``model.json`` and ``config.json``: the sha256 of the file's canonical JSON without it.

Both files define a model (its kind, config, the task's ``max_int`` and ``ops``); one edited by hand would be
believed and answer nonsense, so it is refused in one line when read. A file written before checksums has none
and loads as it always did.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from latentworks.errors import LatentworksError

KEY = "checksum"


def checksum(tree: dict[str, Any]) -> str:
    """sha256 of ``tree`` (without its checksum) as canonical JSON: sorted keys, no spaces, ASCII."""
    body = {k: v for k, v in tree.items() if k != KEY}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_checksum(tree: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in tree.items() if k != KEY}, KEY: checksum(tree)}


def verified(path: str | Path, tree: Any) -> Any:
    """``tree`` read from ``path`` without its checksum; a checksum that does not match is a one-line error."""
    if not isinstance(tree, dict) or KEY not in tree:
        return tree
    if tree[KEY] != checksum(tree):
        raise LatentworksError(f"{path} was changed after latentworks wrote it (its checksum does not match); "
                               "restore the file or retrain the run")
    return {k: v for k, v in tree.items() if k != KEY}


__all__ = ["KEY", "checksum", "verified", "with_checksum"]
