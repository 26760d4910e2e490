"""Benchmark: how fast a train command answers ``--help`` and a mistyped flag (target: <= 1 s, torch not loaded).

    python benchmarks/cli_help.py [--runs 5] [--out benchmarks/out]

Each command is run as a fresh ``python -m latentworks`` process, as a user runs it, ``--runs`` times; reported:
the median and the slowest wall seconds, and whether torch was imported (``-X importtime`` lists it). Beside them,
``python -c pass`` and ``python -c "import torch"`` on the same machine, so a busy machine reads as such.
Writes ``<out>/cli_help.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "arithmetic train --help": ["arithmetic", "train", "--help"],
    "gen train --help": ["gen", "train", "--help"],
    "charrnn train --help": ["charrnn", "train", "--help"],
    "arithmetic train --epoch 3 (typo)": ["arithmetic", "train", "--epoch", "3"],
}


def timed(argv: list[str], runs: int) -> dict[str, object]:
    seconds, torch_loaded = [], False
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "100"})
        seconds.append(time.perf_counter() - t0)
        torch_loaded |= any(line.rstrip().endswith("| torch") for line in done.stderr.splitlines())
    return {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
            "runs_s": [round(s, 3) for s in seconds], "torch_imported": torch_loaded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default="benchmarks/out")
    args = ap.parse_args()
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2)},
        "baseline": {"python -c pass": timed(["-c", "pass"], args.runs),
                     "python -c 'import torch'": timed(["-c", "import torch"], args.runs)},
        "commands": {name: timed(["-m", "latentworks", *argv], args.runs) for name, argv in COMMANDS.items()},
        "target_s": 1.0,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cli_help.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, r in {**result["baseline"], **result["commands"]}.items():
        print(f"{name:<40} median {r['median_s']:.2f} s, max {r['max_s']:.2f} s, torch imported: "
              f"{r['torch_imported']}")
    print(f"wrote {out / 'cli_help.json'}")


if __name__ == "__main__":
    main()
