"""The runs the explorer serves: found under the folders given, loaded once at start-up, kept with their caches.

A folder with a ``model.json`` is a run; any other folder (a study folder such as ``runs/quick``) is searched
recursively for run folders. Models the page cannot show (the digit reader a study trains) are skipped when
found by the search, and refused when named directly. A missing or damaged folder is a one-line
:class:`~latentworks.errors.LatentworksError` before the server starts.

What a run is to the page is its family's to say, in the explorer module the family's registry entry names:
``load(run)`` fills in the model and what the family needs beside it, ``describe(run)`` the fields
``GET /api/runs`` adds, ``title(run)``, ``what(run)`` (the model in the picker's label), ``capabilities(run)``
(what the page offers) and ``ROUTES`` (the family's endpoints). Nothing here names a family.
"""

from __future__ import annotations

import html
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from latentworks import registry
from latentworks.errors import LatentworksError

MAX_RUNS = 200


class ApiError(LatentworksError):
    """A request the API refuses, with its HTTP status (400 unless said otherwise)."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class NotFound(ApiError):
    status = 404


def family_of(info: dict[str, Any]) -> str | None:
    """The registry's family name for a ``model.json``; None for models the page cannot show."""
    family = registry.family_of(info)
    return family.name if family is not None else None


def find_run_dirs(paths: list[str | Path]) -> list[Path]:
    """Run folders named in ``paths`` or found below them (sorted, each once)."""
    from latentworks.models.io import read_model_info

    if not paths:
        raise LatentworksError("name at least one run folder or study folder, e.g. `latentworks explore runs/quick`")
    found: list[Path] = []
    for given in map(Path, paths):
        if not given.is_dir():
            what = "is a file, not a folder" if given.exists() else "does not exist"
            raise LatentworksError(f"{given} {what}; pass a run folder (with model.json) or a study folder")
        if (given / "model.json").exists():
            info = read_model_info(given)  # a damaged model.json is one line here
            if family_of(info) is None:
                raise LatentworksError(f"{given} holds a '{info.get('kind')}' model, which the explorer cannot "
                                       "show; pass generative, arithmetic or char-RNN runs")
            found.append(given.resolve())
            continue
        below = []
        for root, dirs, files in os.walk(given):
            dirs[:] = sorted(d for d in dirs if d != "checkpoints" and not d.startswith("."))
            if "model.json" in files and family_of(read_model_info(root)) is not None:
                below.append(Path(root).resolve())
        if not below:
            raise LatentworksError(f"{given} holds no run folders (no model.json below it); pass a run folder "
                                   "or a study folder that a training wrote")
        found += below
    unique = list(dict.fromkeys(found))
    if len(unique) > MAX_RUNS:
        raise LatentworksError(f"{len(unique)} run folders found; the explorer serves at most {MAX_RUNS}, "
                               "pass fewer folders")
    return unique


def run_ids(dirs: list[Path]) -> list[str]:
    """Each folder's path relative to the common parent of all of them ('/'-separated)."""
    root = Path(os.path.commonpath([str(d.parent) for d in dirs]))
    return [d.relative_to(root).as_posix() for d in dirs]


@dataclass
class Run:
    """One loaded run: its model, what the page can do with it, and caches filled on first use."""

    id: str
    path: Path
    family: str
    kind: str
    info: dict[str, Any]
    model: Any
    config: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict)
    results: dict[str, Any] | None = None  # its results.json (None: never scored, e.g. a copied model folder)
    study: str = ""  # the served folder it was found in (the picker groups by it, newest first)

    def explorer(self) -> ModuleType:
        """The family's explorer module (the registry names it): what this run is to the page."""
        return registry.family(self.family).explorer_module()

    def describe(self) -> dict[str, Any]:
        # no path: the id is the folder relative to the served root, and the page never needs more
        out = {"id": self.id, "kind": self.kind, "family": self.family,
               "family_title": registry.family(self.family).title, "view": self.explorer().VIEW,
               "title": self.title(), "capabilities": self.capabilities(), **self.summary()}
        out.update(self.explorer().describe(self))
        return out

    def title(self) -> str:
        return self.explorer().title(self)

    def kind_title(self) -> str:
        """The kind's title without its parenthesis ("VAE", not "VAE (variational autoencoder)")."""
        return registry.kind(self.kind).title.split(" (")[0]

    def summary(self) -> dict[str, Any]:
        """What the run picker shows: the recipe, the kind's headline measure from results.json (via the
        registry), when it finished (results.json's ``finished_at``, else the model's file time), and one label."""
        from latentworks.report.names import fmt

        results = self.results or {}
        recipe = (results.get("config") or self.config or {}).get("recipe")
        found = registry.headline(results) if results else None
        headline = None
        if found is not None:
            measure, value = found
            headline = {"name": measure.name, "key": measure.key, "value": value,
                        "text": html.unescape(fmt(value, measure.fmt))}
        finished = results.get("finished_at")
        if not isinstance(finished, str):
            stamp = (self.path / "model.json").stat().st_mtime if (self.path / "model.json").exists() else 0.0
            finished = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(stamp))
        score = f"{headline['name']} {headline['text']}" if headline else "not scored (no results.json)"
        label = " · ".join(part for part in (self.explorer().what(self), recipe and f"{recipe} recipe", score)
                           if part)
        return {"recipe": recipe, "headline": headline, "finished_at": finished, "study": self.study,
                "label": label}

    def capabilities(self) -> list[str]:
        return self.explorer().capabilities(self)


def load_run(path: Path, run_id: str) -> Run:
    """Load one run folder's model (CPU, eval mode) and what its family needs beside it (its explorer module's
    ``load`` fills them in)."""
    from latentworks.models.io import read_model_info
    from latentworks.runs import read_json

    info = read_model_info(path)
    family = family_of(info)
    if family is None:
        raise LatentworksError(f"{path} holds a '{info.get('kind')}' model, which the explorer cannot show")
    config = read_json(path / "config.json") if (path / "config.json").is_file() else None
    run = Run(run_id, path, family, str(info["kind"]), info, None, config)
    run.explorer().load(run)
    return run


def _results(path: Path) -> dict[str, Any] | None:
    """A run folder's results.json in this version's keys (None when missing or damaged: the picker says
    "not scored" rather than refusing to serve the model)."""
    from latentworks.runs import current_results, read_json

    try:
        results = read_json(path / "results.json") if (path / "results.json").is_file() else None
    except (LatentworksError, OSError, ValueError):
        return None
    return current_results(results) if isinstance(results, dict) else None


class Runs:
    """The served runs by id, and the one lock that keeps model work from running in parallel (parallel torch
    calls on few cores only fight over them; one at a time, each call gets every intra-op thread)."""

    def __init__(self, runs: list[Run]):
        self.by_id = {r.id: r for r in runs}
        self.compute = threading.Lock()

    @classmethod
    def load(cls, paths: list[str | Path]) -> Runs:
        dirs = find_run_dirs(paths)
        runs = [load_run(d, i) for d, i in zip(dirs, run_ids(dirs))]
        given = [Path(p).resolve() for p in paths]
        for run in runs:
            run.results = _results(run.path)
            home = next((g for g in given if run.path == g or g in run.path.parents), run.path)
            run.study = home.name if home != run.path else home.parent.name
        return cls(runs)

    def get(self, run_id: str, family: str | None = None) -> Run:
        run = self.by_id.get(run_id)
        if run is None:
            shown = run_id if len(run_id) <= 60 else run_id[:57] + "..."
            raise NotFound(f"unknown run id {shown!r}; GET /api/runs lists the {len(self.by_id)} served runs")
        if family is not None and run.family != family:
            raise ApiError(f"run {run_id!r} is a {run.family} run ({run.kind}); this endpoint needs a {family} run")
        return run

    def describe(self) -> list[dict[str, Any]]:
        """Every run, the newest study first; within a study, by family in the registry's order."""
        described = [r.describe() for r in self.by_id.values()]
        newest: dict[str, str] = {}
        for d in described:
            newest[d["study"]] = max(newest.get(d["study"], ""), d["finished_at"])
        order = {f.name: f.order for f in registry.families()}
        studies = sorted(newest, key=lambda s: newest[s], reverse=True)
        return sorted(described, key=lambda d: (studies.index(d["study"]), order.get(d["family"], 99)))


__all__ = ["ApiError", "NotFound", "Run", "Runs", "find_run_dirs", "load_run", "run_ids"]
