"""Length generalisation: text→text models trained on operands 0..99 at a 10 % split, scored on fresh queries
whose operands have exactly N digits (``latentworks arithmetic eval``), for N from 1 to 100.

    python benchmarks/length_generalisation.py           # columns, columns-long, attention, course; seed 0
    python benchmarks/length_generalisation.py --recipes columns columns-long --seeds 0 1 2 --executor ray --workers 2

Each (recipe, seed) is one run config trained by the study executor (finished runs are reused); the scoring
writes ``benchmarks/out/length_generalisation/summary.json`` and the figure ``exact_match_vs_length.png``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from latentworks.pipelines.length import evaluate_length, length_figure
from latentworks.recipes.arithmetic import recipe
from latentworks.runs import environment, write_json
from latentworks.studies.executor import EXECUTORS, job_for, make_executor

OUT = Path(__file__).parent / "out" / "length_generalisation"
LENGTHS = (1, 2, 3, 4, 5, 6, 8, 10, 20, 50, 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="+", default=["columns", "columns-long", "attention", "course"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--digits", nargs="+", type=int, default=list(LENGTHS))
    ap.add_argument("--n", type=int, default=10_000, help="fresh queries per length")
    ap.add_argument("--executor", choices=EXECUTORS, default="local")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    started = time.perf_counter()
    runs = {(name, seed): args.out / "runs" / f"{name}-f{args.fraction:g}-s{seed}"
            for name in args.recipes for seed in args.seeds}
    jobs = [job_for(f"{name} seed {seed}", recipe(name, task="text2text", **{
        "data.train_fraction": args.fraction, "train.seed": seed, "train.progress": False, "train.device": "cpu"}),
        folder, threads=1) for (name, seed), folder in runs.items()]
    trained = make_executor(args.executor, args.workers).run(jobs, progress=True)
    summary = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "environment": environment(), "n": args.n,
               "fraction": args.fraction, "runs": {}}
    curves: dict[str, dict[int, dict[str, float]]] = {}
    for (name, seed), folder in runs.items():
        held_out = trained[str(folder)]["test"]
        rows = {}
        for digits in args.digits:
            r = evaluate_length(folder, digits, n=args.n, seed=0)
            rows[digits] = {k: r[k] for k in ("n", "exact_match", "char_accuracy", "exact_match_by_op")}
            by_op = "  ".join(f"{op} {v:.2%}" for op, v in r["exact_match_by_op"].items())
            print(f"{name:10s} seed {seed}  {digits:4d} digits: exact {r['exact_match']:7.2%}  ({by_op})", flush=True)
        summary["runs"][f"{name}|{seed}"] = {"run": str(folder), "held_out_exact_match": held_out["exact_match"],
                                            "by_digits": rows}
        curves[f"{name} (seed {seed})"] = {d: row["exact_match_by_op"] for d, row in rows.items()}
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out / "summary.json", summary)
    print(length_figure(curves, args.out / "exact_match_vs_length.png",
                        title=f"trained on 0..99 ± 0..99 at a {args.fraction:.0%} split"))


if __name__ == "__main__":
    main()
