"""The column transducer (MNIST-addition): its exact forward pass, its decoding, the answer text, a table learned
from sums alone, and a tiny run that trains, saves, loads and scores on the protocol's test sets."""

import itertools

import numpy as np
import pytest
import torch

import latentworks as lw
from latentworks.data.arithmetic import encode, format_answer
from latentworks.data.mnist_addition import MnistAdditionData
from latentworks.errors import LatentworksError
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.column_transducer import ColumnTransducer, ColumnTransducerConfig
from latentworks.models.io import load_model
from latentworks.pipelines.tasks.mnist_addition import score_on_digits
from latentworks.recipes.arithmetic import recipe


def _model(digits: int, **changes) -> ColumnTransducer:
    spec = MnistAdditionData(number_length=digits).spec()
    shape = ArithmeticShape(spec.vocab_size, spec.charset, spec.query_len, spec.answer_len, spec.layout)
    torch.manual_seed(0)
    return ColumnTransducer(ColumnTransducerConfig(shape=shape, **changes))


def _fixed_reading(model: ColumnTransducer, a: torch.Tensor, b: torch.Tensor) -> None:
    """The glyph CNN replaced by given symbol distributions (B, N, S) per number, units first."""
    model.operands = lambda images, generator=None: (a, b)


def _unsure(digits: np.ndarray) -> torch.Tensor:
    """Uncertain readings (B, N, 10) whose most probable symbol is the true digit."""
    return (torch.nn.functional.one_hot(torch.from_numpy(digits), 10) * 2.0 + torch.rand(*digits.shape, 10)).softmax(-1)


def _columns(values: np.ndarray) -> torch.Tensor:
    """Two-digit numbers -> certain readings (B, 2, 10), units first."""
    return torch.nn.functional.one_hot(torch.from_numpy(np.stack([values % 10, values // 10], 1)), 10).float()


def _strip(batch: int, digits: int) -> torch.Tensor:
    return torch.zeros(batch, 2 * digits + 1, 28, 28)


def _addition_table(model: ColumnTransducer) -> None:
    """The table set by hand to decimal addition (symbol k = digit k), as a trained one should be."""
    with torch.no_grad():
        model.table.fill_(-30.0)
        model.top.fill_(-30.0)
        for a, b, c in itertools.product(range(10), range(10), range(2)):
            s = a + b + c
            model.table[a, b, c, (s % 10) * 2 + s // 10] = 30.0
        model.top[0, 0] = model.top[1, 1] = 30.0
        model.start.copy_(torch.tensor([30.0, -30.0]))  # no carry below the units


def test_sum_digits_and_answer_text_round_trip():
    model = _model(3)
    spec = MnistAdditionData(number_length=3).spec()
    sums = [0, 7, 10, 999, 1000, 1998, 305]
    y = torch.from_numpy(encode([format_answer(s, spec) for s in sums], spec))
    digits = model.sum_digits(y, 3)
    assert digits.tolist()[3] == [9, 9, 9, 0] and digits.tolist()[5] == [8, 9, 9, 1]  # units first
    assert [int("".join(map(str, row[::-1]))) for row in digits.tolist()] == sums
    assert torch.equal(model.answer_ids(digits), y)  # no leading zeros, blanks after


def test_the_forward_pass_is_exact():
    """P(sum) from the forward pass equals the sum over every symbol and carry path, and sums to 1 over answers."""
    model = _model(2, symmetric=False)
    gen = torch.Generator().manual_seed(1)
    a, b = torch.rand(1, 2, 10, generator=gen).softmax(-1), torch.rand(1, 2, 10, generator=gen).softmax(-1)
    _fixed_reading(model, a, b)
    spec = MnistAdditionData(number_length=2).spec()
    with torch.no_grad():
        table, top, start = model.table_probs(), model.top.softmax(-1), model.start.softmax(-1)
        for target in (0, 5, 123, 198):
            d = [target % 10, target // 10 % 10, target // 100]
            brute = 0.0
            for s in itertools.product(range(10), repeat=4):
                p = a[0, 0, s[0]] * b[0, 0, s[1]] * a[0, 1, s[2]] * b[0, 1, s[3]]
                for c0, c1, c2 in itertools.product(range(2), repeat=3):
                    brute += (p * start[c0] * table[s[0], s[1], c0, d[0], c1] * table[s[2], s[3], c1, d[1], c2]
                              * top[c2, d[2]])
            y = torch.from_numpy(encode([format_answer(target, spec)], spec))
            assert model.log_likelihood(_strip(1, 2), y).exp().item() == pytest.approx(float(brute), rel=1e-4)
        # Every string of three digits (sums > 198 included): the probabilities add up to one.
        every = torch.tensor([[int(c) for c in f"{v:03d}"[::-1]] for v in range(1000)])
        _fixed_reading(model, a.expand(1000, -1, -1), b.expand(1000, -1, -1))
        total = model.log_likelihood(_strip(1000, 2), model.answer_ids(every)).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("decode", ["map", "argmax"])
def test_an_addition_table_adds_a_hundred_digits_in_both_decodings(decode):
    model = _model(100, decode=decode).eval()
    _addition_table(model)
    rng = np.random.default_rng(0)
    x, z = rng.integers(0, 10, (4, 100)), rng.integers(0, 10, (4, 100))  # units first
    _fixed_reading(model, _unsure(x), _unsure(z))
    sums = [int("".join(map(str, r[::-1]))) + int("".join(map(str, q[::-1]))) for r, q in zip(x, z)]
    got = model.predict(_strip(4, 100))
    spec = MnistAdditionData(number_length=100).spec()
    assert got.tolist() == encode([format_answer(s, spec) for s in sums], spec).tolist()
    y = torch.from_numpy(encode([format_answer(s, spec) for s in sums], spec))
    wrong = torch.from_numpy(encode([format_answer(s + 1, spec) for s in sums], spec))
    assert (model.log_likelihood(_strip(4, 100), y) > model.log_likelihood(_strip(4, 100), wrong)).all()


def test_the_table_is_learned_from_sums_alone():
    """With the glyphs read for it, the table learns two-digit addition (carries included) from sums only."""
    model = _model(2, table_init=3.0)  # the recipe's (from the default's draw it found a carry half-learned)
    spec = MnistAdditionData(number_length=2).spec()
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam([model.table, model.top, model.start], lr=0.1)
    for _ in range(300):
        x, z = rng.integers(0, 100, 64), rng.integers(0, 100, 64)
        _fixed_reading(model, _columns(x), _columns(z))
        y = torch.from_numpy(encode([format_answer(int(s), spec) for s in x + z], spec))
        loss = -model.log_likelihood(_strip(64, 2), y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, z = np.repeat(np.arange(100), 100), np.tile(np.arange(100), 100)
    _fixed_reading(model, _columns(x), _columns(z))
    right = model.eval().predict(_strip(10_000, 2)).numpy() == encode([format_answer(int(s), spec) for s in x + z],
                                                                         spec)
    assert right.all(1).mean() > 0.99  # of every pair of two-digit numbers, carries included


def test_a_bad_config_is_one_line():
    with pytest.raises(LatentworksError, match="--carry-states 0"):
        _model(1, carry_states=0)


def test_a_tiny_run_trains_saves_loads_and_scores(tmp_path):
    cfg = recipe("mnist-addition", task="img2text", **{
        "data.number_length": 1, "data.data_dir": "embedded", "train.steps": 6, "train.batch_size": 16,
        "train.progress": False, "eval.eval_subset": 16, "model.glyph_features": 16, "model.augment": True})
    results = lw.train(cfg, tmp_path / "run").results
    test = results["test"]
    assert test["n"] == 500 and 0 <= test["sum_accuracy"] <= 1 and results["train"]["steps"] == 6
    assert test["glyph_reading"]["n"] > 0  # per-digit reading of labelled MNIST test digits, an analysis only
    model = load_model(tmp_path / "run", expect="img2text_transducer")
    assert type(model) is ColumnTransducer and not model.training
    assert score_on_digits(tmp_path / "run", 1, 0, "embedded")["sum_accuracy"] == test["sum_accuracy"]
    longer = score_on_digits(tmp_path / "run", 3, 0, "embedded")  # the same table at every column: any N
    assert longer["n"] == 166 and 0 <= longer["sum_accuracy"] <= 1
