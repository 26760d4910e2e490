"""The generative part of ``latentworks run``: VAE, DCGAN and cGAN (and CVAE) judged by a frozen digit reader.

Profiles:

* ``test`` — seconds: 300 embedded digits, one epoch, tiny stacks, a tiny reader trained on the spot. Proves the
  plumbing, not the quality.
* ``quick`` — the embedded MNIST sample (4,000 train digits from MNIST train / 1,000 test digits from MNIST
  test): VAE (Bernoulli decoder on dynamically binarised digits), DCGAN and cGAN with small stacks and few
  epochs; sample grids, interpolations, latent arithmetic; the evaluation table at 2,000 samples; 1.5-2.6 minutes
  measured on 2 busy CPU cores.
* ``full`` — full MNIST (VAE, DCGAN, cGAN, CVAE) evaluated at 10,000 samples, and the CelebA folder at 64×64
  (VAE and DCGAN: grids, interpolation, arithmetic, reconstruction MSE) when the folder can be found.

Every score is measured on held-out data or on fresh samples: FLD (Fréchet distance in the reader's penultimate
features) is always printed next to its **floor**, the FLD between real train and real test digits at the same
sample sizes, which is what a perfect generator would score. The latent arithmetic is automatic: cells of a
numbered grid are picked by a measured attribute (ink for digits, luminance for faces) and the attribute of the
result is measured too, so the figure is a test rather than a hand-picked anecdote.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks import registry
from latentworks.pipelines.generative_eval import grey_share, worst_class
from latentworks.registry import CLASS_BALANCE, CONDITIONAL_ACCURACY, FLD_RATIO, RECON_MSE, Measure
from latentworks.report.html import Headline, Section, Table, headline_from_run
from latentworks.report.names import METRICS
from latentworks.report.run_section import section_from_run
from latentworks.runs import RunDir
from latentworks.studies.registry import StudyContext, StudyResult, register_study

# What each profile trains: recipe names of latentworks.recipes.generative, one run per model kind.
MNIST_KINDS = {"test": ("vae", "dcgan", "cgan"), "quick": ("vae", "dcgan", "cgan"),
               "full": ("vae", "dcgan", "cgan", "cvae")}
FACE_KINDS = ("vae", "dcgan")


@dataclass(frozen=True)
class Plan:
    limit: int | None  # training images (None: the whole train split)
    eval_n: int  # generated samples per model for the evaluation table
    nll_k: int  # importance samples for the VAE's IW-NLL
    nll_images: int  # test images scored with the IW-NLL
    kid: bool
    grid: int  # n for the n×n sample grids
    tiny_reader: bool  # test profile: train a throw-away reader in seconds instead of finding the real one
    faces: bool


PLANS = {
    "test": Plan(limit=300, eval_n=200, nll_k=5, nll_images=50, kid=False, grid=6, tiny_reader=True, faces=False),
    "quick": Plan(limit=None, eval_n=2000, nll_k=100, nll_images=200, kid=False, grid=10, tiny_reader=False,
                  faces=False),
    "full": Plan(limit=None, eval_n=10000, nll_k=1000, nll_images=1000, kid=True, grid=10, tiny_reader=False,
                 faces=True),
}

LABELS = {kind: registry.kind(kind).title for kind in registry.kind_names("generative")}


# ------------------------------------------------------------------------------------------ helpers
def _data_dir(ctx: StudyContext) -> str | None:
    return ctx.data_dir if ctx.data_dir or ctx.profile == "full" else "embedded"


def gen_config(name: str, kind: str, *, data: str, data_dir: str | None, seed: int, device: str,
               progress: bool, limit: int | None = None, **changes: Any):
    """A study run's config: recipe ``name`` for ``kind`` on ``data``, with the study's seed and device."""
    from latentworks.recipes.generative import recipe

    return recipe(name, kind=kind, **{"data.data": data, "data.data_dir": data_dir, "data.limit": limit,
                                      "train.seed": seed, "train.device": device, "train.progress": progress,
                                      **changes})


def get_reader(ctx: StudyContext, plan: Plan, data_dir: str | None, root: Path):
    from latentworks.pipelines.digit_reader import find_or_train_reader, train_digit_reader

    if plan.tiny_reader:
        from latentworks.recipes.digit_reader import recipe as reader_recipe

        folder = root / "reader"
        train_digit_reader(reader_recipe("tiny", **{"data.data_dir": data_dir, "train.seed": ctx.seed,
                                                    "train.progress": False, "train.device": "cpu"}), folder)
        return find_or_train_reader(folder)
    return find_or_train_reader(None, data_dir=data_dir, progress=ctx.progress)


def ink(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    return x.reshape(len(x), -1).mean(1)


def luminance(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:
        x = x @ np.array([0.299, 0.587, 0.114], np.float32)
    return x.reshape(len(x), -1).mean(1)


def _as_batch(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


def attribute_arithmetic(model, seed: int, n: int, attribute: Callable[[np.ndarray], np.ndarray], name: str,
                         out: Path, classify=None, k: int = 3) -> dict[str, Any]:
    """Automatic latent arithmetic on the numbered ``sample_grid(model, n, seed)``: A − B + C.

    With a digit reader (``classify``): A = the ``k`` cells of the most common confident digit with the most
    ``name``, B = the ``k`` of the same digit with the least, C = the ``k`` cells of another digit with the
    least; the result should read as C's digit with more ``name``. Without: A = most, B = least, C = the ``k``
    cells around the median. Measured: ``name`` of the decoded mean(C) and of the result, and the result's digit.
    """
    from latentworks.latent.tools import decode_latents, latent_arithmetic, sample_grid

    grid = sample_grid(model, n, seed)
    attr = attribute(grid.images)
    order = np.argsort(attr, kind="stable")
    picks: dict[str, list[int]] | None = None
    digit_a = digit_c = None
    preds = None
    if classify is not None:
        p, c = classify(_as_batch(grid.images))
        preds, conf = np.asarray(torch.as_tensor(p).cpu()), np.asarray(torch.as_tensor(c).cpu())
        confident = conf >= 0.8
        counts = np.bincount(preds[confident], minlength=10)
        ranked = [d for d in np.argsort(-counts, kind="stable") if counts[d] >= k]
        if len(ranked) >= 2 and counts[ranked[0]] >= 2 * k:
            digit_a, digit_c = int(ranked[0]), int(ranked[1])
            cells_a = [i for i in order if preds[i] == digit_a and confident[i]]
            cells_c = [i for i in order if preds[i] == digit_c and confident[i]]
            picks = {"a": cells_a[-k:][::-1], "b": cells_a[:k], "c": cells_c[:k]}
    if picks is None:
        mid = len(order) // 2
        picks = {"a": list(order[-k:][::-1]), "b": list(order[:k]), "c": list(order[mid - k // 2: mid - k // 2 + k])}
    picks = {key: [int(i) for i in v] for key, v in picks.items()}
    res = latent_arithmetic(model, seed, n, picks["a"], picks["b"], picks["c"], out=out)
    mean_c = decode_latents(model, res.info["mean_c"][None]).images
    row: dict[str, Any] = {
        "cells": picks, "attribute": name,
        f"{name}_a": float(attribute(grid.images[picks["a"]]).mean()),
        f"{name}_b": float(attribute(grid.images[picks["b"]]).mean()),
        f"{name}_mean_c": float(attribute(mean_c)[0]),
        f"{name}_result": float(attribute(res.images)[0]),
        "digit_a": digit_a, "digit_c": digit_c, "figure": str(out),
    }
    if classify is not None:
        p, c = classify(_as_batch(res.images))
        row["result_digit"], row["result_confidence"] = int(p[0]), float(c[0])
    return row


def _class_bars(series: dict[str, list[float | None]], colors: dict[str, str] | None = None) -> tuple[Any, Any]:
    """One group of bars per digit, one bar per series (None values are left out)."""
    from latentworks.report.plots import grouped_bars

    return grouped_bars([str(d) for d in range(10)], series, title="", xlabel="", ylabel="", colors=colors)


def class_histogram_figure(hists: dict[str, list[int]], n: int, path: Path) -> Path:
    from latentworks.report.plots import legend_outside, save_figure

    fig, ax = _class_bars(hists)
    expected = n / 10
    ax.axhline(expected, color="k", lw=0.8, ls="--", label=f"uniform ({expected:g})")
    ax.axhspan(0.9 * expected, 1.1 * expected, color="k", alpha=0.07, label="±10 %")
    ax.set(xticks=range(10), xlabel="digit the reader sees", ylabel="samples",
           title=f"reader's classes over {n:,} samples per model")
    legend_outside(ax)
    return save_figure(fig, path)


def class_fld_figure(evals: dict[str, dict[str, Any]], path: Path) -> Path | None:
    """FLD within each digit per model, beside real train digits (what a perfect generator would score)."""
    from latentworks.report.plots import legend_outside, save_figure

    def measured(values: list[float | None] | None) -> bool:  # None: too few samples of the class
        return bool(values) and any(v is not None for v in values)

    series = {LABELS[k]: v["fld_per_class"] for k, v in evals.items() if measured(v.get("fld_per_class"))}
    floor = next((v["fld_per_class_floor"] for v in evals.values() if measured(v.get("fld_per_class_floor"))), None)
    if not series or floor is None:
        return None
    series["real train digits"] = floor
    fig, ax = _class_bars(series, {"real train digits": "0.55"})
    ax.set(xticks=range(10), xlabel="digit (the reader's class for samples, the label for real digits)",
           ylabel="FLD within the class", title="which digits each model draws worst")
    legend_outside(ax)
    return save_figure(fig, path)


def _neg(value: float | None) -> float | None:
    return None if value is None else -value


def _fmt_int_range(hist: list[int]) -> str:
    return f"{min(hist)}–{max(hist)}"


def _worst_digit(ev: dict[str, Any]) -> str:
    digit = ev.get("class_worst_digit")
    return "—" if digit is None else f"digit {digit}: {ev['class_worst_count']:,} of {ev['n']:,}"


# ------------------------------------------------------------------------------------------ MNIST
def evaluate_models(runs: dict[str, Path], reader: Any, mnist: Any, plan: Plan, seed: int,
                    progress: bool = False) -> dict[str, dict[str, Any]]:
    from tqdm.auto import tqdm

    """Each run's evaluation, written into its own results.json under ``eval`` (so its report line reads its
    headline measures from there). A run already scored with the same settings and reader is not scored again."""
    from latentworks.pipelines.generative import load_generative
    from latentworks.pipelines.generative_eval import evaluate_model, reader_info
    from latentworks.runs import add_results_section, read_json

    evals = {}
    bar = tqdm(runs.items(), desc=f"scoring {plan.eval_n:,} samples per model", unit="model", disable=not progress,
               leave=False, dynamic_ncols=True)
    for name, run_dir in bar:
        bar.set_postfix_str(LABELS[name], refresh=True)
        nll_k = plan.nll_k if name == "vae" else 0
        settings = {"n": plan.eval_n, "seed": seed, "kid": plan.kid, "nll_k": nll_k, "nll_images": plan.nll_images,
                    "reader": reader_info(getattr(reader, "run_dir", None))["weights_sha256_16"]}
        stored = read_json(Path(run_dir) / "results.json").get("eval")
        if isinstance(stored, dict) and stored.get("settings") == settings:
            evals[name] = stored
            continue
        ev = evaluate_model(load_generative(run_dir), reader, mnist, n=plan.eval_n, seed=seed, kid=plan.kid,
                            nll_k=nll_k, nll_images=plan.nll_images)
        evals[name] = add_results_section(run_dir, "eval", {**ev, "settings": settings})["eval"]
    bar.close()
    return evals


def _mnist_text(evals: dict[str, dict[str, Any]], real_grey: float, plan: Plan, source: str) -> str:
    """The VAE-vs-GAN paragraph, stated from the measured numbers (not from folklore)."""
    parts = [f"<p>Models trained on {source}; each is judged on {plan.eval_n:,} fresh samples by a frozen digit "
             "reader (never trained on generated images). <b>FLD</b> is the Fréchet distance in the reader's "
             "penultimate features; the <b>floor</b> is the FLD between real train and real test digits at the "
             "same sizes, i.e. what a perfect generator would score. <b>Precision</b> is the share of samples "
             "inside the real digits' k-NN manifold (quality), <b>recall</b> the share of real test digits inside "
             "the samples' manifold (coverage).</p>"]
    vae, gan = evals.get("vae"), evals.get("dcgan")
    if vae and gan:
        sharp = "sharper" if gan["grey_share"] < vae["grey_share"] else "blurrier"
        cover = "covers more" if vae["recall"] > gan["recall"] else "covers less"
        hist_note = ("more evenly" if abs(vae["class_max_rel_deviation"]) < abs(gan["class_max_rel_deviation"])
                     else "less evenly")
        parts.append(
            "<p><b>VAE vs GAN, as the course documents put it</b> (blurry but covering vs sharp but mode-dropping) — "
            f"what was measured here: the GAN's samples are <b>{sharp}</b> than the VAE's (mid-grey share of the "
            f"ink {gan['grey_share']:.0%} vs {vae['grey_share']:.0%}; real test digits {real_grey:.0%}). "
            f"The VAE {cover} of the real digits than the GAN (recall {vae['recall']:.1%} vs {gan['recall']:.1%}; "
            f"precision {vae['precision']:.1%} vs {gan['precision']:.1%}). The VAE spreads its samples over the "
            f"ten classes {hist_note} than the GAN (worst class: {html.escape(worst_class(vae))} for the VAE, "
            f"{html.escape(worst_class(gan))} for the GAN; per-class counts "
            f"{_fmt_int_range(vae['class_histogram'])} vs {_fmt_int_range(gan['class_histogram'])}). "
            f"FLD: VAE {vae['fld']:.2f}, GAN {gan['fld']:.2f}, floor {gan['fld_floor']:.2f} (lower is better).</p>")
        if vae["recall"] <= gan["recall"]:
            parts.append("<p>So the folklore's \"the VAE covers every mode\" does not hold at this budget: its "
                         "blurry means fall outside the real digits' feature manifold, which costs recall as well "
                         "as precision.</p>")
    cgan = evals.get("cgan") or evals.get("cvae")
    if cgan and cgan.get("conditional_accuracy") is not None:
        accs = ", ".join(f"{LABELS[k]} {v['conditional_accuracy']:.1%}" for k, v in evals.items()
                         if v.get("conditional_accuracy") is not None)
        parts.append("<p><b>Controllable generation</b> (the course's generative brief could not choose the digit): "
                     "asked for each digit in turn, "
                     f"the reader agrees with the requested digit for {accs} of the samples.</p>")
    return "".join(parts)


def mnist_part(ctx: StudyContext, plan: Plan, root: Path) -> tuple[Section, dict[str, Any]]:
    from latentworks.data.mnist import load_mnist
    from latentworks.latent.tools import interpolate, sample_grid
    from latentworks.pipelines.generative import load_generative, train_generative

    data_dir = _data_dir(ctx)
    runs: dict[str, Path] = {}
    results: dict[str, dict[str, Any]] = {}
    for name, (run_dir, cfg) in _mnist_runs(ctx, plan, root).items():
        runs[name] = run_dir
        results[name] = ctx.train(train_generative, cfg, run_dir)
    mnist = load_mnist("mnist", data_dir=data_dir, quiet=True)
    reader = get_reader(ctx, plan, data_dir, root)
    evals = evaluate_models(runs, reader, mnist, plan, ctx.seed, ctx.progress)
    rinfo = next(iter(evals.values()))["reader"]
    from latentworks.metrics.generative import reader_fns

    _, classify_fn = reader_fns(reader)
    real_grey = grey_share(mnist.test.images[: min(plan.eval_n, len(mnist.test))].astype(np.float32) / 255.0)

    fig_dir = root / "figures"
    figures: list[tuple[Path, str]] = []
    arith_rows, arith_metrics = [], {}
    for name, run_dir in runs.items():
        model = load_generative(run_dir)
        label = LABELS[name]
        res = sample_grid(model, plan.grid, ctx.seed + 334, out=fig_dir / f"{name}_samples.png")
        figures.append((res.path, f"{label}: {plan.grid}×{plan.grid} samples from the prior (grid seed "
                                  f"{ctx.seed + 334}), cells numbered for the arithmetic below"
                                  + (", one digit per column" if model.conditional else "")
                                  + ". Look for sharp strokes and every digit present"))
        res = interpolate(model, ctx.seed + 4, 10, slerp=registry.kind(name).can("adversarial"),
                          out=fig_dir / f"{name}_interpolation.png")
        figures.append((res.path, f"{label}: a walk between two random latents; every step should be a "
                                  "plausible digit, changing smoothly"))
        if not model.conditional:
            row = attribute_arithmetic(model, ctx.seed + 334, plan.grid, ink, "ink",
                                       fig_dir / f"{name}_arithmetic.png", classify=classify_fn)
            arith_metrics[name] = row
            c = row["cells"]
            figures.append((Path(row["figure"]), f"{label}: latent arithmetic A − B + C on the grid above "
                                                 f"(A {c['a']}, B {c['b']}, C {c['c']})"))
            what = (f"bold {row['digit_a']} − thin {row['digit_a']} + thin {row['digit_c']}"
                    if row["digit_a"] is not None else "most ink − least ink + median ink")
            arith_rows.append([label, what, row["ink_a"], row["ink_b"], row["ink_mean_c"], row["ink_result"],
                               row["digit_c"], row.get("result_digit"), row.get("result_confidence")])
    hists = {LABELS[k]: v["class_histogram"] for k, v in evals.items()}
    figures.insert(0, (class_histogram_figure(hists, plan.eval_n, fig_dir / "class_histograms.png"),
                       "How many samples the reader puts in each digit class; a model that draws every digit "
                       "equally often stays inside the shaded ±10 % band, a mode-dropping one leaves it"))
    by_class = class_fld_figure(evals, fig_dir / "class_fld.png")
    if by_class is not None:
        figures.insert(1, (by_class, "FLD within each digit: the samples read as the digit against real test "
                                     "digits of it; grey bars are real train digits (the floor). Tall bars are the "
                                     "digits a model draws worst"))

    first = next(iter(evals.values()))
    acc = rinfo.get("test_accuracy")
    reader = f"reader {rinfo['weights_sha256_16']}" + (f", {acc:.2%} on MNIST test" if acc is not None else "")
    quality = Table(
        ["model", "FLD", "FLD floor", "FLD / floor", "precision", "recall", "grey share of the ink", "training time"],
        [[LABELS[k], ev["fld"], ev["fld_floor"], ev["fld_ratio"], ev["precision"], ev["recall"], ev["grey_share"],
          results[k]["train"]["seconds"]] for k, ev in evals.items()],
        formats=["text", "num", "num", "ratio", "pct", "pct", "pct", "secs"],
        tips=["", *(METRICS[k][2] for k in ("fld", "fld_floor", "fld_ratio", "precision", "recall", "grey_share")),
              "train.seconds"],
        caption=f"Sample quality: {plan.eval_n:,} samples per model vs {first['n_test']:,} real test digits; the "
                f"floor compares {first['n_train_floor']:,} real train digits with the same test digits "
                f"(precision/recall floor {first['precision_floor']:.0%}/{first['recall_floor']:.0%}); {reader}; "
                f"real test digits have a grey share of {real_grey:.0%}")
    classes = Table(
        ["model", "samples per class", "worst digit class", "vs uniform", "reader confidence",
         "conditional accuracy"],
        [[LABELS[k], _fmt_int_range(ev["class_histogram"]), _worst_digit(ev), ev["class_max_rel_deviation"],
          ev["mean_confidence"], ev.get("conditional_accuracy")] for k, ev in evals.items()],
        formats=["text", "text", "text", "pct_signed", "pct", "pct"],
        tips=["", "fewest–most samples the reader puts in one digit class",
              "the digit class furthest from a tenth of the samples (eval.class_worst_digit)",
              *(METRICS[k][2] for k in ("class_max_rel_deviation", "mean_confidence", "conditional_accuracy"))],
        caption=f"Which digits each model draws, as the reader sees them ({plan.eval_n / 10:,.0f} per class is "
                "uniform); conditional accuracy: asked for each digit in turn, the share read as that digit")
    tables = [quality, classes]
    lik_rows = [[LABELS[k], _neg(results[k]["test"].get("elbo")), ev["likelihood"].get("neg_elbo_nats"),
                 ev["likelihood"].get("iw_nll_nats")] for k, ev in evals.items() if ev.get("likelihood")]
    if lik_rows:
        tables.append(Table(
            ["model", f"−ELBO, all {len(mnist.test):,} test digits", f"−ELBO, {plan.nll_images} test digits",
             f"IW-NLL (k = {plan.nll_k}), the same {plan.nll_images}"], lik_rows,
            formats=["text", "num", "num", "num"],
            tips=["", "test.elbo, negated", "likelihood.neg_elbo_nats", "likelihood.iw_nll_nats"],
            caption="Likelihood in nats per image on dynamically binarised test digits, lower is better; "
                    "the IW-NLL is the tighter estimate (pythae's VAE: 89.78 on full MNIST)"))
    if arith_rows:
        tables.append(Table(["model", "A − B + C", "ink A", "ink B", "ink mean(C)", "ink result", "digit C",
                             "result read as", "confidence"], arith_rows,
                            formats=["text", "text", "num", "num", "num", "num", "int", "int", "pct"],
                            caption="Automatic latent arithmetic: cells picked by the reader's digit and their ink "
                                    "(mean pixel value); the result should keep C's digit with more ink than "
                                    "decoded mean(C)"))
    first_run = next(iter(results.values()))
    images = f"{first_run['train']['images']:,} MNIST train digits"
    source = (f"{images} of the embedded sample (its 1,000 MNIST test digits held out)" if data_dir == "embedded"
              else images)
    text = _mnist_text(evals, real_grey, plan, source)
    # the study's numbered grid above is the model's one sample grid: the run's own (another seed) stays out
    subsections = [section_from_run(run_dir, skip=("samples",)) for run_dir in runs.values()]
    section = Section("Generative models on MNIST: VAE, DCGAN, cGAN" + (", CVAE" if "cvae" in runs else ""),
                      text=text, tables=tables, figures=figures, subsections=subsections)
    metrics: dict[str, Any] = {"reader": rinfo, "real_grey_share": real_grey}
    for name, ev in evals.items():
        m = {k: ev.get(k) for k in ("n", "n_test", "n_train_floor", "class_histogram", "class_max_rel_deviation",
                                    "class_worst_digit", "class_worst_count", "mean_confidence", "fld", "fld_floor",
                                    "fld_ratio", "precision", "recall",
                                    "conditional_accuracy", "grey_share", "kid_mean", "kid_floor_mean",
                                    "fld_per_class", "fld_per_class_floor", "code_purity")
             if ev.get(k) is not None}
        if "likelihood" in ev:
            m["neg_elbo_nats"] = ev["likelihood"]["neg_elbo_nats"]
            m["iw_nll_nats"] = ev["likelihood"]["iw_nll_nats"]
            m["iw_k"], m["iw_images"] = plan.nll_k, ev["likelihood"]["n"]
        if results[name]:
            m["train_seconds"] = results[name]["train"]["seconds"]
            m["test"] = results[name]["test"]
        if name in arith_metrics:
            m["arithmetic"] = {k: v for k, v in arith_metrics[name].items() if k != "figure"}
        metrics[name] = m
    return section, metrics


# ------------------------------------------------------------------------------------------ faces
def find_faces(data_dir: str | None) -> Path | None:
    from latentworks.data.roots import data_roots

    for _, root in data_roots(data_dir):
        for cand in (root / "faces" / "celebA", root / "celebA", root / "faces"):
            if cand.is_dir() and any(cand.glob("*.jpg")):
                return cand
    return None


def faces_part(ctx: StudyContext, root: Path, kinds: tuple[str, ...] = FACE_KINDS, limit: int | None = None,
               **changes: Any) -> tuple[Section, dict[str, Any]]:
    from latentworks.latent.tools import interpolate, sample_grid
    from latentworks.pipelines.generative import load_generative, train_generative

    folder = find_faces(ctx.data_dir)
    title = "Generative models on CelebA faces (64×64)"
    if folder is None:
        note = ("<p class='note'>The CelebA folder (<code>faces/celebA</code> under the data folder, "
                "<code>$LATENTWORKS_DATA</code> or the development <code>shared/data</code>) was not found, so "
                "the faces part was skipped. Pass <code>--data-dir</code> pointing at a folder that holds "
                "<code>faces/celebA</code>.</p>")
        return Section(title, text=note), {"skipped": "CelebA folder not found"}
    fig_dir = root / "figures"
    figures: list[tuple[Path, str]] = []
    rows, metrics, runs = [], {}, []
    for name, (run_dir, cfg) in _face_runs(ctx, root, folder, kinds, limit, **changes).items():
        res = ctx.train(train_generative, cfg, run_dir)
        runs.append(run_dir)
        model = load_generative(run_dir)
        label = LABELS[name]
        grid = sample_grid(model, 8, ctx.seed + 334, out=fig_dir / f"{name}_samples.png")
        figures.append((grid.path, f"{label}: 8×8 faces from the prior (grid seed {ctx.seed + 334}), cells "
                                   "numbered for the arithmetic"))
        interp = interpolate(model, ctx.seed + 4, 10, slerp=registry.kind(name).can("adversarial"),
                             out=fig_dir / f"{name}_interp.png")
        figures.append((interp.path, f"{label}: a walk between two random latents; faces should morph, not "
                                     "cross-fade"))
        arith = attribute_arithmetic(model, ctx.seed + 334, 8, luminance, "luminance",
                                     fig_dir / f"{name}_arithmetic.png")
        c = arith["cells"]
        figures.append((Path(arith["figure"]), f"{label}: A (brightest {c['a']}) − B (darkest {c['b']}) + C "
                                               f"(median {c['c']})"))
        test = res["test"] if res else {}
        rows.append([label, res["train"]["images"] if res else None, cfg.train.epochs, test.get("recon_mse"),
                     arith["luminance_mean_c"], arith["luminance_result"],
                     res["train"]["seconds"] if res else None])
        metrics[name] = {"test": test, "train_seconds": res["train"]["seconds"] if res else None,
                         "arithmetic": {k: v for k, v in arith.items() if k != "figure"}}
    table = Table(["model", "train images", "epochs", "held-out reconstruction MSE", "luminance mean(C)",
                   "luminance A − B + C", "training time"], rows,
                  formats=["text", "int", "int", "num", "num", "num", "secs"],
                  caption=f"{folder}: 10 % held out (fixed seed) for the reconstruction MSE (pixels in [0, 1])")
    text = (f"<p>{html.escape(str(folder))} centre-cropped and resized to 64×64 RGB. The arithmetic picks the "
            "brightest (A) and darkest (B) faces of the numbered grid and adds their difference to median ones (C): "
            "the result should be brighter than decoded mean(C), which the table measures.</p>")
    return Section(title, text=text, tables=[table], figures=figures,
                   subsections=[section_from_run(r, skip=("samples",)) for r in runs]), metrics


# ------------------------------------------------------------------------------------------ entry point
def _mnist_runs(ctx: StudyContext, plan: Plan, root: Path) -> dict[str, tuple[Path, Any]]:
    data_dir = _data_dir(ctx)
    return {name: (root / name, gen_config(ctx.profile, name, data="mnist", data_dir=data_dir, seed=ctx.seed,
                                           device=ctx.device, progress=ctx.progress, limit=plan.limit))
            for name in MNIST_KINDS[ctx.profile]}


def _face_runs(ctx: StudyContext, root: Path, folder: Path, kinds: tuple[str, ...] = FACE_KINDS,
               limit: int | None = None, **changes: Any) -> dict[str, tuple[Path, Any]]:
    return {name: (root / name, gen_config("faces", name, data=str(folder), data_dir=None, seed=ctx.seed,
                                           device=ctx.device, progress=ctx.progress, limit=limit, **changes))
            for name in kinds}


def _on_cpu(ctx: StudyContext) -> bool:
    return ctx.device == "cpu" or (ctx.device == "auto" and not torch.cuda.is_available())


def generative_plan(ctx: StudyContext) -> list:
    plan = PLANS[ctx.profile]
    root = ctx.out / "generative"
    runs = _mnist_runs(ctx, plan, root / "mnist")
    folder = find_faces(ctx.data_dir) if plan.faces else None
    if folder is not None:
        runs.update({f"faces {k}": v for k, v in _face_runs(ctx, root / "faces", folder).items()})
    # These small convnets run 2-5x faster on one thread on a busy 2-core box.
    threads = 1 if _on_cpu(ctx) else None
    return [ctx.job(f"{name}", cfg, run_dir, threads) for name, (run_dir, cfg) in runs.items()]


@register_study("generative", order=20, plan=generative_plan)
def generative_study(ctx: StudyContext) -> StudyResult:
    plan = PLANS[ctx.profile]
    root = ctx.out / "generative"
    threads = torch.get_num_threads()
    if _on_cpu(ctx):
        torch.set_num_threads(1)  # these small convnets run 2-5x faster on one thread on a busy 2-core box
    started = time.perf_counter()
    try:
        section, mnist_metrics = mnist_part(ctx, plan, root / "mnist")
        sections, metrics = [section], {"mnist": mnist_metrics}
        if plan.faces:
            faces, metrics["faces"] = faces_part(ctx, root / "faces")
            sections.append(faces)
    finally:
        torch.set_num_threads(threads)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    metrics = _clean(metrics)
    full_mnist = _data_dir(ctx) != "embedded" and plan.limit is None
    runs = {name: run_dir for name, (run_dir, _) in _mnist_runs(ctx, plan, root / "mnist").items()}
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


def _headlines(runs: dict[str, Path], faces: dict[str, Path], plan: Plan, full_mnist: bool) -> list[Headline]:
    """Every summary row read from its run's results.json: the VAE's IW-NLL, then each model's registered
    headline measures (its training's held-out scores and the study's evaluation in its ``eval`` section)."""
    out: list[Headline | None] = []
    if "vae" in runs:
        out.append(headline_from_run(
            runs["vae"], "generative", f"VAE likelihood, IW-NLL with k = {plan.nll_k} (nats, lower is better)",
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
