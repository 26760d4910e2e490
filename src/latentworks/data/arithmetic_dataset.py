"""An arithmetic run's data: its ``data`` config section (which queries exist, how they are written and split), the
seeded split of the query grid (by query, so a test query's text never appears in training) and the whole grid
written out and encoded. What a query is, how it is written, parsed and encoded is :mod:`latentworks.data.arithmetic`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from latentworks.config import require
from latentworks.data.arithmetic import (
    ArithmeticSpec,
    encode,
    enumerate_queries,
    evaluate,
    format_answer,
    format_query,
    normalize_op,
)
from latentworks.data.roots import check_data_dir
from latentworks.errors import LatentworksError

__all__ = ["ArithmeticData", "ArithmeticTextData", "QueryFormat", "build_text_dataset", "split_queries"]


@dataclass
class QueryFormat:
    """Which queries exist and how they are written."""

    max_int: int = 99  # largest operand (99: the course's V23 data, 199: V21)
    ops: str = "+-"  # operators, e.g. '+-' or '+-*' ('×' and 'x' mean '*')
    layout: Literal["v23", "v21"] = "v23"  # the course's padding convention

    def __post_init__(self) -> None:
        if isinstance(self.ops, str):
            self.ops = "".join(normalize_op(c) for c in self.ops)

    def spec(self) -> ArithmeticSpec:
        return ArithmeticSpec(max_int=self.max_int, ops=self.ops, layout=self.layout)

    def check(self) -> None:
        require(self.max_int >= 1, "max_int", self.max_int, "must be at least 1, e.g. --max-int 99")
        require(self.max_int <= 10**6, "max_int", self.max_int, "is too large to enumerate; use at most 1000000")
        self.spec()  # one line naming a bad operator or layout


@dataclass
class ArithmeticData(QueryFormat):
    """The ``data`` section of an arithmetic run: which queries exist, how they are written and split."""

    train_fraction: float = 0.5  # share of all queries used for training; the rest are the held-out test
    split_seed: int = 0  # seed of the query split, fixed across --seed so seeds are compared on the same queries
    fresh_handwriting: bool = False  # image tasks: new MNIST-train handwriting for every batch
    data_dir: str | None = None  # folder holding MNIST ('embedded': the packaged sample); default: the look-up

    def check(self) -> None:
        super().check()
        require(isinstance(self.train_fraction, float) and 0 < self.train_fraction < 1, "train_fraction",
                self.train_fraction, "must lie strictly between 0 and 1, e.g. --train-fraction 0.1")
        check_data_dir(self.data_dir)


def split_queries(n_queries: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted (train, test) index arrays over ``range(n_queries)`` from a seeded permutation.

    The split is by query, so a test query's text never appears in training.
    """
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, (int, float, np.floating)):
        raise LatentworksError(f"train_fraction must be a number in (0, 1), got {train_fraction!r}")
    if not 0.0 < float(train_fraction) < 1.0:
        raise LatentworksError(f"train_fraction must be strictly between 0 and 1, got {train_fraction}")
    if n_queries < 2:
        raise LatentworksError(f"need at least 2 queries to split into train and test, got {n_queries}")
    perm = np.random.default_rng(seed).permutation(n_queries)
    n_train = min(max(int(round(n_queries * float(train_fraction))), 1), n_queries - 1)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


@dataclass
class ArithmeticTextData:
    """Text form of the arithmetic data: padded strings, true values, and their index codes."""

    spec: ArithmeticSpec
    queries: list[str]
    answers: list[str]
    values: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.queries)

    def subset(self, indices: Sequence[int] | np.ndarray) -> ArithmeticTextData:
        """A new dataset holding only ``indices`` (in the given order)."""
        idx = np.asarray(indices, dtype=np.int64)
        return ArithmeticTextData(
            spec=self.spec,
            queries=[self.queries[k] for k in idx],
            answers=[self.answers[k] for k in idx],
            values=self.values[idx],
            x=self.x[idx],
            y=self.y[idx],
        )


def build_text_dataset(spec: ArithmeticSpec) -> ArithmeticTextData:
    """Enumerate the full grid for ``spec`` and encode it."""
    triples = enumerate_queries(spec)
    values = np.array([evaluate(i, op, j) for i, op, j in triples], dtype=np.int64)
    queries = [format_query(i, op, j, spec) for i, op, j in triples]
    answers = [format_answer(int(v), spec) for v in values]
    return ArithmeticTextData(
        spec=spec,
        queries=queries,
        answers=answers,
        values=values,
        x=encode(queries, spec),
        y=encode(answers, spec),
    )
