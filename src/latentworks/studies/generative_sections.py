"""The generative study's report sections: the MNIST models judged by a frozen digit reader, and the CelebA faces.

Every score is measured on held-out data or on fresh samples: FLD (Fréchet distance in the reader's penultimate
features) is always printed next to its **floor**, the FLD between real train and real test digits at the same
sample sizes, which is what a perfect generator would score.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from latentworks import registry
from latentworks.pipelines.generative_eval import grey_share, worst_class
from latentworks.recipes.studies import GENERATIVE, GenerativeProfile
from latentworks.report.html import Section, Table
from latentworks.report.names import METRICS
from latentworks.report.run_section import section_from_run
from latentworks.studies.catalogue import StudyContext
from latentworks.studies.generative_faces import FACE_EVAL_N, score_face_run
from latentworks.studies.generative_figures import (
    attribute_arithmetic,
    class_fld_figure,
    class_histogram_figure,
    ink,
    luminance,
)
from latentworks.studies.generative_runs import (
    LABELS,
    face_runs,
    find_faces,
    mnist_runs,
    scores_likelihood,
    study_data_dir,
)


def get_reader(ctx: StudyContext, plan: GenerativeProfile, data_dir: str | None, root: Path):
    from latentworks.pipelines.digit_reader import find_or_train_reader, train_digit_reader

    if plan.tiny_reader:
        from latentworks.recipes.digit_reader import recipe as reader_recipe

        folder = root / "reader"
        train_digit_reader(reader_recipe("tiny", **{"data.data_dir": data_dir, "train.seed": ctx.seed,
                                                    "train.progress": False, "train.device": "cpu"}), folder)
        return find_or_train_reader(folder)
    return find_or_train_reader(None, data_dir=data_dir, progress=ctx.progress)


def score_run(run_dir: Path, profile: str, seed: int, data_dir: str | None) -> None:
    """One MNIST run of the study scored as :func:`mnist_part` scores it (kept in its results.json, where the
    study finds it with the same settings and reader and does not score it again)."""
    from latentworks.data.mnist import load_mnist
    from latentworks.pipelines.digit_reader import find_or_train_reader

    mnist = load_mnist("mnist", data_dir=data_dir, quiet=True)
    reader = find_or_train_reader(None, data_dir=data_dir, progress=False)
    evaluate_models({Path(run_dir).name: Path(run_dir)}, reader, mnist, GENERATIVE[profile], seed)


def _first(evals: dict[str, dict[str, Any]], capability: str) -> dict[str, Any] | None:
    """The evaluation of the first unconditional kind with ``capability`` (the VAE, the DCGAN)."""
    return next((ev for k, ev in evals.items() if registry.kind(k).can(capability)
                 and not registry.kind(k).can("label")), None)


def _neg(value: float | None) -> float | None:
    return None if value is None else -value


def _fmt_int_range(hist: list[int]) -> str:
    return f"{min(hist)}–{max(hist)}"


def _worst_digit(ev: dict[str, Any]) -> str:
    digit = ev.get("class_worst_digit")
    return "—" if digit is None else f"digit {digit}: {ev['class_worst_count']:,} of {ev['n']:,}"


def evaluate_models(runs: dict[str, Path], reader: Any, mnist: Any, plan: GenerativeProfile, seed: int,
                    progress: bool = False) -> dict[str, dict[str, Any]]:
    """Each run's evaluation, written into its own results.json under ``eval`` (so its report line reads its
    headline measures from there). A run already scored with the same settings and reader is not scored again."""
    from tqdm.auto import tqdm

    from latentworks.pipelines.generative import load_generative
    from latentworks.pipelines.generative_eval import evaluate_model, reader_info
    from latentworks.runs import add_results_section, read_json

    evals = {}
    bar = tqdm(runs.items(), desc=f"scoring {plan.eval_n:,} samples per model", unit="model", disable=not progress,
               leave=False, dynamic_ncols=True)
    for name, run_dir in bar:
        bar.set_postfix_str(LABELS[name], refresh=True)
        nll_k = plan.nll_k if scores_likelihood(name) else 0
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


def _mnist_text(evals: dict[str, dict[str, Any]], real_grey: float, plan: GenerativeProfile, source: str) -> str:
    """The VAE-vs-GAN paragraph, stated from the measured numbers (not from folklore)."""
    parts = [f"<p>Models trained on {source}; each is judged on {plan.eval_n:,} fresh samples by a frozen digit "
             "reader (never trained on generated images). <b>FLD</b> is the Fréchet distance in the reader's "
             "penultimate features; the <b>floor</b> is the FLD between real train and real test digits at the "
             "same sizes, i.e. what a perfect generator would score. <b>Precision</b> is the share of samples "
             "inside the real digits' k-NN manifold (quality), <b>recall</b> the share of real test digits inside "
             "the samples' manifold (coverage).</p>"]
    vae, gan = _first(evals, "elbo"), _first(evals, "adversarial")
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
    cgan = next((ev for k, ev in evals.items() if registry.kind(k).can("label")), None)
    if cgan and cgan.get("conditional_accuracy") is not None:
        accs = ", ".join(f"{LABELS[k]} {v['conditional_accuracy']:.1%}" for k, v in evals.items()
                         if v.get("conditional_accuracy") is not None)
        parts.append("<p><b>Controllable generation</b> (the course's generative brief could not choose the digit): "
                     "asked for each digit in turn, "
                     f"the reader agrees with the requested digit for {accs} of the samples.</p>")
    return "".join(parts)


def mnist_part(ctx: StudyContext, plan: GenerativeProfile, root: Path) -> tuple[Section, dict[str, Any]]:
    from latentworks.data.mnist import load_mnist
    from latentworks.latent.tools import interpolate, sample_grid
    from latentworks.pipelines.generative import load_generative, train_generative

    data_dir = study_data_dir(ctx)
    runs: dict[str, Path] = {}
    results: dict[str, dict[str, Any]] = {}
    for name, (run_dir, cfg) in mnist_runs(ctx, plan, root).items():
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
    section = Section("Generative models on MNIST: " + ", ".join(LABELS[k] for k in runs),
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


def faces_part(ctx: StudyContext, root: Path, recipe: str = "faces", limit: int | None = None,
               **changes: Any) -> tuple[Section, dict[str, Any]]:
    """The CelebA section: one run of each kind ``recipe`` defines, when the folder is found."""
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
    for name, (run_dir, cfg) in face_runs(ctx, root, folder, recipe, limit, **changes).items():
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
        ev = score_face_run(run_dir, model, ctx.seed)
        rows.append([label, res["train"]["images"] if res else None, cfg.train.epochs, ev.get("fld_ratio"),
                     ev.get("precision"), ev.get("recall"), test.get("recon_mse"),
                     arith["luminance_mean_c"], arith["luminance_result"],
                     res["train"]["seconds"] if res else None])
        metrics[name] = {"test": test, "train_seconds": res["train"]["seconds"] if res else None,
                         "arithmetic": {k: v for k, v in arith.items() if k != "figure"},
                         **({"eval_skipped": ev["skipped"]} if "skipped" in ev else
                            {k: ev[k] for k in ("fld", "fld_floor", "fld_ratio", "precision", "recall",
                                                "precision_floor", "recall_floor")})}
    skipped = next((m["eval_skipped"] for m in metrics.values() if "eval_skipped" in m), None)
    scored = (f"not scored: {skipped}" if skipped else
              f"FLD / floor, precision and recall in the face feature network's space ({FACE_EVAL_N:,} samples "
              "against the held-out faces; the floor is real train faces against them)")
    table = Table(["model", "train images", "epochs", "FLD / floor", "precision", "recall",
                   "held-out reconstruction MSE", "luminance mean(C)", "luminance A − B + C", "training time"], rows,
                  formats=["text", "int", "int", "ratio", "pct", "pct", "num", "num", "num", "secs"],
                  caption=f"{folder}: 10 % held out (fixed seed) for the reconstruction MSE (pixels in [0, 1]); "
                          f"{scored}")
    text = (f"<p>{html.escape(str(folder))} centre-cropped and resized to 64×64 RGB. The arithmetic picks the "
            "brightest (A) and darkest (B) faces of the numbered grid and adds their difference to median ones (C): "
            "the result should be brighter than decoded mean(C), which the table measures.</p>")
    return Section(title, text=text, tables=[table], figures=figures,
                   subsections=[section_from_run(r, skip=("samples",)) for r in runs]), metrics
