"""MNIST-addition on its own protocol (issue 27): N = 1, 2, 4, 15, 100 over several seeds, mean ± std of the sum
accuracy on each N's test set, as the papers report it, and the N = 4 models scored on the N = 15 and N = 100 test
sets (reading and adding longer numbers than trained).

    python benchmarks/mnist_addition.py --executor ray --workers 2              # 5 seeds × N = 1, 2, 4, 15, 100
    python benchmarks/mnist_addition.py --digits 1 --seeds 0 --set train.time_limit_s=900

Each (N, seed) is the ``mnist-addition`` recipe trained by the study executor (finished runs are reused), the same
run ``latentworks arithmetic mnist-addition --digits N --seed S`` makes; the summary goes to
``benchmarks/out/mnist_addition.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from latentworks.pipelines.tasks.mnist_addition import score_on_digits
from latentworks.recipes.arithmetic import recipe
from latentworks.runs import environment, write_json
from latentworks.studies.executor import EXECUTORS, job_for, make_executor

OUT = Path(__file__).parent / "out"
DIGITS = (1, 2, 4, 15, 100)
# Test sum accuracy of the published records (DeepProofLog, arXiv:2511.08581; shared/reference/anchors.md §9a).
RECORDS = {1: ("ABL", 0.980), 2: ("DeepStochLog", 0.964), 4: ("DPrL", 0.940), 15: ("DPrL", 0.808),
           100: ("DPrL", 0.378)}


def mean_std(values: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (ddof 1; 0 for one run) over seeds."""
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "runs": len(a)}


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def configs(digits: list[int], seeds: list[int], changes: dict[str, Any], data_dir: str | None) -> dict:
    """(N, seed) -> the run config, with ``changes`` (dotted keys) on top of the recipe."""
    base = {"train.progress": False, "train.device": "cpu", **({"data.data_dir": data_dir} if data_dir else {})}
    return {(n, s): recipe("mnist-addition", task="img2text",
                           **{**base, "data.number_length": n, "train.seed": s, **changes})
            for n in digits for s in seeds}


def summarise(results: dict[tuple[int, int], dict[str, Any]], transfer: dict[tuple[int, int], dict[str, Any]]
              ) -> dict[str, Any]:
    """Per N: each seed's sum accuracy and n, mean ± std; the transfer rows the same way."""
    table: dict[str, Any] = {}
    for n in sorted({n for n, _ in results}):
        runs = {s: r for (m, s), r in sorted(results.items()) if m == n}
        test = {s: r["test"] for s, r in runs.items()}
        table[str(n)] = {**mean_std([t["sum_accuracy"] for t in test.values()]),
                         "n": sorted({t["n"] for t in test.values()}),
                         "train_sums": sorted({r["train"]["queries"] for r in runs.values()}),
                         "by_seed": {str(s): t["sum_accuracy"] for s, t in test.items()},
                         "train_seconds": {str(s): r["train"]["seconds"] for s, r in runs.items()},
                         "record": dict(zip(("system", "sum_accuracy"), RECORDS[n])) if n in RECORDS else None}
    moved: dict[str, Any] = {}
    for (frm, to) in sorted({(f, t) for f, t, _ in transfer}):
        rows = {s: r for (f, t, s), r in sorted(transfer.items()) if (f, t) == (frm, to)}
        moved[f"{frm}->{to}"] = {**mean_std([r["sum_accuracy"] for r in rows.values()]),
                                 "n": sorted({r["n"] for r in rows.values()}),
                                 "by_seed": {str(s): r["sum_accuracy"] for s, r in rows.items()}}
    return {"by_digits": table, "transfer": moved}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--digits", nargs="+", type=int, default=list(DIGITS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--transfer-from", type=int, default=4, help="the N whose models are scored on longer N")
    ap.add_argument("--transfer-to", nargs="*", type=int, default=[15, 100])
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="recipe changes, e.g. train.steps=200 model.hidden=16 (JSON values)")
    ap.add_argument("--data-dir", default=None, help="MNIST folder ('embedded': the packaged sample)")
    ap.add_argument("--executor", choices=EXECUTORS, default="ray")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--runs", type=Path, default=OUT / "mnist_addition")
    ap.add_argument("--json", type=Path, default=OUT / "mnist_addition.json")
    args = ap.parse_args(argv)
    changes = dict((k, _value(v)) for k, v in (item.split("=", 1) for item in args.set))

    started = time.perf_counter()
    cfgs = configs(args.digits, args.seeds, changes, args.data_dir)
    folders = {key: args.runs / f"N{key[0]}-seed{key[1]}" for key in cfgs}
    jobs = [job_for(f"N={n} seed {s}", cfg, folders[(n, s)], threads=1) for (n, s), cfg in cfgs.items()]
    trained = make_executor(args.executor, args.workers).run(jobs, progress=True)
    results = {key: trained[str(folder)] for key, folder in folders.items()}
    transfer = {}
    if args.transfer_from in args.digits:
        for to in args.transfer_to:
            for s in args.seeds:
                transfer[(args.transfer_from, to, s)] = score_on_digits(folders[(args.transfer_from, s)], to, s,
                                                                        args.data_dir)
    summary = {"command": "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "environment": environment(),
               "protocol": "MNIST-addition (Manhaeve et al. 2018): 60,000 / 2N training sums, each image once, "
                           "labelled with the sum only; test sums built the same way from MNIST test",
               "recipe": "mnist-addition", "changes": changes, "seeds": args.seeds,
               "runs": {f"N{n}-seed{s}": str(f) for (n, s), f in folders.items()},
               **summarise(results, transfer), "wall_seconds": round(time.perf_counter() - started, 1)}
    write_json(args.json, summary)
    for n, row in summary["by_digits"].items():
        print(f"N = {n:>3}: sum accuracy {row['mean']:.2%} ± {row['std']:.2%} over {row['runs']} seeds "
              f"(n = {', '.join(map(str, row['n']))} test sums)")
    for key, row in summary["transfer"].items():
        print(f"N = {key}: sum accuracy {row['mean']:.2%} ± {row['std']:.2%} (n = {row['n']})")
    print(args.json)
    return summary


if __name__ == "__main__":
    main()
