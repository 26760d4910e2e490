"""The generative part of ``latentworks run``: VAE, DCGAN and cGAN (and CVAE) judged by a frozen digit reader.

Every score is measured on held-out data or on fresh samples: FLD (Fréchet distance in the reader's penultimate
features) is always printed next to its **floor**, the FLD between real train and real test digits at the same
sample sizes, which is what a perfect generator would score. The latent arithmetic is automatic: cells of a
numbered grid are picked by a measured attribute (ink for digits, luminance for faces) and the attribute of the
result is measured too, so the figure is a test rather than a hand-picked anecdote.

What each profile trains and measures is :data:`latentworks.recipes.studies.GENERATIVE` (test: seconds, a tiny
reader trained on the spot; quick: the embedded MNIST sample; full: all of MNIST, and the CelebA folder when it is
found). The runs are ``generative_runs.py``'s, the report sections ``generative_sections.py``'s (their figures
``generative_figures.py``'s); this module registers the part and reads its summary rows.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks import registry
from latentworks.recipes.studies import GENERATIVE, GenerativeProfile
from latentworks.registry import CLASS_BALANCE, CONDITIONAL_ACCURACY, FLD_RATIO, RECON_MSE, Measure
from latentworks.report.html import Headline, headline_from_run
from latentworks.runs import RunDir
from latentworks.studies.catalogue import StudyContext, StudyResult, register_study
from latentworks.studies.generative_runs import (
    LABELS,
    generative_plan,
    mnist_runs,
    scores_likelihood,
    study_data_dir,
)
from latentworks.studies.generative_sections import faces_part, mnist_part


@register_study("generative", order=20, plan=generative_plan)
def generative_study(ctx: StudyContext) -> StudyResult:
    plan = GENERATIVE[ctx.profile]
    root = ctx.out / "generative"
    threads = torch.get_num_threads()
    if ctx.on_cpu():
        torch.set_num_threads(1)  # these small convnets run 2-5x faster on one thread on a busy 2-core box
    started = time.perf_counter()
    try:
        section, mnist_metrics = mnist_part(ctx, plan, root / "mnist")
        sections, metrics = [section], {"mnist": mnist_metrics}
        if plan.faces:
            faces, metrics["faces"] = faces_part(ctx, root / "faces", plan.faces)
            sections.append(faces)
    finally:
        torch.set_num_threads(threads)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    metrics = _clean(metrics)
    full_mnist = study_data_dir(ctx) != "embedded" and plan.limit is None
    runs = {name: run_dir for name, (run_dir, _) in mnist_runs(ctx, plan, root / "mnist").items()}
    faces = {name: root / "faces" / name for name, m in (metrics.get("faces") or {}).items()
             if isinstance(m, dict) and (root / "faces" / name / "results.json").is_file()}
    return StudyResult(sections, metrics, _headlines(runs, faces, plan, full_mnist))


PYTHAE_VAE_NLL = 89.78  # pythae (benchmark_VAE) README: its VAE's NLL on binarised MNIST, the whole train split


def _held_out(measure: Measure, n: int, n_test: int | None) -> str:
    """The data a generative headline measure is judged on."""
    if measure.key.startswith("test."):
        return "MNIST test digits" + (", dynamically binarised" if measure.key == "test.elbo" else "")
    if measure.key in ("eval.fld_ratio", "eval.precision", "eval.recall"):
        return f"{n:,} fresh samples vs {n_test or 0:,} MNIST test digits"
    return f"{n:,} fresh samples read by the digit reader"


def _headlines(runs: dict[str, Path], faces: dict[str, Path], plan: GenerativeProfile,
               full_mnist: bool) -> list[Headline]:
    """Every summary row read from its run's results.json: the VAE's IW-NLL, then each model's registered
    headline measures (its training's held-out scores and the study's evaluation in its ``eval`` section)."""
    out: list[Headline | None] = []
    for kind in filter(scores_likelihood, runs):
        out.append(headline_from_run(
            runs[kind], "generative",
            f"{LABELS[kind]} likelihood, IW-NLL with k = {plan.nll_k} (nats, lower is better)",
            "eval.likelihood.iw_nll_nats", kind="num", n_key="eval.likelihood.n",
            peer=PYTHAE_VAE_NLL if full_mnist else None,
            peer_note="pythae's VAE (benchmark_VAE README): NLL 89.78 nats on binarised MNIST trained on all 60,000 "
                      "digits, with its own architecture and importance-sampling estimate; ours is IW-NLL with "
                      f"k = {plan.nll_k} on {plan.nll_images} random test digits, dynamically binarised" + (
                "" if full_mnist else "; not shown here because this profile trains on the 4,000-digit sample"),
            held_out="MNIST test digits, dynamically binarised"))
    for kind, run_dir in runs.items():
        results = RunDir(run_dir, create=False).read_results()
        ev = results.get("eval") or {}
        for measure, _ in registry.headlines(results):
            what = f"{LABELS[kind]} {measure.name}"
            if measure is FLD_RATIO:
                what += " (1× is real data)"
            if measure is CLASS_BALANCE and ev.get("class_worst_digit") is not None:
                what += f" (digit {ev['class_worst_digit']}: {ev['class_worst_count']:,} of {ev['n']:,} samples)"
            out.append(headline_from_run(
                run_dir, "generative", what, measure,
                n_key="eval.n" if measure.key.startswith("eval.") else "data.test_images",
                held_out=_held_out(measure, ev.get("n", 0), ev.get("n_test")),
                course_note="the course's generative models could not choose the digit at all"
                if measure is CONDITIONAL_ACCURACY else ""))
    for kind, run_dir in faces.items():
        out.append(headline_from_run(run_dir, "generative", f"{LABELS[kind]} on faces: reconstruction MSE",
                                     RECON_MSE, n_key="data.test_images",
                                     held_out="10 % of the CelebA folder held out"))
        ev = RunDir(run_dir, create=False).read_results().get("eval") or {}
        out.append(headline_from_run(run_dir, "generative", f"{LABELS[kind]} on faces: FLD / floor in the face "
                                     "feature network's space (1× is real faces)", FLD_RATIO, n_key="eval.n",
                                     held_out=f"{ev.get('n', 0):,} fresh samples vs {ev.get('n_test') or 0:,} "
                                              "held-out CelebA faces"))
    return [h for h in out if h is not None]


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
