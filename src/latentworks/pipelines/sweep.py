"""Train-fraction sweeps: one run per fraction, then the two figures the reports drew.

Figure 1 of seed 000 overlays the training histories of several splits; here every curve is measured on the
held-out queries, as exact match and per-character accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from latentworks.pipelines.arithmetic import train
from latentworks.pipelines.tasks import task as task_of
from latentworks.recipes.arithmetic import RunConfig
from latentworks.report import plots
from latentworks.runs import RunDir, write_json


def run_dir_of(out: str | Path, cfg: RunConfig) -> Path:
    """The folder of one fraction's run inside a sweep folder."""
    return Path(out) / f"{cfg.task}-{cfg.recipe}-f{cfg.data.train_fraction:g}"


def fraction_figure(rows: list[dict[str, Any]], title: str, path: Path) -> Path:
    """Held-out accuracy against the train fraction: a curve from three fractions up, bars below that (a line
    through two points suggests a trend it cannot show); ``title`` names the task as a reader says it."""
    fr = [r["train_fraction"] for r in rows]
    exact, per_char = [r["exact_match"] for r in rows], [r["char_accuracy"] for r in rows]
    title = f"{title}: held-out accuracy vs train fraction"
    if len(rows) >= 3:
        return plots.line_plot({"exact match": (fr, exact), "per-character": (fr, per_char)}, path, logx=True,
                               ylim=(0, 1.01), styles={"per-character": "--"}, title=title,
                               xlabel="share of all queries used for training (log scale)",
                               ylabel="accuracy on held-out queries")
    fig, ax = plots.grouped_bars([f"{f:.0%}" for f in fr], {"exact match": exact, "per-character": per_char},
                                 title=title, xlabel="share of all queries used for training",
                                 ylabel="accuracy on held-out queries", value_labels="{:.1%}")
    ax.set_ylim(0, 1.1)  # room above a 100 % bar for its label
    plots.legend_outside(ax)
    return plots.save_figure(fig, path)


def sweep(make_config: Callable[[float], RunConfig], fractions: list[float], out: str | Path,
          *, train_fn: Callable[[RunConfig, Path], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    out = Path(out)
    rows: list[dict[str, Any]] = []
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for fraction in fractions:
        cfg = make_config(fraction)
        run_dir = run_dir_of(out, cfg)
        results = (train_fn or train)(cfg, run_dir)
        if results is None:  # not the writing rank under torchrun
            continue
        test = results["test"]
        rows.append({"train_fraction": fraction, "exact_match": test.get("exact_match"),
                     "char_accuracy": test.get("char_accuracy"), "abs_error": test.get("abs_error"),
                     "seconds": results["train"]["seconds"], "run": str(run_dir), "n": test.get("n")})
        history = RunDir(run_dir, create=False).read_metrics()
        points = [(r["epoch"], r["eval/test_exact_match"]) for r in history if "eval/test_exact_match" in r]
        if points:
            curves[f"{fraction:.0%} for training: exact match"] = ([p[0] for p in points], [p[1] for p in points])
        points = [(r["epoch"], r["eval/test_char_accuracy"]) for r in history if "eval/test_char_accuracy" in r]
        if points:
            curves[f"{fraction:.0%} for training: per-character"] = ([p[0] for p in points], [p[1] for p in points])
    if not rows:
        return {}
    figures = out / "figures"
    task = task_of(make_config(fractions[0]).task)
    # One colour per fraction: solid for exact match, dotted for per-character accuracy.
    colour = {f: f"C{i}" for i, f in enumerate(dict.fromkeys(name.split(":")[0] for name in curves))}
    styles = {name: colour[name.split(":")[0]] + (":" if "per-character" in name else "-") for name in curves}
    # the per-epoch points score a fixed subset of each run's held-out queries, not all of them as the table does
    subset = make_config(fractions[0]).eval.eval_subset
    on = f" ({subset:,}-query subset)" if any(r["n"] and r["n"] > subset for r in rows) else ""
    plots.line_plot(curves, figures / "sweep_training_curves.png", ylim=(0, 1.01), styles=styles,
                    title=f"{task.title}: held-out accuracy by epoch for each train fraction",
                    xlabel="epoch",
                    ylabel=f"held-out accuracy{on}")
    fraction_figure(rows, task.title, figures / "exact_match_vs_fraction.png")
    summary = {"task": task.name, "rows": rows, "figures": [str(p) for p in sorted(figures.glob("*.png"))]}
    write_json(out / "sweep.json", summary)
    return summary
