"""The column automaton: its layouts, its refusals, and that it adds and subtracts numbers longer than any it saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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
from latentworks.data.arithmetic_dataset import split_queries
from latentworks.models.column_automaton import ColumnAutomaton
from latentworks.pipelines.length import length_queries
from latentworks.recipes.arithmetic import recipe


def _tensors(queries, spec):
    x = encode([format_query(i, op, j, spec) for i, op, j in queries], spec)
    y = encode([format_answer(evaluate(i, op, j), spec) for i, op, j in queries], spec)
    return torch.from_numpy(x).long(), torch.from_numpy(y).long()


def _model(ops: str = "+-", **changes) -> tuple[ColumnAutomaton, ArithmeticSpec]:
    cfg = recipe("automaton", **{"data.ops": ops, **changes})
    return ColumnAutomaton(cfg.model), cfg.data.spec()


def test_sign_first_and_back_are_inverse_on_every_answer():
    model, spec = _model()
    _, y = _tensors(enumerate_queries(spec), spec)
    canon = model.targets(y)
    signed = model.sign_first(canon)
    assert (signed[:, 0] == model.minus).sum() == (y == model.minus).any(1).sum() > 0
    assert torch.equal(model.sign_last(signed), canon)
    assert torch.equal(model.layout_answer(model.sign_last(signed)), y)


def test_refuses_multiplication_in_one_line():
    with pytest.raises(ConfigError, match="multiply"):
        validate(recipe("automaton", **{"data.ops": "+-*"}))


def test_subtracting_by_adding_needs_addition_among_the_ops():
    with pytest.raises(ConfigError, match="no-subtract-by-adding"):
        validate(recipe("automaton", **{"data.ops": "-"}))
    model, _ = _model("-", **{"model.subtract_by_adding": False})
    assert len(model.writers) == 1 and model.overflow_sign is None  # '-' with a table of its own


def test_subtraction_by_adding_has_no_network_of_its_own():
    """'-' is answered by the '+' writer: change it and the differences change too; the '+' rows are untouched
    by the one network that only '-' has (the last carry's sign map)."""
    torch.manual_seed(0)
    model, spec = _model()
    assert len(model.writers) == len(model.readers) == 1
    model.eval()
    queries = [(i, op, j) for i in range(0, 100, 7) for j in range(0, 100, 9) for op in "+-"]
    x, _ = _tensors(queries, spec)
    before = model.run(model.columns(x))
    with torch.no_grad():
        model.overflow_sign.weight.add_(1.0)
    after_sign = model.run(model.columns(x))
    plus = torch.tensor([op == "+" for _, op, _ in queries])
    assert torch.equal(after_sign[plus], before[plus]) and not torch.equal(after_sign[~plus], before[~plus])
    with torch.no_grad():
        for w in model.writers[0].parameters():
            w.add_(torch.randn_like(w))
    assert not torch.equal(model.run(model.columns(x))[~plus, 1:], after_sign[~plus, 1:])


def test_weights_do_not_depend_on_the_number_of_columns():
    model, spec = _model()
    wide = ColumnAutomaton(override(model.config, {"shape.answer_len": 12, "shape.query_len": 23}))
    wide.load_state_dict(model.state_dict())
    x, _ = _tensors(length_queries(11, 8, "+-", seed=0), ArithmeticSpec(max_int=10 ** 11 - 1, ops="+-"))
    wide.eval()
    assert wide.predict(x).shape == (8, 12)


def test_learns_from_two_digit_queries_and_adds_and_subtracts_twelve_digit_ones():
    torch.manual_seed(0)
    model, spec = _model("+-", **{"model.pad_columns": 2})
    every = enumerate_queries(spec)
    train, test = split_queries(spec.n_queries, 0.3, 0)
    x, y = _tensors([every[k] for k in train], spec)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        idx = torch.randint(len(x), (64,), generator=g)
        loss = model.loss(x[idx], y[idx], extra=int(torch.randint(3, (1,), generator=g)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    xt, yt = _tensors([every[k] for k in test], spec)
    assert (model.predict(xt) == yt).all(1).float().mean() > 0.97  # held-out two-digit sums and differences
    long_spec = ArithmeticSpec(max_int=10 ** 12 - 1, ops="+-")
    wide = ColumnAutomaton(override(model.config, {"shape.answer_len": long_spec.answer_len,
                                                   "shape.query_len": long_spec.query_len}))
    wide.load_state_dict(model.state_dict())
    wide.eval()
    queries = length_queries(12, 400, "+-", seed=1)
    xl, _ = _tensors(queries, long_spec)
    said = decode(wide.predict(xl).numpy(), long_spec)
    for op in "+-":
        pairs = [(s, (i, o, j)) for s, (i, o, j) in zip(said, queries) if o == op]
        right = np.mean([s.strip() == str(evaluate(i, o, j)) for s, (i, o, j) in pairs])
        assert len(pairs) > 150 and right > 0.97, (op, pairs[:5])
