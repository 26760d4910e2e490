"""Which runs the generative part of ``latentworks run`` trains: every kind its profile's recipe defines, on MNIST
(and on the CelebA folder when the profile names a faces recipe and the folder is found), one run each.

What each profile trains is :data:`latentworks.recipes.studies.GENERATIVE`; the recipes are
:mod:`latentworks.recipes.generative`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentworks import registry
from latentworks.data.roots import data_roots
from latentworks.recipes.generative import recipe, recipe_kinds
from latentworks.recipes.studies import GENERATIVE, GenerativeProfile
from latentworks.studies.catalogue import StudyContext

LABELS = {kind: registry.kind(kind).title for kind in registry.kind_names("generative")}


def scores_likelihood(kind: str) -> bool:
    """Whether the study scores ``kind``'s likelihood (IW-NLL): an ELBO of p(x) alone, not of p(x | label)
    (what :func:`latentworks.pipelines.generative_eval.evaluate_model` can estimate)."""
    k = registry.kind(kind)
    return k.can("elbo") and not k.can("label")


def study_data_dir(ctx: StudyContext) -> str | None:
    return ctx.data_dir if ctx.data_dir or ctx.profile == "full" else "embedded"


def gen_config(name: str, kind: str, *, data: str, data_dir: str | None, seed: int, device: str,
               progress: bool, limit: int | None = None, **changes: Any):
    """A study run's config: recipe ``name`` for ``kind`` on ``data``, with the study's seed and device."""
    return recipe(name, kind=kind, **{"data.data": data, "data.data_dir": data_dir, "data.limit": limit,
                                      "train.seed": seed, "train.device": device, "train.progress": progress,
                                      **changes})


def find_faces(data_dir: str | None) -> Path | None:
    """The CelebA folder under the data roots (``faces/celebA``, ``celebA`` or ``faces`` holding JPEGs), if any."""
    for _, root in data_roots(data_dir):
        for cand in (root / "faces" / "celebA", root / "celebA", root / "faces"):
            if cand.is_dir() and any(cand.glob("*.jpg")):
                return cand
    return None


def mnist_runs(ctx: StudyContext, plan: GenerativeProfile, root: Path) -> dict[str, tuple[Path, Any]]:
    data_dir = study_data_dir(ctx)
    return {name: (root / name, gen_config(plan.recipe, name, data="mnist", data_dir=data_dir, seed=ctx.seed,
                                           device=ctx.device, progress=ctx.progress, limit=plan.limit))
            for name in recipe_kinds(plan.recipe)}


def face_runs(ctx: StudyContext, root: Path, folder: Path, faces: str = "faces",
              limit: int | None = None, **changes: Any) -> dict[str, tuple[Path, Any]]:
    return {name: (root / name, gen_config(faces, name, data=str(folder), data_dir=None, seed=ctx.seed,
                                           device=ctx.device, progress=ctx.progress, limit=limit, **changes))
            for name in recipe_kinds(faces)}


def generative_plan(ctx: StudyContext) -> list:
    plan = GENERATIVE[ctx.profile]
    root = ctx.out / "generative"
    runs = mnist_runs(ctx, plan, root / "mnist")
    folder = find_faces(ctx.data_dir) if plan.faces else None
    if plan.faces and folder is not None:
        runs.update({f"faces {k}": v for k, v in face_runs(ctx, root / "faces", folder, plan.faces).items()})
    # These small convnets run 2-5x faster on one thread on a busy 2-core box.
    threads = 1 if ctx.on_cpu() else None
    jobs = []
    for name, (run_dir, cfg) in runs.items():
        # An MNIST run is scored by the packaged reader in its own job, beside other runs' training (the study
        # reads the score back from its results.json); a reader trained on the spot is the study's alone.
        scored = name in recipe_kinds(plan.recipe) and not plan.tiny_reader
        score = {"then": "latentworks.studies.generative_sections:score_run", "profile": ctx.profile,
                 "seed": ctx.seed, "data_dir": study_data_dir(ctx)} if scored else {}
        jobs.append(ctx.job(f"{name}", cfg, run_dir, threads, **score))
    return jobs
