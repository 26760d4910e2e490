"""The column-aligned text->text model: its fixed re-layouts and a real tiny training run."""

import pytest
import torch
import torch.nn.functional as F

from latentworks.data.arithmetic import ArithmeticSpec, decode, encode
from latentworks.data.arithmetic_dataset import build_text_dataset
from latentworks.models.aligned import AlignedTextToText
from latentworks.recipes.arithmetic import recipe

SPECS = [ArithmeticSpec(max_int=99, ops="+-", layout="v23"), ArithmeticSpec(max_int=199, ops="+-", layout="v21"),
         ArithmeticSpec(max_int=99, ops="+-*", layout="v23"), ArithmeticSpec(max_int=99, ops="+", layout="v23")]


def _model(spec: ArithmeticSpec, **overrides) -> AlignedTextToText:
    data = {"data.max_int": spec.max_int, "data.ops": spec.ops, "data.layout": spec.layout}
    cfg = recipe("columns", task="text2text", **data, **{f"model.{k}": v for k, v in overrides.items()})
    assert cfg.model.shape.charset == spec.charset and cfg.model.shape.answer_len == spec.answer_len
    return AlignedTextToText(cfg.model)


def _ids(spec: ArithmeticSpec, *strings: str) -> torch.Tensor:
    return torch.as_tensor(encode(list(strings), spec))


def _text(spec: ArithmeticSpec, ids: torch.Tensor) -> list[str]:
    return decode(ids.numpy(), spec)


@pytest.mark.parametrize("zero_pad", [False, True])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.layout}{s.ops}")
def test_answer_relayout_round_trips_every_answer(spec, zero_pad):
    data = build_text_dataset(spec)
    m = _model(spec, zero_pad=zero_pad)
    y = torch.as_tensor(data.y)
    assert torch.equal(m.layout_answer(m.targets(y)), y)


def test_columns_and_targets_are_units_first():
    spec = SPECS[0]
    x, y = _ids(spec, "3+64 ", "71-9 "), _ids(spec, "67 ", "62 ")
    # (operator, a_t, b_t) per column, shown as all operators, then a's digits, then b's, units first.
    assert _text(spec, _model(spec, zero_pad=False).columns(x).transpose(1, 2).flatten(1)) == ["+++3  46 ", "---17 9  "]
    padded = _model(spec, zero_pad=True)
    assert _text(spec, padded.columns(x).transpose(1, 2).flatten(1)) == ["+++300460", "---170900"]
    assert _text(spec, padded.targets(y)) == ["760", "260"]
    negative = _ids(spec, "-5 ")
    assert _text(spec, padded.targets(negative)) == ["50-"]
    assert _text(spec, _model(spec, zero_pad=False).targets(negative)) == ["5- "]


def test_zero_pad_reads_a_missing_digit_as_zero():
    spec = SPECS[0]
    m = _model(spec, zero_pad=True)
    x = _ids(spec, "3+6  ", "03+06")
    assert torch.equal(m.columns(x)[0], m.columns(x)[1])


@pytest.mark.parametrize("zero_pad", [False, True])
def test_tiny_training_run_learns_held_out_sums(zero_pad):
    torch.manual_seed(0)
    spec = ArithmeticSpec(max_int=19, ops="+-", layout="v23")
    data = build_text_dataset(spec)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    train, test = perm[:500], perm[500:]
    x, y = torch.as_tensor(data.x), torch.as_tensor(data.y)
    m = _model(spec, zero_pad=zero_pad, hidden=32, dropout=0.0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(600):
        idx = train[torch.randint(0, len(train), (64,))]
        logits = m(x[idx], y[idx])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), m.targets(y[idx]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    exact = (m.predict(x[test]) == y[test]).all(1).float().mean().item()
    assert exact > 0.7  # an untrained model gets about 0


@pytest.mark.parametrize("extra", [0, 1, 4])
def test_widening_equals_the_same_queries_written_with_longer_operands(extra):
    """pad_columns' widened batch is exactly what the model sees for those queries in a wider layout."""
    spec = SPECS[0]
    data = build_text_dataset(spec)
    pick = torch.arange(0, len(data), 37)
    x, y = torch.as_tensor(data.x)[pick], torch.as_tensor(data.y)[pick]
    m = _model(spec, zero_pad=True, pad_columns=4)
    cols, canon = m.widen(m.columns(x), m.targets(y), extra)

    wide = ArithmeticSpec(max_int=10 ** (2 + extra) - 1, ops=spec.ops, layout=spec.layout)
    wm = _model(wide, zero_pad=True)
    wx = _ids(wide, *[q.strip().ljust(wide.query_len) for q in decode(x.numpy(), spec)])
    wy = _ids(wide, *[a.strip().ljust(wide.answer_len) for a in decode(y.numpy(), spec)])
    assert torch.equal(cols, wm.columns(wx)) and torch.equal(canon, wm.targets(wy))


def test_pad_columns_needs_zero_pad():
    from latentworks.config import ConfigError

    with pytest.raises(ConfigError, match="pad-columns"):
        _model(SPECS[0], zero_pad=False, pad_columns=3)


def test_digit_pairs_meet_in_the_column_of_their_place_value():
    """With each pair's two vectors set to the product of its digits, column t holds sum(a_i * b_j, i + j = t)
    and the same sum one column down."""
    spec = SPECS[2]
    m = _model(spec, zero_pad=True, digit_pairs=True, pair_dim=1)
    V = spec.vocab_size
    with torch.no_grad():
        m.pairs.weight.zero_()
        for a in range(10):
            for b in range(10):
                m.pairs.weight[a * V + b] = a * b
    columns = m.pair_columns(m.columns(_ids(spec, "12*34", "99*99", "7*8  ")))
    assert columns[..., 0].tolist() == [[8, 10, 3, 0], [81, 162, 81, 0], [56, 0, 0, 0]]
    assert columns[..., 1].tolist() == [[0, 8, 10, 3], [0, 81, 162, 81], [0, 56, 0, 0]]


def test_the_default_multiplies_with_the_columns_multiply_recipe():
    mul = recipe("default", task="text2text", **{"data.ops": "+-*"})
    assert mul.recipe == "columns-multiply" and mul.model.digit_pairs and mul.train.weight_decay == 1.0
    assert recipe("best", task="text2text", **{"data.ops": "×"}).recipe == "columns-multiply"  # the old name's meaning
    assert recipe("default", task="text2text", **{"data.ops": "×"}).recipe == "long-multiply"  # '*' alone
    plain = recipe("columns", task="text2text")
    assert plain.recipe == "columns" and not plain.model.digit_pairs
    assert recipe("columns", task="text2text", **{"data.ops": "*"}).recipe == "columns"  # an explicit recipe stays
    m = AlignedTextToText(mul.model)
    x = _ids(mul.data.spec(), "12*34", "5+6  ")
    assert m.predict(x).shape == (2, mul.model.shape.answer_len)
