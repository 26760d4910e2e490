"""The multiplication length harness: fresh seeded products at equal and unequal lengths, and the held-out score
on the queries whose mirror (b×a) was not trained either."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import latentworks as lw
from latentworks.data.arithmetic import ArithmeticSpec, encode, enumerate_queries, format_query
from latentworks.data.arithmetic_dataset import split_queries
from latentworks.errors import LatentworksError
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import predict_strings
from latentworks.pipelines.length import (
    evaluate_length,
    held_out_mirror_free,
    length_queries,
    parse_lengths,
)


@pytest.mark.parametrize("a, b", [(3, 2), (2, 3), (1, 4), (10, 6), (100, 1)])
def test_unequal_queries_have_those_lengths_are_distinct_and_seeded(a, b):
    queries = length_queries(a, 300, "*", seed=5, other=b)
    assert len(queries) == len(set(queries)) == 300
    assert all(len(str(i)) == a and len(str(j)) == b and op == "*" for i, op, j in queries)
    assert queries == length_queries(a, 300, "*", seed=5, other=b)
    assert queries != length_queries(a, 300, "*", seed=6, other=b)
    assert set(queries) != set(length_queries(b, 300, "*", seed=5, other=a))


def test_equal_lengths_draw_as_before():
    assert length_queries(4, 50, "+-", seed=2, other=4) == length_queries(4, 50, "+-", seed=2)


def test_unequal_small_space_leaves_out_the_excluded():
    every = length_queries(2, 10_000, "*", seed=0, other=1)
    assert len(every) == 90 * 10
    kept = length_queries(2, 10_000, "*", seed=0, other=1, exclude=set(every[:100]))
    assert sorted(kept) == sorted(every[100:])


@pytest.mark.parametrize("token, lengths", [("3", (3, 3)), ("3x2", (3, 2)), ("10×4", (10, 4)), (7, (7, 7))])
def test_parse_lengths(token, lengths):
    assert parse_lengths(token) == lengths


@pytest.mark.parametrize("token", ["3x", "x2", "3x2x1", "0", "1001", "abc", "-3"])
def test_bad_lengths_are_one_line(token):
    with pytest.raises(LatentworksError, match="--digits"):
        parse_lengths(token)


@pytest.fixture(scope="module")
def times_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("times") / "t2t"
    cfg = lw.recipe("arithmetic", "columns-multiply", task="text2text", **{
        "data.ops": "+*", "data.max_int": 9, "train.steps": 30, "model.hidden": 16, "train.progress": False})
    lw.train(cfg, out)
    return out


def test_products_are_fresh_and_correct(times_run):
    for a, b in ((3, 3), (4, 2)):
        r = evaluate_length(times_run, a, n=60, ops="*", seed=1, other=b)
        saved = json.loads(Path(r["file"]).read_text())
        assert r["n"] == 60 and set(r["exact_match_by_op"]) == {"*"} and 0 <= r["exact_match"] <= 1
        assert Path(r["file"]).name == f"digits-{a if a == b else f'{a}x{b}'}-times-seed1.json"
        for query, answer in zip(saved["queries"], saved["expected"]):
            i, j = query.split("*")
            assert (len(i), len(j)) == (a, b) and int(answer) == int(i) * int(j)
        assert ("other_digits" in saved) == (a != b)


def test_mirror_free_held_out_subset(times_run):
    spec = ArithmeticSpec(max_int=9, ops="+*")
    every = enumerate_queries(spec)
    train_idx, _ = split_queries(len(every), 0.5, 0)  # the recipe's split
    trained = {every[k] for k in train_idx}
    want = [q for q in every if q[1] == "*" and q not in trained and (q[2], "*", q[0]) not in trained]
    r = held_out_mirror_free(times_run, "*")
    assert r["n"] == len(want) == r["n_by_op"]["*"] and 0 < r["n"] < r["held_out"]
    assert r["held_out"] == sum(1 for q in every if q[1] == "*" and q not in trained)
    model = load_model(times_run)
    texts = [format_query(i, op, j, spec) for i, op, j in want]
    got = [p.strip() for p in predict_strings(model, torch.from_numpy(encode(texts, spec)), spec)]
    assert r["exact_match"] == pytest.approx(float(np.mean([g == str(i * j) for g, (i, _, j) in zip(got, want)])))
    both = held_out_mirror_free(times_run)  # the run's commutative ops: + and *
    assert set(both["exact_match_by_op"]) == {"+", "*"} and both["n_by_op"]["*"] == r["n"]


def test_the_command_scores_unequal_lengths_and_the_mirror_free_subset(times_run):
    proc = subprocess.run([sys.executable, "-m", "latentworks", "arithmetic", "eval", str(times_run),
                           "--digits", "3", "3x2", "--n", "40", "--ops", "*"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert " 3x2 digits: exact match" in proc.stdout and "   3 digits: exact match" in proc.stdout
    assert "mirror (b op a) not trained either" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "latentworks", "arithmetic", "eval", str(times_run),
                          "--digits", "3y2"], capture_output=True, text=True)
    assert bad.returncode == 2 and "3y2" in bad.stderr and "Traceback" not in bad.stderr
