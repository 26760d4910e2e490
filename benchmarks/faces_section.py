"""Benchmark: the full profile's CelebA section on its own (the rest of the full profile takes hours on a CPU).

    python benchmarks/faces_section.py [--data-dir /work/shared/data] [--out benchmarks/out/faces_section]

Runs ``faces_part`` of ``latentworks.studies.generative_sections`` exactly as ``latentworks run --profile full`` does:
the face recipes (VAE and DCGAN at 64×64 RGB on the CelebA folder, 10 % held out), each model's numbered 8×8
sample grid, an interpolation and the luminance arithmetic. Writes the section as ``<out>/report.html`` (the
same HTML the full report embeds) and ``<out>/faces_section.json`` (metrics, wall time, machine, command).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import torch

from latentworks.recipes.generative import RECIPES, recipe_kinds
from latentworks.report.html import write_report
from latentworks.runs import cpu_model, environment, load_average, write_json
from latentworks.studies.catalogue import StudyContext
from latentworks.studies.generative import _clean
from latentworks.studies.generative_sections import faces_part


class RetrainContext(StudyContext):
    """The study's context, except that every run retrains: a run already in its folder is moved aside."""

    def train(self, train_fn, config, run_dir):
        return train_fn(config, run_dir, overwrite=True)


def main() -> None:
    root = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="/work/shared/data", help="a folder holding faces/celebA")
    parser.add_argument("--out", default=str(root / "out" / "faces_section"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = RetrainContext(profile="full", out=out, data_dir=args.data_dir, seed=args.seed, progress=False,
                         device=args.device)
    load_before = load_average()
    started = time.perf_counter()
    section, metrics = faces_part(ctx, out / "faces")
    wall = time.perf_counter() - started
    report = write_report([section], out / "report.html", title="latentworks: the full profile's CelebA section")
    write_json(out / "faces_section.json", {
        "benchmark": "faces_section",
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "recipes": {kind: RECIPES["faces"][kind] for kind in recipe_kinds("faces")},  # dotted overrides of the defaults
        "metrics": _clean(metrics),
        "wall_seconds": round(wall, 1),
        "machine": {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": args.threads,
                    "load_average_before": load_before, "load_average_after": load_average()},
        "environment": environment(),
        "report": str(report),
    })
    print(out / "faces_section.json")


if __name__ == "__main__":
    main()
