"""``latentworks report RUN_DIR... -o report.html`` and ``latentworks run`` (the study → one HTML report)."""

from __future__ import annotations

import json


def add_parsers(sub) -> None:
    from latentworks.cli.common import add_common

    r = sub.add_parser("report", help="one self-contained HTML page from run folders")
    r.add_argument("run_dirs", nargs="+")
    r.add_argument("-o", "--output", default="report.html")
    r.add_argument("--title", default="latentworks report")
    r.set_defaults(handler=_report)

    s = sub.add_parser("run", help="the main job: run the study and write DIR/report.html + DIR/results.json")
    s.add_argument("--profile", default="quick", choices=["test", "quick", "full"],
                   help="quick: ≤ 10 min on 2 CPU cores on the embedded data; full: the real datasets")
    s.add_argument("--out", default="runs/study")
    s.add_argument("--only", help="comma-separated study names to run (default: all)")
    s.add_argument("--resume", action="store_true",
                   help="continue a stopped study in --out: finished runs with the same settings are reused, "
                        "interrupted ones continue from their last checkpoint")
    add_common(s)
    s.set_defaults(handler=_run)


def _report(args) -> int:
    from latentworks.report.html import section_from_run, write_report

    path = write_report([section_from_run(d) for d in args.run_dirs], args.output, title=args.title)
    print(path)
    return 0


def _run(args) -> int:
    from latentworks.studies.registry import run_study

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    summary = run_study(args.profile, args.out, only=only, data_dir=args.data_dir, seed=args.seed,
                        progress=args.progress, device=args.device, resume=args.resume)
    print(json.dumps({"report": f"{args.out}/report.html", "seconds": summary["seconds"]}))
    return 0
