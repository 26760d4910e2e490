"""Scoring arithmetic answers: exact match first, per-character accuracy beside it, and how far off the misses are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ERROR_BUCKETS = ("0", "1–9", "10–99", "100–999", "≥1000", "unreadable")


def parse_answer(text: str) -> int | None:
    """The integer an answer string spells, or None when it spells none (e.g. '1-2', '  ')."""
    stripped = text.strip()
    body = stripped[1:] if stripped.startswith("-") else stripped
    if not body.isdigit():
        return None
    return int(stripped)


def error_bucket(error: int | None) -> str:
    if error is None:
        return "unreadable"
    size = abs(error)
    if size == 0:
        return "0"
    if size < 10:
        return "1–9"
    if size < 100:
        return "10–99"
    if size < 1000:
        return "100–999"
    return "≥1000"


@dataclass
class AnswerScores:
    exact_match: float
    char_accuracy: float
    abs_error: float | None  # mean |predicted - true| over parsable answers
    parsable: float
    error_histogram: dict[str, int]
    n: int

    def as_dict(self) -> dict:
        return {
            "exact_match": self.exact_match,
            "char_accuracy": self.char_accuracy,
            "abs_error": self.abs_error,
            "parsable": self.parsable,
            "error_histogram": self.error_histogram,
            "n": self.n,
        }


def score_answers(predicted: Sequence[str], expected: Sequence[str]) -> AnswerScores:
    """Exact match compares whole padded strings; numeric error compares the values they spell."""
    if len(predicted) != len(expected):
        raise ValueError("predicted and expected must have the same length")
    n = len(expected)
    if n == 0:
        raise ValueError("nothing to score")
    exact = sum(p == e for p, e in zip(predicted, expected)) / n
    chars = np.array([[a == b for a, b in zip(p, e)] for p, e in zip(predicted, expected)], dtype=float)
    errors: list[int | None] = []
    for p, e in zip(predicted, expected):
        value = parse_answer(p)
        errors.append(None if value is None else value - int(e.strip()))
    numeric = [abs(err) for err in errors if err is not None]
    histogram = Counter(error_bucket(err) for err in errors)
    return AnswerScores(
        exact_match=float(exact),
        char_accuracy=float(chars.mean()),
        abs_error=float(np.mean(numeric)) if numeric else None,
        parsable=len(numeric) / n,
        error_histogram={bucket: int(histogram.get(bucket, 0)) for bucket in ERROR_BUCKETS},
        n=n,
    )
