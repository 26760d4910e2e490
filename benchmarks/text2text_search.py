"""The text→text recipe search and its ablation table, on the study machinery.

Each configuration is a text→text recipe with dotted overrides; every (configuration, train fraction, seed) is one
run config trained by the same pipeline as ``latentworks arithmetic train``, one job each, on the local executor
(one after another) or on Ray (``--executor ray --workers N`` or ``--address``). A run that already finished with
the same config is reused and an interrupted one continues from its checkpoint, so rerunning the command after a
stop only trains what is missing. The split is by query with the recipe's fixed split seed, so every
configuration at one fraction is scored on the same held-out queries; ``--seeds`` varies the training seed.

    python benchmarks/text2text_search.py --configs notebook attention --fracs 0.05 0.1 0.5 --seeds 0
    python benchmarks/text2text_search.py --configs attention attention-heads1 --executor ray --workers 2
    python benchmarks/text2text_search.py --list

Writes ``benchmarks/out/text2text_search/summary.json`` (one entry per configuration/fraction/seed), its ablation
table as Markdown (``ablation.md``) and an HTML page (``report.html``); the run folders sit beside them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from latentworks.recipes.arithmetic import RunConfig, recipe
from latentworks.report.html import Section, Table, write_report
from latentworks.report.run_section import compare_runs
from latentworks.runs import RunDir, environment, write_json
from latentworks.studies.executor import EXECUTORS, job_for, make_executor

OUT = Path(__file__).parent / "out" / "text2text_search"

# name -> (recipe, dotted overrides). The ablations each undo one ingredient of ``attention``.
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "notebook": ("course", {}),  # the labels keep the recipe names of the day they were measured
    "notebook_enc2": ("course", {"model.enc_layers": 2}),
    "notebook_gru": ("course", {"model.cell": "gru"}),
    "attention": ("attention", {}),
    "attention-values_encoder": ("attention", {"model.values": "encoder"}),  # attention reads encoder states
    "attention-heads1": ("attention", {"model.heads": 1}),
    "attention-bridge": ("attention", {"model.bridge": True}),  # decoder starts from the encoder summary
    "attention-reverse_output": ("attention", {"model.reverse_output": False}),
    "attention-weight_decay": ("attention", {"train.weight_decay": 0.01}),
    "attention-3k_steps": ("attention", {"train.steps": 3000}),
    "best": ("columns", {}),
}


def run_config(name: str, frac: float, seed: int, extra: dict[str, Any] | None = None) -> RunConfig:
    base, overrides = CONFIGS[name]
    return recipe(base, task="text2text", **{**overrides, "data.train_fraction": frac, "train.seed": seed,
                                             "train.progress": False, "train.device": "cpu", **(extra or {})})


def run_dir(out: Path, name: str, frac: float, seed: int, tag: str = "") -> Path:
    return out / "runs" / f"{name}{tag}-f{frac:g}-s{seed}"


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    test, train = results["test"], results["train"]
    return {"exact_match": test["exact_match"], "char_accuracy": test["char_accuracy"],
            "abs_error": test.get("abs_error"), "n_test": test["n"], "n_train": train.get("queries"),
            "steps": train["steps"], "train_seconds": train["seconds"], "params": train.get("parameters"),
            "error_histogram": test.get("error_histogram")}


def ablation_table(rows: list[dict[str, Any]], fracs: list[float]) -> tuple[list[str], list[list[Any]]]:
    """One row per configuration: exact match (per-char) at each fraction, mean over seeds, and its seeds."""
    columns = ["configuration", *[f"{f:.0%} for training" for f in fracs], "seeds", "parameters"]
    body = []
    for name in dict.fromkeys(r["config"] for r in rows):
        cells = []
        for f in fracs:
            got = [r for r in rows if r["config"] == name and r["frac"] == f]
            if not got:
                cells.append("—")
                continue
            em = sum(r["exact_match"] for r in got) / len(got)
            ch = sum(r["char_accuracy"] for r in got) / len(got)
            cells.append(f"{em:.2%} ({ch:.2%})")
        seeds = sorted({r["seed"] for r in rows if r["config"] == name})
        params = next(r["params"] for r in rows if r["config"] == name)
        body.append([name, *cells, ",".join(map(str, seeds)), f"{params:,}" if params else "—"])
    return columns, body


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=["notebook", "attention"])
    ap.add_argument("--fracs", nargs="+", type=float, default=[0.05, 0.1, 0.5])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--set", nargs="*", default=[], metavar="PATH=JSON",
                    help="extra dotted overrides for every run, e.g. train.steps=2000 model.heads=8")
    ap.add_argument("--tag", default="", help="suffix for the run folders and result keys (with --set)")
    ap.add_argument("--executor", choices=EXECUTORS, default="local")
    ap.add_argument("--workers", type=int, default=None, help="ray: runs at a time on a local cluster")
    ap.add_argument("--address", default=None, help="ray: join this running cluster instead")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for name, (base, overrides) in CONFIGS.items():
            print(f"{name:28s} recipe {base:10s} {json.dumps(overrides)}")
        return
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; see --list")
    extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}

    started = time.perf_counter()
    planned = [(name, frac, seed) for name in args.configs for frac in args.fracs for seed in args.seeds]
    jobs = [job_for(f"{name}{args.tag} {frac:g} s{seed}", run_config(name, frac, seed, extra),
                    run_dir(args.out, name, frac, seed, args.tag), threads=1) for name, frac, seed in planned]
    make_executor(args.executor, args.workers, args.address).run(jobs, progress=True)

    summary_path = args.out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {"runs": {}}
    rows = []
    for name, frac, seed in planned:
        folder = run_dir(args.out, name, frac, seed, args.tag)
        row = {"config": f"{name}{args.tag}", "frac": frac, "seed": seed, "run": str(folder),
               **summarise(RunDir(folder, create=False).read_results())}
        summary["runs"][f"{name}{args.tag}|{frac}|{seed}"] = row
        rows.append(row)
        print(f"{row['config']:32s} {frac:5g} seed {seed}: exact {row['exact_match']:.2%}  per-char "
              f"{row['char_accuracy']:.2%}  {row['train_seconds']:7.1f} s  {row['steps']} steps", flush=True)
    columns, body = ablation_table(rows, args.fracs)
    summary.update(command="python " + " ".join(shlex.quote(a) for a in sys.argv), executor=args.executor,
                   workers=args.workers, date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), environment=environment(),
                   wall_seconds=round(time.perf_counter() - started, 1))
    write_json(summary_path, summary)
    markdown = "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
                         + ["| " + " | ".join(map(str, r)) + " |" for r in body])
    (args.out / "ablation.md").write_text(markdown + "\n")
    print(markdown)
    sections = [Section("Ablation: held-out exact match (per-character accuracy), mean over seeds",
                        tables=[Table(columns, body, formats=["text"] * len(columns))])]
    for frac in args.fracs:
        same = [r["run"] for r in rows if r["frac"] == frac]
        comparison = compare_runs(same) if len(same) > 1 else None
        if comparison is not None:
            comparison.title = f"{frac:.0%} of queries for training: every run and the settings that differ"
            sections.append(comparison)
    write_report(sections, args.out / "report.html", title="text→text recipe search",
                 intro=f"<p>{len(rows)} runs, {summary['wall_seconds']} s in all on the {args.executor} executor."
                       "</p>")
    print(summary_path)


if __name__ == "__main__":
    main()
