"""Length generalisation: fresh N-digit queries, and a model trained on two-digit operands scored on them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import latentworks as lw
from latentworks.data.arithmetic import evaluate
from latentworks.errors import LatentworksError
from latentworks.pipelines.length import evaluate_length, length_queries


@pytest.mark.parametrize("digits", [1, 2, 3, 12, 100])
def test_queries_have_exactly_n_digits_are_distinct_and_seeded(digits):
    queries = length_queries(digits, 300, "+-", seed=5)
    assert len(queries) == len(set(queries)) == (200 if digits == 1 else 300)
    assert all(len(str(i)) == digits and len(str(j)) == digits and op in "+-" for i, op, j in queries)
    assert queries == length_queries(digits, 300, "+-", seed=5)
    if digits > 1:  # one digit: all 200 queries, whatever the seed
        assert queries != length_queries(digits, 300, "+-", seed=6)


def test_excluded_queries_are_never_drawn():
    every = length_queries(2, 10_000, "+", seed=0)  # the whole two-digit space: 90 × 90
    assert len(every) == 8100
    kept = length_queries(2, 10_000, "+", seed=0, exclude=set(every[:8000]))
    assert sorted(kept) == sorted(every[8000:])


@pytest.fixture(scope="module")
def two_digit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("length") / "t2t"
    cfg = lw.recipe("arithmetic", "columns", task="text2text", **{"train.epochs": 2, "model.hidden": 32,
                                                               "train.progress": False})
    lw.train(cfg, out)
    return out


def test_a_two_digit_model_is_scored_on_fresh_longer_queries(two_digit_run):
    result = evaluate_length(two_digit_run, 6, n=150, seed=1)
    assert result["n"] == 150 and 0 <= result["exact_match"] <= 1 and set(result["exact_match_by_op"]) == {"+", "-"}
    assert sum(result["n_by_op"].values()) == 150 and all(k > 0 for k in result["n_by_op"].values())
    saved = json.loads(Path(result["file"]).read_text())
    assert len(saved["queries"]) == 150 and saved["predicted"] and saved["digits"] == 6
    for query, answer in zip(saved["queries"], saved["expected"]):
        op = "+" if "+" in query else "-"
        i, j = query.split(op)
        assert len(i) == len(j) == 6 and int(answer) == evaluate(int(i), op, int(j))

    again = evaluate_length(two_digit_run, 6, n=150, seed=1, write=False)
    assert again["exact_match"] == result["exact_match"]


def test_two_digit_queries_leave_out_the_training_queries(two_digit_run):
    from latentworks.data.arithmetic import ArithmeticSpec
    from latentworks.pipelines.length import _training_queries

    result = evaluate_length(two_digit_run, 2, n=100_000)
    trained = _training_queries(two_digit_run, ArithmeticSpec())
    two_digit_trained = {(i, op, j) for i, op, j in trained if i >= 10 and j >= 10}
    written = json.loads(Path(result["file"]).read_text())["queries"]
    scored = {(int(q.split(op)[0]), op, int(q.split(op)[1])) for q in written for op in "+-" if op in q}
    assert result["excluded_training_queries"] == len(trained) == 10_000  # the recipe's 50 % split
    assert not scored & trained and len(scored) == result["n"] == 90 * 90 * 2 - len(two_digit_trained)
    with pytest.raises(LatentworksError, match="trained on"):
        evaluate_length(two_digit_run, 3, ops="*")


def test_the_command_writes_the_figure(two_digit_run, tmp_path):
    figure = tmp_path / "length.png"
    proc = subprocess.run([sys.executable, "-m", "latentworks", "arithmetic", "eval", str(two_digit_run),
                           "--digits", "3", "5", "--n", "50", "-o", str(figure)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "5 digits: exact match" in proc.stdout and figure.stat().st_size > 0
