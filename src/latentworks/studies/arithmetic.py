"""The arithmetic part of ``latentworks run``: how well do encoder-decoders really learn + and −?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from latentworks.pipelines.sweep import sweep
from latentworks.recipes.arithmetic import RunConfig, recipe
from latentworks.report.html import Section, Table, section_from_run
from latentworks.studies.registry import StudyContext, StudyResult, register_study


@dataclass(frozen=True)
class Plan:
    sweep_fractions: tuple[float, ...]
    sweep_epochs: int | None
    notebook_fraction: float
    notebook_epochs: int | None
    image_fraction: float
    img2text_epochs: int | None
    text2img_epochs: int | None
    max_int: int = 99


PLANS = {
    # Seconds, for the test-suite: tiny operands, one or two epochs; proves the plumbing, not the accuracy.
    "test": Plan((0.3, 0.6), 2, 0.5, 1, 0.5, 1, 1, max_int=9),
    # ≤ 10 minutes on 2 CPU cores for the whole study, on the embedded MNIST sample (4,000 train / 1,000 test).
    "quick": Plan((0.05, 0.1), None, 0.1, 10, 0.25, 3, 4),
    # The benchmark figures: the presets' own epochs on full MNIST.
    "full": Plan((0.05, 0.1, 0.25, 0.5), None, 0.1, None, 0.5, None, None),
}


def _config(ctx: StudyContext, plan: Plan, task: str, name: str, fraction: float,
            epochs: int | None) -> RunConfig:
    data_dir = ctx.data_dir if ctx.data_dir or ctx.profile == "full" else "embedded"
    changes: dict[str, Any] = {"data.max_int": plan.max_int, "data.train_fraction": fraction,
                               "data.data_dir": data_dir, "train.seed": ctx.seed, "train.device": ctx.device,
                               "train.progress": ctx.progress}
    if epochs:
        changes["train.epochs"] = epochs
    return recipe(name, task=task, **changes)


def _sweep_config(ctx: StudyContext, plan: Plan, fraction: float) -> RunConfig:
    return _config(ctx, plan, "text2text", "best", fraction, plan.sweep_epochs)


def _runs(ctx: StudyContext, plan: Plan) -> list[tuple[str, Any, RunConfig]]:
    """The study's runs besides the sweep: (name, run folder, config)."""
    root = ctx.out / "arithmetic"
    runs = [("text2text notebook", root / "text2text-notebook",
             _config(ctx, plan, "text2text", "notebook", plan.notebook_fraction, plan.notebook_epochs))]
    for task, epochs in (("img2text", plan.img2text_epochs), ("text2img", plan.text2img_epochs)):
        runs.append((f"{task} best", root / f"{task}-best",
                     _config(ctx, plan, task, "best", plan.image_fraction, epochs)))
    return runs


def arithmetic_plan(ctx: StudyContext) -> list:
    from latentworks.pipelines.sweep import run_dir_of

    plan = PLANS[ctx.profile]
    sweep_root = ctx.out / "arithmetic" / "sweep-best"
    sweep_configs = [_sweep_config(ctx, plan, f) for f in plan.sweep_fractions]
    jobs = [ctx.job(f"text2text best {cfg.data.train_fraction:g}", cfg, run_dir_of(sweep_root, cfg))
            for cfg in sweep_configs]
    return jobs + [ctx.job(name, cfg, run_dir) for name, run_dir, cfg in _runs(ctx, plan)]


@register_study("arithmetic", order=10, plan=arithmetic_plan)
def arithmetic_study(ctx: StudyContext) -> StudyResult:
    from latentworks.pipelines.arithmetic import train

    plan = PLANS[ctx.profile]
    root = ctx.out / "arithmetic"
    summary = sweep(lambda f: _sweep_config(ctx, plan, f), list(plan.sweep_fractions), root / "sweep-best",
                    train_fn=lambda cfg, run_dir: ctx.train(train, cfg, run_dir))
    runs = _runs(ctx, plan)
    results: dict[str, Any] = {}
    for name, run_dir, cfg in runs:
        results[name] = ctx.train(train, cfg, run_dir)

    rows = []
    for row in summary.get("rows", []):
        rows.append(["text2text", "best", row["train_fraction"], row["exact_match"], row["char_accuracy"],
                     row.get("abs_error"), row["seconds"]])
    for name, res in results.items():
        if res is None:
            continue
        task, preset = name.split()
        test = res["test"]
        prefix = "readback_" if task == "text2img" else ""
        rows.append([task, preset, res["config"]["data"]["train_fraction"], test.get(f"{prefix}exact_match"),
                     test.get(f"{prefix}char_accuracy"), test.get(f"{prefix}abs_error"), res["train"]["seconds"]])
    table = Table(["task", "preset", "train fraction", "exact match", "per-char accuracy", "mean |error|",
                   "train s"], rows, caption="All scores on held-out queries (test handwriting from MNIST test)")
    text = (
        "<p>Every model is scored on queries it never saw in training; image queries are written with MNIST "
        "<b>test-split</b> digits. <b>Exact match</b> counts answers whose every character is right; the course "
        "reports only Keras per-character accuracy, which hides most errors (course-notebooks §3.1: 0.60 "
        "per-char is ≈7 % exact at a 10 % split). text→image answers are read back by a digit reader trained "
        "separately on MNIST train and never used as a loss.</p>"
    )
    figures = [(p, p.stem.replace("_", " ")) for p in sorted((root / "sweep-best" / "figures").glob("*.png"))]
    subsections = [section_from_run(r["run"]) for r in summary.get("rows", [])]
    subsections += [section_from_run(run_dir) for _, run_dir, _ in runs]
    section = Section("Arithmetic: text→text, image→text, text→image", text=text, tables=[table],
                      figures=figures, subsections=subsections)
    metrics = {f"{r[0]}/{r[1]}/{r[2]:g}": {"exact_match": r[3], "char_accuracy": r[4]} for r in rows}
    return StudyResult([section], metrics)
