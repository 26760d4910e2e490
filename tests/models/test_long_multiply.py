"""The long-multiplication tables: their refusals, that the layout they are told multiplies at any length when the
tables are right, that the answers-only loss is the answer's likelihood under the tables and never moves the fixed
'0' entries, that two-digit products teach them, and a tiny run end to end (train, save, load, eval 3×3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import latentworks as lw
from latentworks.config import ConfigError, override, validate
from latentworks.data.arithmetic import (
    ArithmeticSpec,
    decode,
    encode,
    enumerate_queries,
    evaluate,
    format_answer,
    format_query,
)
from latentworks.models.io import load_model
from latentworks.models.long_multiply import LongMultiply
from latentworks.pipelines.length import evaluate_length, length_queries
from latentworks.recipes.arithmetic import recipe


def _tensors(queries, spec):
    x = encode([format_query(i, op, j, spec) for i, op, j in queries], spec)
    y = encode([format_answer(evaluate(i, op, j), spec) for i, op, j in queries], spec)
    return torch.from_numpy(x).long(), torch.from_numpy(y).long()


def _model(max_int: int = 99, **changes) -> tuple[LongMultiply, ArithmeticSpec]:
    cfg = recipe("long-multiply", **{"data.max_int": max_int, **changes})
    return LongMultiply(cfg.model), cfg.data.spec()


def _widened(model: LongMultiply, spec: ArithmeticSpec) -> LongMultiply:
    wide = LongMultiply(override(model.config, {"shape.answer_len": spec.answer_len,
                                                "shape.query_len": spec.query_len}))
    wide.load_state_dict(model.state_dict())
    return wide.eval()


def _right(model: LongMultiply, queries, spec) -> float:
    x, _ = _tensors(queries, spec)
    said = decode(model.predict(x).numpy(), spec)
    return float(np.mean([s.strip() == str(i * j) for s, (i, _, j) in zip(said, queries)]))


@pytest.mark.parametrize("ops", ["+", "-*", "+*"])
def test_refuses_anything_but_multiplication_in_one_line(ops):
    with pytest.raises(ConfigError, match="only multiplies") as err:
        validate(recipe("long-multiply", **{"data.ops": ops}))
    assert "\n" not in str(err.value)


def _true_tables(model: LongMultiply) -> LongMultiply:
    d = torch.arange(10)
    with torch.no_grad():
        for table, values in ((model.pairs, d[:, None] * d[None, :]), (model.sums, d[:, None] + d[None, :])):
            table.fill_(-15.0)
            table.scatter_(-1, torch.stack([values % 10, values // 10], -1)[..., None], 15.0)
    return model


def test_the_layout_multiplies_any_length_when_the_tables_are_right():
    """The told part alone (placement, order, carries as symbols): with both tables set to the true digit products
    and digit sums, the model multiplies 12×7-, 9×9- and 1×5-digit numbers exactly; with one entry wrong it does not."""
    model = _true_tables(_model()[0])
    for a, b in ((12, 7), (9, 9), (1, 5)):
        spec = ArithmeticSpec(max_int=10 ** max(a, b) - 1, ops="*")
        queries = length_queries(a, 200, "*", seed=3, other=b)
        assert _right(_widened(model, spec), queries, spec) == 1.0
    with torch.no_grad():
        model.pairs[7, 8] = model.pairs[7, 8].roll(1, -1)  # 7·8 written wrong
    spec = ArithmeticSpec(max_int=10 ** 6 - 1, ops="*")
    assert _right(_widened(model, spec), length_queries(6, 200, "*", seed=3), spec) < 0.9


def test_weights_do_not_depend_on_the_number_of_digits():
    model, _ = _model()
    spec = ArithmeticSpec(max_int=10 ** 11 - 1, ops="*")
    wide = _widened(model, spec)
    x, _ = _tensors(length_queries(11, 8, "*", seed=0), spec)
    assert wide.predict(x).shape == (8, spec.answer_len) == (8, 22)


def test_the_answers_loss_is_the_likelihood_under_the_tables_and_leaves_zero_alone():
    model, spec = _model()
    queries = enumerate_queries(spec)[::37]
    x, y = _tensors(queries, spec)
    loss = model.loss(x, y, extra=1)
    loss.backward()
    assert loss > 1.0 and model.pairs.grad.abs().sum() > 0 and model.sums.grad.abs().sum() > 0
    assert model.sums.grad[0].abs().max() == 0 == model.sums.grad[:, 0].abs().max()  # x + 0 = x is told, not learned
    _true_tables(model)
    assert model.loss(x, y, extra=2) < 1e-3  # right tables: every answer digit certain
    wrong = y.clone()
    wrong[:, 0] = (wrong[:, 0] + 1) % 10
    assert model.loss(x, wrong) > 5.0


def test_answers_alone_lower_the_loss():
    torch.manual_seed(0)
    model, spec = _model()
    x, y = _tensors(enumerate_queries(spec)[::50], spec)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    first = model.loss(x, y).item()
    for _ in range(30):
        loss = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.loss(x, y).item() < 0.8 * first


def test_the_scratchpad_teaches_two_digit_products_and_six_digit_ones_follow():
    torch.manual_seed(0)
    model, spec = _model(**{"model.scratchpad": True})
    every = enumerate_queries(spec)
    order = np.random.default_rng(0).permutation(len(every))
    train, test = order[:1000], order[1000:]  # a 10 % split
    x, y = _tensors([every[k] for k in train], spec)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(len(x), (64,), generator=g)
        loss = model.loss(x[idx], y[idx], extra=int(torch.randint(3, (1,), generator=g)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert _right(model, [every[k] for k in test], spec) == 1.0  # held-out two-digit products
    long_spec = ArithmeticSpec(max_int=10 ** 6 - 1, ops="*")
    assert _right(_widened(model, long_spec), length_queries(6, 300, "*", seed=1), long_spec) == 1.0


def test_the_scratchpad_ends_in_the_answer_and_a_wrong_answer_is_caught():
    model, spec = _model(**{"model.scratchpad": True})
    queries = enumerate_queries(spec)[::7]
    x, y = _tensors(queries, spec)
    assert torch.isfinite(model.loss(x, y, extra=2))
    wrong = y.clone()
    wrong[:, 0] = (wrong[:, 0] + 1) % 10  # a first digit no product of these operands has
    with pytest.raises(AssertionError, match="scratchpad"):
        model.loss(x, wrong)


def test_a_tiny_run_trains_saves_loads_and_answers_three_digit_products(tmp_path):
    out = tmp_path / "long"
    cfg = lw.recipe("arithmetic", "long-multiply", task="text2text",  # the scratchpad: right in 200 steps
                    **{"model.scratchpad": True, "train.steps": 200, "train.lr": 1e-2, "train.progress": False,
                       "eval.eval_subset": 200})
    lw.train(cfg, out)
    assert json.loads((out / "results.json").read_text())["test"]["exact_match"] > 0.99
    assert isinstance(load_model(out), LongMultiply)
    assert lw.load(out).predict("12*34") == "408"
    r = evaluate_length(out, 3, n=50, ops="*", seed=0)
    saved = json.loads(Path(r["file"]).read_text())
    assert r["n"] == 50 and r["exact_match"] > 0.95
    assert all(p.isdigit() and len(p) <= 6 for p in saved["predicted"])
    assert [int(e) for e in saved["expected"]] == [int(i) * int(j) for i, j in
                                                   (q.split("*") for q in saved["queries"])]
