"""How long a finished study would take on more workers, from its own measured per-run training times.

    python benchmarks/study_estimate.py runs/full --workers 1 2 8 32

Every run folder under the study gives its training seconds (all sessions of the run); the runs are independent,
so on W workers with a core each the training part takes the longest-first (LPT) schedule of those times, and the
study's assembly (scoring and drawing, measured once in its results.json) follows it on one process. What the
training seconds leave out (data loading, each run's scoring and figures) is taken from the study itself: its
measured wall time over its own estimate scales every estimate. The estimate assumes each worker runs as fast as
the measured runs did (one torch thread each, as on the 2-core box); it cannot go below the longest single run.
Writes ``benchmarks/out/study_estimate_<name>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentworks.studies.executor import estimate

OUT = Path(__file__).parent / "out"


def run_seconds(study: Path) -> dict[str, float]:
    seconds = {}
    for path in sorted(study.rglob("results.json")):
        if path.parent == study or ".old-" in str(path):
            continue
        results = json.loads(path.read_text())
        train = results.get("train") if isinstance(results.get("train"), dict) else {}
        value = train.get("seconds", results.get("train_seconds"))
        if value is not None:
            seconds[str(path.parent.relative_to(study))] = float(value)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path)
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2, 8, 32])
    ap.add_argument("--paused", type=float, default=0.0, help="seconds the measured study was stopped (SIGSTOP), "
                                                              "taken off its measured wall time")
    ap.add_argument("--wall", type=float, default=None,
                    help="the study's wall seconds when it ran as several invocations (--resume), their sum; "
                         "default: the last invocation's, from its results.json")
    args = ap.parse_args()
    summary = json.loads((args.study / "results.json").read_text())
    assembly = sum(s.get("seconds", 0) for s in summary.get("studies", {}).values())
    seconds = run_seconds(args.study)
    if not seconds:
        raise SystemExit(f"{args.study} holds no finished run folder")
    longest = max(seconds.items(), key=lambda kv: kv[1])
    measured = args.wall if args.wall is not None else summary.get("seconds")
    measured_workers = summary.get("workers") or 1  # a Ray cluster without --workers is counted as one
    # What the training seconds leave out (loading data, scoring and drawing each run, starting workers), as the
    # measured study's wall time over its own estimate: it scales every estimate.
    factor = (measured - args.paused) / (estimate(seconds, measured_workers) + assembly) if measured else 1.0
    out = {"study": str(args.study), "profile": summary.get("profile"), "runs": len(seconds),
           "train_seconds_total": round(sum(seconds.values()), 1), "longest_run": {longest[0]: longest[1]},
           "assembly_seconds": assembly, "measured_wall_seconds": measured, "paused_seconds": args.paused,
           "measured_with": {"executor": summary.get("executor"), "workers": measured_workers},
           "overhead_factor": round(factor, 3),
           "estimated_wall_seconds": {w: round(factor * (estimate(seconds, w) + assembly), 1) for w in args.workers},
           "per_run_seconds": seconds}
    for w, s in out["estimated_wall_seconds"].items():
        print(f"{w:3d} workers: {s / 3600:6.2f} h  ({s:,.0f} s)")
    print(f"{len(seconds)} runs, {out['train_seconds_total'] / 3600:.2f} h of training in all; longest run "
          f"{longest[0]} {longest[1] / 3600:.2f} h; assembly {assembly:,.0f} s")
    path = OUT / f"study_estimate_{args.study.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(path)


if __name__ == "__main__":
    main()
