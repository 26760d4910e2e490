"""MNIST-addition end to end on the embedded sample: the protocol's examples go in, sums only, scored on its test."""

import json
import subprocess
import sys

import numpy as np
import pytest

from latentworks.config import ConfigError, validate
from latentworks.data.arithmetic import decode
from latentworks.data.mnist_addition import mnist_addition
from latentworks.errors import LatentworksError
from latentworks.pipelines.tasks import MNIST_ADDITION, task_for
from latentworks.pipelines.tasks.mnist_addition import plus_glyph, score_on_digits
from latentworks.recipes.arithmetic import recipe


def _cfg(digits: int, **changes):
    return recipe("mnist-addition", task="img2text", **{"data.number_length": digits, "data.data_dir": "embedded",
                                                         "train.seed": 3, **changes})


def test_the_task_sees_the_protocol_examples_and_their_sums_only():
    cfg = _cfg(2)
    assert task_for(cfg) is MNIST_ADDITION and task_for(recipe("glyph-answers", task="img2text")).name == "img2text"
    prepared = MNIST_ADDITION.prepare(cfg)
    assert (prepared.spec.query_len, prepared.spec.answer_len) == (5, 3)  # two 2-digit numbers and '+'; sums < 199
    train, test, _ = mnist_addition(2, seed=3, data_dir="embedded")
    images, y = MNIST_ADDITION.training_tensors(prepared, fresh=False, seed=3)
    assert images.shape == (1_000, 5, 28, 28) and len(prepared.test) == 250
    assert np.array_equal(images[:, :2].numpy(), train.images[:, :2])  # first number, then '+', then the second
    assert np.array_equal(images[:, 3:].numpy(), train.images[:, 2:])
    assert all(np.array_equal(images[k, 2].numpy(), plus_glyph()) for k in (0, 500, 999))
    assert [int(s) for s in decode(y.numpy(), prepared.spec)] == train.sums  # the labels: sums, nothing else
    test_in = MNIST_ADDITION.test_inputs(prepared, 3)
    assert np.array_equal(test_in[:, 3:].numpy(), test.images[:, 2:])
    assert [int(a) for a in prepared.test.answers] == test.sums


def test_a_tiny_run_prints_the_counts_and_scores_the_protocol_test_set(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "latentworks", "arithmetic", "mnist-addition", "--digits", "1",
                           "--data-dir", "embedded", "--steps", "12", "--glyph-features", "16", "--eval-subset", "40",
                           "--no-progress", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "2,000 training sums, 500 test sums" in proc.stdout
    assert "sum accuracy" in proc.stdout and "on n = 500 test sums" in proc.stdout
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    results = json.loads((out / "results.json").read_text())
    test = results["test"]
    assert test["n"] == 500 and test["sum_accuracy"] == test["exact_match"] == summary["test"]["sum_accuracy"]
    assert 0 <= test["sum_accuracy"] <= 1 and test["digits"] == 1
    assert results["train"]["queries"] == 2_000 and results["train"]["steps"] == 12 and results["seed"] == 0
    assert results["config"]["recipe"] == "mnist-addition" and results["config"]["data"]["number_length"] == 1
    assert results["config"]["supervision"] == "answers" and results["environment"]
    # Scored again from the saved weights: the same test sums give the same figure; a longer N widens the model.
    assert score_on_digits(out, 1, 0, "embedded")["sum_accuracy"] == test["sum_accuracy"]
    longer = score_on_digits(out, 2, 0, "embedded")
    assert longer["n"] == 250 and 0 <= longer["sum_accuracy"] <= 1


@pytest.mark.parametrize("argv, message", [
    (["--preset", "glyph-answers"], "--preset"),
    (["--train-fraction", "0.1"], "--train-fraction 0.1: does not apply"),
    (["--digits", "0"], "--digits"),
    (["--fresh-handwriting"], "contradicts the protocol"),
])
def test_contradictions_are_one_line(argv, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "latentworks", "arithmetic", "mnist-addition", "--data-dir",
                           "embedded", "--out", str(tmp_path / "r"), *argv], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_the_config_refuses_what_the_protocol_fixes():
    with pytest.raises((ConfigError, LatentworksError), match="only adds"):
        validate(_cfg(1, **{"data.ops": "+-"}))
    with pytest.raises((ConfigError, LatentworksError), match="does not apply"):
        validate(_cfg(1, **{"data.max_int": 9}))
