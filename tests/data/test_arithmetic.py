"""Arithmetic queries: lengths, enumeration, layouts, parsing, codec, splits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentworks.data.arithmetic import (
    ArithmeticSpec,
    decode,
    encode,
    enumerate_queries,
    evaluate,
    format_answer,
    format_query,
    one_hot,
    parse_query,
)
from latentworks.data.arithmetic_dataset import build_text_dataset, split_queries
from latentworks.errors import LatentworksError

V23 = ArithmeticSpec()
V21 = ArithmeticSpec(max_int=199, layout="v21")


def test_course_lengths_and_charsets() -> None:
    assert (V23.query_len, V23.answer_len, V23.charset, V23.vocab_size) == (5, 3, "0123456789+- ", 13)
    assert (V21.query_len, V21.answer_len) == (7, 4)
    mult = ArithmeticSpec(ops="*")
    assert mult.charset == "0123456789* " and mult.answer_len == len(str(99 * 99)) == 4
    assert ArithmeticSpec(ops="-+").charset == V23.charset  # V21 loop order keeps the course charset
    assert ArithmeticSpec(ops="+-×").ops == "+-*"


@pytest.mark.parametrize(
    "spec", [V23, ArithmeticSpec(max_int=9, ops="+-*"), ArithmeticSpec(max_int=12, ops="-*", layout="v21")]
)
def test_answer_len_matches_widest_enumerated_answer(spec: ArithmeticSpec) -> None:
    widest = max(len(str(evaluate(i, op, j))) for i, op, j in enumerate_queries(spec))
    assert spec.answer_len == widest


def test_enumeration_order_and_count() -> None:
    q = enumerate_queries(V23)
    assert len(q) == 20_000 == V23.n_queries
    assert q[:3] == [(0, "+", 0), (0, "-", 0), (0, "+", 1)]
    assert q[-1] == (99, "-", 99)


def test_layouts() -> None:
    assert format_query(4, "-", 43, V23) == "4-43 " and format_answer(-39, V23) == "-39"
    assert format_query(9, "+", 88, V23) == "9+88 " and format_answer(97, V23) == "97 "
    assert format_query(39, "-", 106, V21) == " 39-106" and format_answer(-67, V21) == " -67"
    assert format_query(41, "+", 98, V21) == " 41+ 98" and format_answer(139, V21) == " 139"


def test_build_text_dataset_and_subset() -> None:
    spec = ArithmeticSpec(max_int=9)
    data = build_text_dataset(spec)
    assert len(data) == 200 and data.x.shape == (200, 3) and data.y.shape == (200, 2)
    assert data.x.dtype == np.int64 and data.values.dtype == np.int64
    for q, a, v in zip(data.queries, data.answers, data.values):
        assert parse_query(q, spec) and int(a) == v == evaluate(*parse_query(q, spec))
    sub = data.subset([5, 2])
    assert sub.queries == [data.queries[5], data.queries[2]]
    np.testing.assert_array_equal(sub.y, data.y[[5, 2]])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12+34", (12, "+", 34)),
        (" 12 + 34 ", (12, "+", 34)),
        ("12×3", (12, "*", 3)),
        ("7x0", (7, "*", 0)),
        (" 39-106", (39, "-", 106)),
    ],
)
def test_parse_query_good(text: str, expected: tuple[int, str, int]) -> None:
    spec = ArithmeticSpec(max_int=199, ops="+-*")
    assert parse_query(text, spec) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("12++3", "malformed"),
        ("abc", "malformed"),
        ("", "empty"),
        ("   ", "empty"),
        ("123456+1", "operand 123456 .* above this model's max_int 99"),
        ("100+1", "above this model's max_int"),
        ("3++4", "malformed"),
        ("1" * 10_000 + "+1", r"…' is 10,002 characters long"),
        ("-5+3", "negative"),
        ("5--3", "negative"),
        ("12*3", "not in this model"),
        ("1 2+3", "space inside"),
    ],
)
def test_parse_query_bad(text: str, fragment: str) -> None:
    with pytest.raises(LatentworksError, match=fragment) as err:
        parse_query(text, V23)
    assert "\n" not in str(err.value) and "12+34" in str(err.value)


def test_spec_validation() -> None:
    for kwargs in ({"max_int": 0}, {"ops": "/"}, {"ops": ""}, {"ops": "++"}, {"layout": "v99"}):
        with pytest.raises(LatentworksError):
            ArithmeticSpec(**kwargs)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0123456789+- ", min_size=4, max_size=4), min_size=1, max_size=20))
def test_codec_round_trip(strings: list[str]) -> None:
    idx = encode(strings, V23)
    assert idx.shape == (len(strings), 4) and idx.dtype == np.int64
    assert decode(idx, V23) == strings
    oh = one_hot(idx, V23.vocab_size)
    assert oh.dtype == np.float32 and oh.shape == (len(strings), 4, 13) and (oh.sum(-1) == 1).all()
    assert decode(oh, V23) == strings
    assert decode(oh[0], V23) == strings[:1]  # a single (L, V) sample


def test_codec_errors() -> None:
    with pytest.raises(LatentworksError, match="unknown character"):
        encode(["12/3 "], V23)
    with pytest.raises(LatentworksError, match="same length"):
        encode(["1+1  ", "1+1"], V23)
    with pytest.raises(LatentworksError, match="out of range"):
        decode(np.array([[13]]), V23)


@pytest.mark.parametrize(("n", "frac"), [(20_000, 0.5), (10, 0.1), (10, 0.99), (2, 0.5)])
def test_split_disjoint_and_covering(n: int, frac: float) -> None:
    train, test = split_queries(n, frac, seed=3)
    assert len(train) >= 1 and len(test) >= 1
    assert not set(train.tolist()) & set(test.tolist())
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    again, _ = split_queries(n, frac, seed=3)
    np.testing.assert_array_equal(train, again)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5, "half"])
def test_split_bad_fraction(frac: object) -> None:
    with pytest.raises(LatentworksError, match="train_fraction"):
        split_queries(100, frac, seed=0)  # type: ignore[arg-type]
