"""Whether a run folder holds the run a config asks for: a resume with other settings is refused in one line
(:func:`check_resume`), and a run that finished with the same settings is found to be reused as it is
(:func:`finished_results`).

Both trees are read through their family's typed config first, so that a field added to latentworks after a run
was written counts as its default, which is what the run had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentworks import registry
from latentworks.config import changed_fields, flag, to_dict
from latentworks.errors import LatentworksError
from latentworks.runs import current_results, read_json, read_results_json, to_jsonable


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a resumable checkpoint."""
    return (Path(run_dir) / "checkpoints" / "latest.json").is_file()


def check_resume(run_dir: str | Path, config: dict[str, Any], free: tuple[str, ...] = ()) -> None:
    """Refuse, in one line, a resume whose config changes anything but the ``free`` fields (dotted prefixes)."""
    root = Path(run_dir)
    saved = read_json(root / "config.json")
    if saved.get("family") != config.get("family"):
        raise LatentworksError(f"{root} holds a {saved.get('family')} run, not a {config.get('family')} one; "
                               "pick another --out or drop --resume")
    changed = changed_fields(_typed(saved), _typed(to_jsonable(config)), free)
    for selector in ("kind", "task", "backend", "recipe"):
        if selector in changed:
            old, new = saved.get(selector), config.get(selector)
            raise LatentworksError(f"{root} holds a '{old}' run, not '{new}'; resume with the run's own settings "
                                   "(its config.json) or pick another --out")
    if changed:
        now = to_jsonable(config)
        parts = [f"{flag(p.rsplit('.', 1)[-1])} {_dig(saved, p)}, not {_dig(now, p)}" for p in changed[:3]]
        more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
        raise LatentworksError(f"{root} was trained with {'; '.join(parts)}{more}; resume with the same settings "
                               "(drop the changed options) or train into another --out")


def _typed(tree: dict[str, Any]) -> dict[str, Any]:
    """A run config read through its family's typed tree, so that a field added to latentworks after the run was
    written counts as its default (what the run had); the tree as it is when it cannot be read so. The family's
    recipes module is found through the registry, which imports it by name: this module sits below the
    recipes."""
    try:
        return {**tree, **to_dict(registry.family(tree["family"]).recipes_module().from_json(tree))}
    except (LatentworksError, TypeError, ValueError, KeyError):
        return tree


def _dig(tree: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def finished_results(run_dir: str | Path, config: dict[str, Any], free: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """``run_dir``'s results.json if that run finished with ``config`` (``free`` fields may differ), else None.

    Both trees are read through the typed config first, so that a field added to latentworks after the run was
    trained counts as its default, which is what the run had."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        return None
    results = current_results(read_results_json(path))
    saved = results.get("config")
    if not isinstance(saved, dict) or changed_fields(_typed(saved), _typed(to_jsonable(config)), free):
        return None
    return results
