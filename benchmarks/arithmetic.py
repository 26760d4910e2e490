"""Arithmetic targets: exact match on held-out queries (MNIST test-split handwriting for images).

    python benchmarks/arithmetic.py --runs t2t-best-0.1 t2t-notebook-0.1 ...   # or --all
    python benchmarks/arithmetic.py --list

Each run trains through the public pipeline (the same code as `latentworks arithmetic train`) into
benchmarks/out/arithmetic/<name>/ and appends its figures to benchmarks/out/arithmetic.json. The run names keep
the recipe names of the day they were first measured (BENCHMARKS.md cites them): t2t-best-* trains ``columns``
(``columns-multiply`` on '*'), *-notebook-* ``course``, i2t-best-* ``glyph-columns``, i2t-answers-* ``glyph-answers``,
t2i-best-* ``pen``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from latentworks.pipelines.arithmetic import train
from latentworks.recipes.arithmetic import recipe

RUNS = {
    "t2t-best-0.05": dict(task="text2text", preset="columns", train_fraction=0.05),
    "t2t-best-0.05-seed1": dict(task="text2text", preset="columns", train_fraction=0.05, seed=1),
    "t2t-best-0.05-seed2": dict(task="text2text", preset="columns", train_fraction=0.05, seed=2),
    "t2t-best-0.1": dict(task="text2text", preset="columns", train_fraction=0.1),
    "t2t-best-0.1-seed1": dict(task="text2text", preset="columns", train_fraction=0.1, seed=1),
    "t2t-best-0.5": dict(task="text2text", preset="columns", train_fraction=0.5),
    "t2t-attention-0.05": dict(task="text2text", preset="attention", train_fraction=0.05),
    "t2t-attention-0.1": dict(task="text2text", preset="attention", train_fraction=0.1),
    "t2t-attention-0.5": dict(task="text2text", preset="attention", train_fraction=0.5),
    "t2t-notebook-0.1": dict(task="text2text", preset="course", train_fraction=0.1),
    "t2t-notebook-0.25": dict(task="text2text", preset="course", train_fraction=0.25),
    "t2t-notebook-0.5": dict(task="text2text", preset="course", train_fraction=0.5),
    **{f"t2t-notebook-{f}-seed{s}": dict(task="text2text", preset="course", train_fraction=f, seed=s)
       for f in (0.1, 0.5) for s in (1, 2)},
    # Multiplication: the ``columns-multiply`` recipe (what ``best`` stood for on ops with '*').
    **{f"t2t-best-{tag}-{f}-seed{s}": dict(task="text2text", preset="columns-multiply", ops=ops, train_fraction=f,
                                           seed=s)
       for tag, ops in (("mul", "*"), ("addsubmul", "+-*")) for f in (0.1, 0.5) for s in (0, 1, 2)},
    # Answers only, the recipe as it is now (weight decay 0.1); the i2t-answers-0.5-seed* folders are the
    # stop-19 runs at weight decay 1.0 (BENCHMARKS.md), trained by this table before the recipe changed.
    **{f"i2t-answers-wd0.1-0.5-seed{s}": dict(task="img2text", preset="glyph-answers", supervision="answers",
                                              train_fraction=0.5, seed=s) for s in (0, 1, 2)},
    "i2t-best-0.5": dict(task="img2text", preset="glyph-columns", train_fraction=0.5),
    "i2t-notebook-0.5": dict(task="img2text", preset="course", train_fraction=0.5),
    "t2i-best-0.5": dict(task="text2img", preset="pen", train_fraction=0.5),
    "t2i-notebook-0.5": dict(task="text2img", preset="course", train_fraction=0.5),
}
OUT = Path(__file__).parent / "out"


def run_config(kw: dict, data_dir: str | None):
    """The run's recipe with the table's settings as dotted overrides. ``epochs`` replaces the recipe's length,
    also where the recipe counts optimizer steps (``attention``), as the old per-preset epochs did."""
    changes = {"data.train_fraction": kw["train_fraction"], "data.data_dir": data_dir, "train.progress": False}
    if "seed" in kw:
        changes["train.seed"] = kw["seed"]
    if "ops" in kw:
        changes["data.ops"] = kw["ops"]
    if "supervision" in kw:
        changes["supervision"] = kw["supervision"]
    if "epochs" in kw:
        changes.update({"train.epochs": kw["epochs"], "train.steps": None})
    return recipe(kw["preset"], task=kw["task"], **changes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", nargs="*", default=[])
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: the look-up order)")
    parser.add_argument("--epochs", type=int, help="override every preset's epochs")
    args = parser.parse_args()
    if args.list:
        print("\n".join(RUNS))
        return
    names = list(RUNS) if args.all else args.runs
    results_path = OUT / "arithmetic.json"
    table = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in names:
        kw = dict(RUNS[name])
        if args.epochs:
            kw["epochs"] = args.epochs
        load = os.getloadavg()
        started = time.perf_counter()
        # Every run retrains: a run already in its folder is moved aside (<name>.old-N).
        res = train(run_config(kw, args.data_dir), OUT / "arithmetic" / name, overwrite=True)
        wall = time.perf_counter() - started
        test = {k: v for k, v in res["test"].items() if not isinstance(v, dict)}
        table[name] = {
            "config": kw, "test": test, "glyph_reading": res["test"].get("glyph_reading"),
            "error_histogram": res["test"].get("error_histogram"), "train": res["train"],
            "wall_seconds": round(wall, 1),
            "mnist": res["data"]["mnist"], "load_average_before": [round(v, 2) for v in load],
            "load_average_after": [round(v, 2) for v in os.getloadavg()], "machine": platform.processor()
            or platform.machine(), "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "torch": res["environment"]["torch"],
        }
        # Re-read first: several benchmark processes may run side by side and each adds its own rows.
        table = {**(json.loads(results_path.read_text()) if results_path.exists() else {}), name: table[name]}
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(table, indent=1) + "\n")
        print(name, json.dumps(test), f"{wall:.0f}s", flush=True)


if __name__ == "__main__":
    main()
