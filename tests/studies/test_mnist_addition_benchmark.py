"""benchmarks/mnist_addition.py's logic on a tiny setting (the real runs are the lead's measurement): the runs
per (N, seed), mean ± std over seeds, the transfer rows, the JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "mnist_addition.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("mnist_addition_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mean_and_std_over_seeds_and_the_transfer_rows():
    bench = _benchmark()
    results = {(n, s): {"test": {"sum_accuracy": acc, "n": 5000 // n}, "train": {"queries": 30000 // n,
                                                                                 "seconds": 1.0}}
               for (n, s), acc in {(1, 0): 0.9, (1, 1): 0.8, (1, 2): 0.7, (4, 0): 0.5, (4, 1): 0.6}.items()}
    transfer = {(4, 15, 0): {"sum_accuracy": 0.1, "n": 333}, (4, 15, 1): {"sum_accuracy": 0.3, "n": 333}}
    out = bench.summarise(results, transfer)
    one = out["by_digits"]["1"]
    assert one["mean"] == pytest.approx(0.8) and one["std"] == pytest.approx(np.std([0.9, 0.8, 0.7], ddof=1))
    assert one["runs"] == 3 and one["n"] == [5000] and one["train_sums"] == [30000]
    assert one["record"] == {"system": "ABL", "sum_accuracy": 0.98}
    assert out["by_digits"]["4"]["by_seed"] == {"0": 0.5, "1": 0.6}
    assert out["transfer"]["4->15"]["mean"] == pytest.approx(0.2) and out["transfer"]["4->15"]["n"] == [333]
    assert bench.mean_std([0.5])["std"] == 0.0


def test_a_tiny_benchmark_trains_each_n_and_seed_and_scores_the_transfer(tmp_path):
    bench = _benchmark()
    summary = bench.main(["--digits", "1", "2", "--seeds", "0", "1", "--transfer-from", "1", "--transfer-to", "2",
                          "--data-dir", "embedded", "--executor", "local", "--workers", "1", "--set", "train.steps=3",
                          "model.glyph_features=16", "eval.eval_subset=8", "train.batch_size=8",
                          "--runs", str(tmp_path / "runs"), "--json", str(tmp_path / "m.json")])
    assert json.loads((tmp_path / "m.json").read_text()) == summary
    assert summary["changes"]["train.steps"] == 3 and summary["seeds"] == [0, 1]
    for n, sums, tests in ((1, 2000, 500), (2, 1000, 250)):
        row = summary["by_digits"][str(n)]
        assert row["runs"] == 2 and row["train_sums"] == [sums] and row["n"] == [tests]
        assert row["mean"] == pytest.approx(np.mean(list(row["by_seed"].values())))
        for s in (0, 1):
            results = json.loads((tmp_path / "runs" / f"N{n}-seed{s}" / "results.json").read_text())
            assert results["test"]["sum_accuracy"] == row["by_seed"][str(s)] and results["seed"] == s
    moved = summary["transfer"]["1->2"]
    assert moved["runs"] == 2 and moved["n"] == [250] and 0 <= moved["mean"] <= 1
