"""The query split (seeded, by query, so a test query's text never appears in training) and the whole query grid
written out and encoded. What a query is, how it is written, parsed and encoded is
:mod:`latentworks.data.arithmetic`'s.
"""

from __future__ import annotations

import numpy as np

from latentworks.data.arithmetic import (
    ArithmeticSpec,
    ArithmeticTextData,
    encode,
    enumerate_queries,
    evaluate,
    format_answer,
    format_query,
)
from latentworks.errors import LatentworksError

__all__ = ["build_text_dataset", "split_queries"]


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
