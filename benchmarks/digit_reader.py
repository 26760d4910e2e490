"""Benchmark: train the full MNIST digit reader once and record accuracy, wall time and the machine.

    python benchmarks/digit_reader.py [--epochs N] [--threads 2] [--out benchmarks/out]
    python benchmarks/digit_reader.py --rescore     # re-measure the saved model, keep the training record

Writes ``<out>/digit_reader.json`` and the trained model (run folder) to ``<out>/digit_reader/``.
The test split is used once, after training; nothing is tuned on it in this script.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from latentworks.data.mnist import load_mnist
from latentworks.models.io import load_model
from latentworks.pipelines.digit_reader import accuracy, average_digit_accuracy, train_digit_reader
from latentworks.recipes.digit_reader import recipe
from latentworks.runs import cpu_model as _cpu_model  # noqa: E402
from latentworks.runs import environment, read_json, write_json
from latentworks.runs import load_average as _load


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=recipe("default").train.epochs)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    parser.add_argument("--rescore", action="store_true", help="only re-measure the saved model")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.rescore:
        rescore(out, args.data_dir)
        return
    load_before = _load()
    started = time.perf_counter()
    cfg = recipe("default", **{"data.data_dir": args.data_dir, "train.epochs": args.epochs, "train.seed": args.seed,
                               "train.progress": False})
    metrics = train_digit_reader(cfg, out / "digit_reader")
    wall = time.perf_counter() - started
    report = {
        "benchmark": "digit_reader",
        "test_accuracy": metrics["test_accuracy"],
        "test_errors": metrics["test_errors"],
        "average_digit_accuracy": metrics["average_digit_accuracy"],
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


def rescore(out: Path, data_dir: str | None) -> None:
    """Re-measure ``<out>/digit_reader`` on the test split and update the scores in ``digit_reader.json``."""
    import latentworks.models.digit_reader  # noqa: F401  (registers the model kind)

    model = load_model(out / "digit_reader", expect="digit_reader")
    test = load_mnist("mnist", data_dir=data_dir).test
    images, labels = torch.from_numpy(test.images.copy()), torch.from_numpy(test.labels.copy())
    report = read_json(out / "digit_reader.json")
    acc = accuracy(model, images, labels)
    report.update(test_accuracy=acc, test_errors=round((1 - acc) * len(labels)),
                  average_digit_accuracy=average_digit_accuracy(model, images, labels),
                  rescored_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    write_json(out / "digit_reader.json", report)
    print(f"digit reader (rescored): test accuracy {acc:.4%}, "
          f"average-digit accuracy {report['average_digit_accuracy']:.2%}")


if __name__ == "__main__":
    main()
