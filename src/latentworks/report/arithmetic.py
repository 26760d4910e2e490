"""The arithmetic section's records: MNIST-addition beside the published systems, and multiplication on operands
longer than trained.

Both read run folders only, never a summary made from them: "ours" is each MNIST-addition run's own results.json
(``latentworks arithmetic mnist-addition --digits N``, also the run folders ``benchmarks/mnist_addition.py`` leaves
in ``benchmarks/out/mnist_addition/``), averaged over its seeds; the multiplication figure is each text→text run's
``RUN/length/*.json`` (``latentworks arithmetic eval RUN --digits …``). A study hands in its own runs, ``latentworks
report RUN …`` the folders it is given; an N with no run of ours says "not run", never a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentworks.errors import LatentworksError
from latentworks.report.html import Section, Table, value_at
from latentworks.report.names import fmt
from latentworks.runs import RunDir, read_json

MNIST_ADDITION_SOURCE = ("DeepProofLog (arXiv:2511.08581), its MNIST-addition table: test sum accuracy on the "
                         "protocol of Manhaeve et al. 2018")
MNIST_TRAIN_IMAGES = 60_000  # the protocol cuts MNIST train into 60,000 / 2N sums


@dataclass(frozen=True)
class Published:
    """One published system's MNIST-addition figure: test sum accuracy at N digits per number."""

    digits: int
    system: str
    sum_accuracy: float
    source: str = MNIST_ADDITION_SOURCE


#: Each system on the protocol, best first within an N.
PUBLISHED_MNIST_ADDITION: tuple[Published, ...] = (
    Published(1, "ABL", 0.980), Published(1, "DeepStochLog", 0.979),
    Published(2, "DeepStochLog", 0.964),
    Published(4, "DPrL", 0.940), Published(4, "DeepSoftLog", 0.935), Published(4, "A-NeSI", 0.926),
    Published(15, "DPrL", 0.808), Published(15, "DeepSoftLog", 0.771), Published(15, "A-NeSI", 0.759),
    Published(100, "DPrL", 0.378),
)


def _results(run_dir: str | Path) -> dict[str, Any] | None:
    """A finished run's results.json, or None for a folder that holds none (a study folder, a run still going)."""
    if not (Path(run_dir) / "results.json").is_file():
        return None
    try:
        return RunDir(run_dir, create=False).read_results()
    except LatentworksError:
        return None  # a damaged file is the run's own section's to report


def _unique(run_dirs: Iterable[str | Path]) -> list[Path]:
    return list(dict.fromkeys(Path(d).resolve() for d in run_dirs))


def mnist_addition_runs(run_dirs: Iterable[str | Path]) -> dict[int, list[dict[str, Any]]]:
    """N -> one entry per MNIST-addition run among ``run_dirs`` (its folder, seed, sum accuracy, test sums n and
    training sums), whatever its recipe: the protocol's data section is the one with ``number_length``."""
    out: dict[int, list[dict[str, Any]]] = {}
    for run in _unique(run_dirs):
        results = _results(run)
        if results is None or value_at(results, "config.data.number_length") is None:
            continue
        accuracy = value_at(results, "test.sum_accuracy")
        if accuracy is None:
            continue
        n = int(value_at(results, "config.data.number_length"))
        out.setdefault(n, []).append({"run": str(run), "seed": results.get("seed"), "sum_accuracy": float(accuracy),
                                      "n": value_at(results, "test.n"),
                                      "train_sums": value_at(results, "train.queries")})
    return dict(sorted(out.items()))


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1, as the papers report over seeds; 0 for one run)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _ours(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "not run"
    mean, std = mean_std([r["sum_accuracy"] for r in runs])
    return fmt(mean, "pct") if len(runs) == 1 else f"{100 * mean:.2f} ± {100 * std:.2f} %"


def mnist_addition_table(run_dirs: Iterable[str | Path]) -> Table:
    """One row per N that a published system or a run of ours has: the published figures beside ours (mean ±
    std over seeds, with the seeds, the test sums and the training sums each run had)."""
    ours = mnist_addition_runs(run_dirs)
    published: dict[int, list[Published]] = {}
    for p in PUBLISHED_MNIST_ADDITION:
        published.setdefault(p.digits, []).append(p)
    rows = []
    for n in sorted(set(published) | set(ours)):
        runs, systems = ours.get(n, []), published.get(n, [])
        best = max((p.sum_accuracy for p in systems), default=None)
        gap = ("—" if not runs or best is None
               else f"{100 * (mean_std([r['sum_accuracy'] for r in runs])[0] - best):+.1f} points")
        sizes = sorted({r["train_sums"] for r in runs if r["train_sums"] is not None})
        protocol = MNIST_TRAIN_IMAGES // (2 * n)
        trained = "—"
        if sizes:  # a run on the embedded MNIST sample, say, has fewer sums than the protocol's: said, not hidden
            trained = ", ".join(f"{s:,}" for s in sizes) + ("" if sizes == [protocol] else
                                                             f" (not the protocol's {protocol:,})")
        rows.append([n, f"{protocol:,}",
                     "; ".join(f"{p.system} {fmt(p.sum_accuracy, 'pct')}" for p in systems) or "none published",
                     _ours(runs), gap,
                     ", ".join(str(r["seed"]) for r in sorted(runs, key=lambda r: str(r["seed"]))) or "—",
                     ", ".join(f"{v:,}" for v in sorted({r["n"] for r in runs if r["n"] is not None})) or "—",
                     trained])
    return Table(["N (digits per number)", "training sums (protocol)", "published: test sum accuracy",
                  "latentworks: test sum accuracy", "ours − best published", "seeds", "test sums", "training sums"],
                 rows, formats=["int", "shown", "text", "shown", "shown", "shown", "shown", "shown"],
                 caption=f"MNIST-addition on its own protocol. Published: {MNIST_ADDITION_SOURCE}. Ours: "
                         "latentworks arithmetic mnist-addition --digits N --seed S, mean ± sample std over the seeds "
                         "whose run folders the report was given; 'not run' where none was")


def priors_table(columns: Iterable[str], rows: list[list[str]], caption: str) -> Table:
    """The priors table (``recipes/arithmetic_priors.py`` gives columns, rows and caption: this layer may not
    import recipes), every cell text."""
    columns = list(columns)
    return Table(columns, rows, caption=caption, formats=["text"] * len(columns))


# ------------------------------------------------------------------------------------------ × on longer operands
def multiplication_curves(run_dirs: Iterable[str | Path]) -> dict[str, dict[int, tuple[float, int]]]:
    """Run name -> operand digits -> (exact match of its '*' queries, how many), from each text→text run with '*'
    that ``arithmetic eval`` scored on equal-length operands (query seeds pooled, weighted by their counts)."""
    curves: dict[str, dict[int, tuple[float, int]]] = {}
    for run in _unique(run_dirs):
        results = _results(run)
        if results is None or results.get("kind") != "arithmetic/text2text" or \
                "*" not in str(value_at(results, "config.data.ops") or ""):
            continue
        pooled: dict[int, list[tuple[float, int]]] = {}
        for path in sorted((run / "length").glob("digits-*.json")):
            try:
                scored = read_json(path)
                if "other_digits" in scored or "*" not in scored["exact_match_by_op"]:
                    continue
                pooled.setdefault(int(scored["digits"]), []).append(
                    (float(scored["exact_match_by_op"]["*"]), int(scored["n_by_op"]["*"])))
            except (LatentworksError, KeyError, TypeError, ValueError):
                continue  # a file not of this version's form: left out, not guessed at
        if pooled:
            curves[run.name] = {d: (sum(v * k for v, k in points) / max(1, sum(k for _, k in points)),
                                    sum(k for _, k in points)) for d, points in sorted(pooled.items())}
    return curves


def multiplication_figure(run_dirs: Iterable[str | Path], path: str | Path, trained_digits: int = 2) -> Path | None:
    """Exact match of '*' against operand digits, one line per run (None when no run has such scores)."""
    from latentworks.report.plots import legend_outside, plt, save_figure

    curves = multiplication_curves(run_dirs)
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, points in curves.items():
        xs = sorted(points)
        ax.plot(xs, [points[x][0] for x in xs], marker="o", label=name)
    ax.axvspan(0.8, trained_digits + 0.2, color="k", alpha=0.07, label="lengths seen in training")
    longest = max(d for points in curves.values() for d in points)
    if longest > 20:
        ax.set_xscale("log")
    ax.set(xlabel="digits per operand" + (" (log scale)" if longest > 20 else ""),
           ylabel="exact match of a × b on fresh queries", ylim=(-0.02, 1.02),
           title="multiplication on operands longer than trained")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return save_figure(fig, path)


MULTIPLICATION_CAPTION = ("Multiplication on operands longer than any trained on: each text→text run with '*' scored "
                          "by latentworks arithmetic eval RUN --digits … on fresh seeded queries whose operands have "
                          "exactly that many digits (shaded: the lengths of its training operands, 0..99)")


def records_section(run_dirs: Iterable[str | Path], figure: str | Path, priors: Table | None = None, *,
                    mnist_addition: bool = True) -> Section | None:
    """The arithmetic section's records, as one section: the priors table (when given), MNIST-addition beside
    the published systems (``mnist_addition`` False: only when a run of ours is among ``run_dirs``), and the
    multiplication-length figure written to ``figure`` (when a run has such scores). None when it would be
    empty."""
    run_dirs = list(run_dirs)
    tables = [priors] if priors is not None else []
    if mnist_addition or mnist_addition_runs(run_dirs):
        tables.append(mnist_addition_table(run_dirs))
    drawn = multiplication_figure(run_dirs, figure)
    if not tables and drawn is None:
        return None
    text = ("<p>What each recipe is given and learns (a figure from a generic network and one from a network "
            "shaped like the algorithm are not like for like), MNIST-addition on its own protocol beside the "
            "published systems, and multiplication on longer operands than trained.</p>")
    return Section("Arithmetic: priors and records", text=text, tables=tables,
                   figures=[(drawn, MULTIPLICATION_CAPTION)] if drawn else [])


__all__ = ["MNIST_ADDITION_SOURCE", "MULTIPLICATION_CAPTION", "PUBLISHED_MNIST_ADDITION", "Published", "mean_std",
           "mnist_addition_runs", "mnist_addition_table", "multiplication_curves", "multiplication_figure",
           "priors_table", "records_section"]
