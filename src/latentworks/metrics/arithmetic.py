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


def glyph_reading(symbols: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, float | int]:
    """How well invented symbol classes read labelled digits.

    ``symbols`` (N, K) are the class distributions a model gave digits whose true ``labels`` it never saw. The
    digits are split in two halves (seeded) and every naming is fitted on the first and scored on the second, so
    no accuracy is fitted on what it measures: ``accuracy`` names each argmax class after the digit it most often
    reads; ``centroid_accuracy`` names a digit by the nearest of the ten mean distributions, which credits a model
    that tells digits apart by a mixture of classes rather than by its top class."""
    probs, labels = np.asarray(symbols, dtype=np.float64), np.asarray(labels)
    top = probs.argmax(1)
    order = np.random.default_rng(seed).permutation(len(labels))
    name_half, score_half = order[: len(order) // 2], order[len(order) // 2:]
    counts = np.zeros((probs.shape[1], int(labels.max()) + 1), dtype=np.int64)
    np.add.at(counts, (top[name_half], labels[name_half]), 1)
    names = np.where(counts.sum(1) > 0, counts.argmax(1), -1)  # a class unseen on the first half names nothing
    used = counts.sum(1) > 0
    digits, named = np.unique(labels[name_half]), probs[name_half]
    centroids = np.stack([named[labels[name_half] == d].mean(0) for d in digits])
    nearest = digits[((probs[score_half, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)]
    return {"accuracy": float((names[top[score_half]] == labels[score_half]).mean()),
            "centroid_accuracy": float((nearest == labels[score_half]).mean()),
            "classes_used": int(used.sum()), "digits_named": int(len(set(names[used].tolist()))),
            "n": int(len(score_half))}
