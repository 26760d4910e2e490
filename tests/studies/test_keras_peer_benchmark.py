"""benchmarks/keras_peer.py without TensorFlow: the one-line install hint (exit 2), and the pairing of its runs
(the real runs are a measurement, BENCHMARKS.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "keras_peer.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("keras_peer_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_tensorflow_it_says_how_to_install_and_exits_2(monkeypatch, capsys):
    bench = _benchmark()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    monkeypatch.setattr(sys, "argv", ["keras_peer.py", "--pairs", "1"])
    with pytest.raises(SystemExit) as stop:
        bench.main()
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pip install -e ".[keras-peer]"' in err


def test_runs_are_paired_in_order_and_the_speedup_is_theirs_over_ours():
    bench = _benchmark()

    def run(side, seconds, fit=None, wall=10.0):
        return {"side": side, "train_seconds": seconds, "fit_seconds": fit or seconds, "process_seconds": wall,
                "process_cpu_seconds": wall * (2 if side == "keras" else 1), "examples_per_sec": 40000 / seconds,
                "exact_match": 0.07, "char_accuracy": 0.6}

    runs = [run("ours", 10.0, 12.0), run("keras", 40.0, wall=20.0), run("ours", 20.0, 25.0), run("keras", 30.0)]
    out = bench._summary(runs)
    assert out["speedup_per_pair"] == [4.0, 1.5]  # each Keras run over the ours that ran just before it
    assert out["speedup_median"] == 2.75
    assert out["speedup_with_our_curves_per_pair"] == [round(40 / 12, 2), 1.2]
    assert out["process_speedup_per_pair"] == [2.0, 1.0]
    assert out["process_cpu_ratio_per_pair"] == [4.0, 2.0]
    assert out["ours"]["train_seconds"] == [10.0, 20.0] and out["keras"]["train_seconds"] == [40.0, 30.0]


def test_both_sides_score_the_same_held_out_queries():
    spec, train, test = _benchmark()._split(0.1)
    assert (len(train), len(test)) == (2000, 18000) and spec.vocab_size == 13
    assert not set(train.queries) & set(test.queries)
