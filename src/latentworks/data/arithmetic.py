"""Arithmetic queries: what exists (the spec), enumeration, string layouts, parsing and a character codec.

Two padding layouts follow the course notebooks:

* ``"v23"`` (default): the whole expression ``f"{i}{op}{j}"`` is right-padded to ``query_len`` and the
  answer is right-padded to ``answer_len`` (``'4-43 ' -> '-39'``, ``'9+88 ' -> '97 '``).
* ``"v21"``: each operand is left-padded to ``operand_width`` so the operator sits at a fixed index,
  and the answer is left-padded (``' 39-106' -> ' -67'``).

The charset is digits, then the operators in use, then space, which reproduces the course's
``'0123456789+- '`` and ``'0123456789* '`` exactly. A run's ``data`` section, its query split and the encoded grid
are :mod:`latentworks.data.arithmetic_dataset`'s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentworks.errors import LatentworksError

__all__ = [
    "ArithmeticSpec",
    "decode",
    "encode",
    "enumerate_queries",
    "evaluate",
    "format_answer",
    "format_query",
    "normalize_op",
    "one_hot",
    "parse_query",
]

_ALL_OPS = "+-*"
_LAYOUTS = ("v23", "v21")
# User spellings of multiplication; stored as '*' everywhere inside the package.
_OP_ALIASES = {"×": "*", "x": "*", "X": "*", "·": "*"}


def normalize_op(op: str) -> str:
    """Map user spellings of an operator ('×', 'x') to the internal one ('*')."""
    return _OP_ALIASES.get(op, op)


@dataclass(frozen=True)
class ArithmeticSpec:
    """What queries exist and how they are written.

    ``ops`` lists the operators in enumeration order (innermost loop); the charset always lists them in
    the canonical order ``+-*`` so ``ops="-+"`` (the V21 loop order) keeps the course charset.
    """

    max_int: int = 99
    ops: str = "+-"
    layout: str = "v23"

    def __post_init__(self) -> None:
        if isinstance(self.max_int, bool) or not isinstance(self.max_int, (int, np.integer)):
            raise LatentworksError(f"max_int must be an integer >= 1, got {self.max_int!r}")
        if self.max_int < 1:
            raise LatentworksError(f"max_int must be >= 1, got {self.max_int}; e.g. 99 (course V23)")
        if not isinstance(self.ops, str) or not self.ops:
            raise LatentworksError(f"ops must be a non-empty subset of '+-*', not {self.ops!r}")
        ops = "".join(normalize_op(c) for c in self.ops)
        bad = sorted(set(ops) - set(_ALL_OPS))
        if bad:
            raise LatentworksError(f"unsupported operator(s) {''.join(bad)!r} in ops; use a subset of '+-*'")
        if len(set(ops)) != len(ops):
            raise LatentworksError(f"ops {self.ops!r} repeats an operator; list each once, e.g. '+-'")
        if self.layout not in _LAYOUTS:
            raise LatentworksError(f"unknown layout {self.layout!r}; use 'v23' or 'v21'")
        # Frozen dataclass: normalise spellings in place so equal specs compare and hash equal.
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "max_int", int(self.max_int))

    @property
    def operand_width(self) -> int:
        """Characters of the widest operand (``len(str(max_int))``)."""
        return len(str(self.max_int))

    @property
    def query_len(self) -> int:
        """Query length: two operands and one operator."""
        return 2 * self.operand_width + 1

    @property
    def answer_len(self) -> int:
        """Width of the widest answer, from the extreme values each operator can produce."""
        m = self.max_int
        extremes = [0, m]  # i - 0 and i + 0 already reach m
        if "+" in self.ops:
            extremes.append(2 * m)
        if "-" in self.ops:
            extremes.append(-m)
        if "*" in self.ops:
            extremes.append(m * m)
        return max(len(str(v)) for v in extremes)

    @property
    def charset(self) -> str:
        """Index order of the one-hot code: digits, operators in canonical order, space."""
        return "0123456789" + "".join(c for c in _ALL_OPS if c in self.ops) + " "

    @property
    def vocab_size(self) -> int:
        """Number of symbols in :attr:`charset`."""
        return len(self.charset)

    @property
    def n_queries(self) -> int:
        """Size of the full query grid: ``(max_int + 1)**2 * len(ops)``."""
        return (self.max_int + 1) ** 2 * len(self.ops)


def evaluate(i: int, op: str, j: int) -> int:
    """The exact integer value of ``i op j``."""
    op = normalize_op(op)
    if op == "+":
        return i + j
    if op == "-":
        return i - j
    if op == "*":
        return i * j
    raise LatentworksError(f"unsupported operator {op!r}; use one of '+-*'")


def format_query(i: int, op: str, j: int, spec: ArithmeticSpec) -> str:
    """Write a query in the spec's layout, padded to ``spec.query_len``."""
    op = normalize_op(op)
    if spec.layout == "v21":
        w = spec.operand_width
        return f"{i:>{w}}{op}{j:>{w}}"
    return f"{i}{op}{j}".ljust(spec.query_len)


def format_answer(value: int, spec: ArithmeticSpec) -> str:
    """Write an answer in the spec's layout, padded to ``spec.answer_len``."""
    text = str(int(value))
    if len(text) > spec.answer_len:
        raise LatentworksError(f"answer {text} is wider than answer_len {spec.answer_len} for this spec")
    return text.rjust(spec.answer_len) if spec.layout == "v21" else text.ljust(spec.answer_len)


def enumerate_queries(spec: ArithmeticSpec) -> list[tuple[int, str, int]]:
    """Every (i, op, j) in course order: i outer, j inner, operator innermost (in ``spec.ops`` order)."""
    r = range(spec.max_int + 1)
    return [(i, op, j) for i in r for j in r for op in spec.ops]


_QUERY_RE = re.compile(r"^(\d+)([+\-*])(\d+)$")


def parse_query(text: str, spec: ArithmeticSpec) -> tuple[int, str, int]:
    """Parse user text such as ``"12+34"``, ``" 12 + 34 "`` or ``"12×3"`` into ``(i, op, j)``.

    Raises ``LatentworksError`` with a one-line explanation for anything that is not a valid query.
    """
    example = f"e.g. '12{spec.ops[0]}34'" if spec.max_int >= 34 else f"e.g. '1{spec.ops[0]}{spec.max_int}'"
    hint = f"a query is two integers 0..{spec.max_int} joined by one of '{spec.ops}', {example}"
    if not isinstance(text, str):
        raise LatentworksError(f"query must be text, got {type(text).__name__}; {hint}")
    compact = "".join(normalize_op(c) for c in text if not c.isspace())
    shown = _shown(text)
    if not compact:
        raise LatentworksError(f"empty query; {hint}")
    if len(compact) > 4 * spec.query_len + 8:  # far beyond any query: say so without echoing it all back
        raise LatentworksError(f"query {shown} is {len(compact):,} characters long, at most {spec.query_len}; {hint}")
    if compact[0] == "-" or re.search(r"[+\-*]-\d", compact):
        raise LatentworksError(f"query {shown} has a negative operand; {hint}")
    if re.search(r"\d\s+\d", text.strip()):
        raise LatentworksError(f"query {shown} has a space inside a number; {hint}")
    m = _QUERY_RE.match(compact)
    if m is None:
        raise LatentworksError(f"malformed query {shown}; {hint}")
    i, op, j = int(m.group(1)), m.group(2), int(m.group(3))
    if op not in spec.ops:
        raise LatentworksError(f"operator {op!r} in {shown} is not in this model's ops; {hint}")
    for value in (i, j):
        if value > spec.max_int:
            raise LatentworksError(f"operand {value} in {shown} is above this model's max_int {spec.max_int}; {hint}")
    return i, op, j


def _shown(text: str, limit: int = 32) -> str:
    """A user's text quoted for an error message, cut to ``limit`` characters."""
    text = text.strip()
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# --------------------------------------------------------------------------------------------------
# Codec


def _charset_of(spec: ArithmeticSpec | str) -> str:
    return spec.charset if isinstance(spec, ArithmeticSpec) else str(spec)


def encode(strings: Sequence[str], spec: ArithmeticSpec | str) -> np.ndarray:
    """Character indices (N, L) int64 for equal-length strings; ``spec`` may also be a charset string."""
    charset = _charset_of(spec)
    strings = list(strings)
    if not strings:
        return np.zeros((0, 0), dtype=np.int64)
    length = len(strings[0])
    for s in strings:
        if not isinstance(s, str) or len(s) != length:
            raise LatentworksError(
                f"cannot encode {s!r}: all strings must be text of the same length ({length}); pad them first"
            )
    if length == 0:
        return np.zeros((len(strings), 0), dtype=np.int64)
    # Vectorised: view the fixed-width unicode array as code points, then map the few distinct ones.
    codes = np.array(strings, dtype=f"<U{length}").view(np.uint32).reshape(len(strings), length)
    uniq, inverse = np.unique(codes, return_inverse=True)
    lookup = {c: k for k, c in enumerate(charset)}
    mapped = np.empty(uniq.shape, dtype=np.int64)
    for n, cp in enumerate(uniq):
        ch = chr(int(cp))
        idx = lookup.get(normalize_op(ch))
        if idx is None:
            bad = next(s for s in strings if ch in s)
            raise LatentworksError(f"unknown character {ch!r} in {bad!r}; allowed characters are {charset!r}")
        mapped[n] = idx
    out = mapped[inverse.reshape(codes.shape)]
    return out


def decode(arr: np.ndarray, spec: ArithmeticSpec | str) -> list[str]:
    """Strings from indices or from one-hot / probability arrays (argmax over the last axis).

    Integer input: (N, L) or a single (L,). Float input: (N, L, V) or a single (L, V).
    """
    charset = _charset_of(spec)
    a = np.asarray(arr)
    if np.issubdtype(a.dtype, np.floating):
        v = len(charset)
        if a.ndim not in (2, 3) or a.shape[-1] != v:
            raise LatentworksError(f"cannot decode scores of shape {a.shape}; need (N, L, {v}) or (L, {v})")
        a = a.argmax(axis=-1)
    elif not np.issubdtype(a.dtype, np.integer):
        raise LatentworksError(f"cannot decode an array of dtype {a.dtype}; pass indices or scores")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise LatentworksError(f"cannot decode indices of shape {a.shape}; expected (N, L) or (L,)")
    if a.size and (a.min() < 0 or a.max() >= len(charset)):
        raise LatentworksError(f"index out of range for a charset of {len(charset)} symbols")
    table = np.array(list(charset))
    return ["".join(row) for row in table[a]]


def one_hot(indices: np.ndarray, vocab: int) -> np.ndarray:
    """One-hot float32 (N, L, vocab) from integer indices (N, L)."""
    idx = np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise LatentworksError(f"one_hot needs integer indices, got {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= vocab):
        raise LatentworksError(f"index out of range for a vocabulary of {vocab} symbols")
    return np.eye(vocab, dtype=np.float32)[idx]
