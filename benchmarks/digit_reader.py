"""Benchmark: train the full MNIST digit reader once and record accuracy, wall time and the machine.

    python benchmarks/digit_reader.py [--epochs N] [--threads 2] [--out benchmarks/out]

Writes ``<out>/digit_reader.json`` and the trained model (run folder) to ``<out>/digit_reader/``.
The test split is used once, after training; nothing is tuned on it in this script.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from latentworks.pipelines.digit_reader import FULL_EPOCHS, train_digit_reader
from latentworks.runs import environment, write_json


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=FULL_EPOCHS)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    load_before = _load()
    started = time.perf_counter()
    metrics = train_digit_reader(
        out / "digit_reader", data_dir=args.data_dir, epochs=args.epochs, seed=args.seed, progress=False
    )
    wall = time.perf_counter() - started
    report = {
        "benchmark": "digit_reader",
        "test_accuracy": metrics["test_accuracy"],
        "test_errors": metrics["test_errors"],
        "n_test": metrics["n_test"],
        "n_train": metrics["n_train"],
        "epochs": metrics["epochs"],
        "train_seconds": round(metrics["train_seconds"], 1),
        "wall_seconds": round(wall, 1),
        "data_source": metrics["data_source"],
        "seed": args.seed,
        "machine": {
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_before": load_before,
            "load_average_after": _load(),
            "note": "shared machine: other jobs ran at the same time, so wall time is an upper bound",
        },
        "environment": environment(),
        "model_dir": str(out / "digit_reader"),
    }
    write_json(out / "digit_reader.json", report)
    print(f"digit reader: test accuracy {metrics['test_accuracy']:.4%} ({metrics['test_errors']} errors / "
          f"{metrics['n_test']}), {metrics['train_seconds']:.0f} s training, {wall:.0f} s wall")


if __name__ == "__main__":
    main()
