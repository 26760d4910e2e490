"""The ``long-multiply`` text->text recipe: products of numbers longer than any it was trained on.

``columns-multiply`` answers 0..99 × 0..99 well and nothing longer: its recurrences hold continuous state fitted to
four answer columns. People multiply numbers of any length with two small tables and a fixed layout: the product
of each digit pair, written as two digits, and the sum of two digits, written as two digits, applied in a fixed
order (the lattice, or "gelosia", method). This model has that shape; the two tables are what it learns.

What it is told (its priors):

1. **Alignment**, as ``columns``: a's and b's digits units first, zero-padded; no position reaches a table.
2. **Product placement**: the two symbols the pair table writes for (a_i, b_j) land in columns i + j and
   i + j + 1; for each digit b_j the first symbols form one row of digits, the second symbols another; every
   other place of a row holds the symbol the answer calls '0'.
3. **A fixed step order**: a running total, all '0' at first, plus one row at a time (b_0's two, then b_1's, ...),
   column by column from the units up; in a column the total's and the row's symbols are added, then the carry
   symbol is added to that, and the two second symbols are added to make the next column's carry (at most one
   of them is not '0'). A carry is a symbol of the same alphabet, '0' below the units.
4. **Zero**: adding '0' changes nothing and carries '0' (19 of the column table's 100 entries are fixed so);
   **commutativity** of the column table (``symmetric``): its two symbols are read as an unordered pair.

What it learns: the pair table, (a_i, b_j) -> two symbols, and the rest of the column table, (x, y) -> two
symbols, each a table of scores over the ten symbols, **from the answers alone**: while training, the symbols'
distributions are carried through the tables (each look-up averages the table's rows over its inputs'
distributions: exact per column, the carries a Markov chain) and the loss is the cross-entropy of the last
total's digits; answering, each look-up takes the table's most likely symbols. What a digit product is, what
the sum of two digits is and which symbol a carry is are all learned. With ``scratchpad`` it learns instead from
the working of each training product (the two digits of every digit product and column sum, worked out by the
training code), a stronger supervision kept for comparison (BENCHMARKS.md).

Every entry of both tables occurs in products of two-digit numbers, and no weight depends on the number of digits,
so a model that has them right multiplies numbers of any length: an n×m-digit product takes 2·max(n, m) rows of
n + m columns, 3 table look-ups per column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import require, validate
from latentworks.models.aligned import AlignedTextToText
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.registry import register_model
from latentworks.training.module import StepOutput

DIGITS = 10  # symbols of both tables: the answer's digits, ids 0-9 of every arithmetic charset
Add = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class LongMultiplyConfig:
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    zero_pad: ClassVar[bool] = True  # fixed-width columns and answers (see ``columns``' zero_pad)
    digit_pairs: ClassVar[bool] = True  # where a digit pair's two symbols land is told (always)
    carry_states: ClassVar[int] = DIGITS  # the carry is a symbol of the digits' alphabet
    # The column table reads its two symbols as an unordered pair (x + y as y + x).
    symmetric: bool = True
    # Each training batch reads both operands with 0..pad_digits extra leading zero digits ('3*6' as '003*006'):
    # more rows and columns of the same two tables.
    pad_digits: int = 2
    # Learn from each training product's working (every digit product's and column sum's two digits, worked out by
    # the training code) instead of from its answer alone.
    scratchpad: bool = False

    def check(self) -> None:
        ops = "".join(c for c in self.shape.charset if c in "+-*")
        require(ops == "*", "ops", ops, "long-multiply only multiplies; use --ops '*' (automaton adds and subtracts)")
        require(self.pad_digits >= 0, "pad_digits", self.pad_digits, "must be >= 0")


def scratch_add(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two digits of x + y for digit ids: the column table's targets in the training scratchpad only."""
    s = x + y
    return s % DIGITS, s // DIGITS


@register_model("text2text_long_multiply", family="arithmetic",
                title="long-multiplication tables (text→text)", capabilities=("answer",), scoring_seconds=5.0)
class LongMultiply(AlignedTextToText):
    """Query ids (B, Lq) -> the answer's digit ids (B, La), units first, from two learned tables."""

    Config = LongMultiplyConfig

    def __init__(self, config: LongMultiplyConfig):
        nn.Module.__init__(self)
        validate(config)
        self.config = config
        self.layout_ids()  # the re-layouts are ``columns``'
        self.pairs = nn.Parameter(0.1 * torch.randn(DIGITS, DIGITS, 2, DIGITS))  # (a, b) -> scores of 2 symbols
        self.sums = nn.Parameter(0.1 * torch.randn(DIGITS, DIGITS, 2, DIGITS))  # (x, y) -> scores of 2 symbols
        # What adding '0' gives, fixed: x itself and a '0' carry (scores of 30: one symbol, to float precision).
        fixed = torch.full((DIGITS, 2, DIGITS), -30.0)
        fixed[torch.arange(DIGITS), 0, torch.arange(DIGITS)] = 30.0
        fixed[:, 1, self.zero] = 30.0
        self.register_buffer("adds_nothing", fixed, persistent=False)

    # ------------------------------------------------------------------ the layout (told)
    def digits(self, cols: torch.Tensor, extra: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 3) column ids -> a's and b's digit ids (B, W), units first, W the query's operand width."""
        width = min((self.config.shape.query_len - 1) // 2 + extra, cols.shape[1])
        return cols[:, :width, 1].clamp(max=9), cols[:, :width, 2].clamp(max=9)  # zero-padded: every one a digit

    def rows(self, symbols: torch.Tensor, columns: int, zero: torch.Tensor) -> list[torch.Tensor]:
        """(B, W, W, 2, ...) symbols of the pairs (a_i, b_j) -> the rows to sum, each (B, T, ...): for each b_j, the
        first symbols from column j up, then the second ones from column j + 1 up, ``zero`` elsewhere. A symbol
        is an id (...: nothing) or a distribution over the ten (...: 10); ``zero`` is '0' in that form."""
        B, W = symbols.shape[:2]
        out = []
        for j in range(W):
            for k in range(2):
                shift = j + k
                if shift < columns:  # a row starting above the top column holds only products of leading zeros
                    row = torch.cat([zero.expand(B, shift, *zero.shape), symbols[:, :, j, k],
                                     zero.expand(B, max(columns - shift - W, 0), *zero.shape)], 1)
                    out.append(row[:, :columns])
        return out

    def long_sum(self, rows: list[torch.Tensor], add: Add, zero: torch.Tensor) -> torch.Tensor:
        """The running total of the rows, each added column by column from the units up with ``add``."""
        B, T = rows[0].shape[:2]
        total = zero.expand(B, T, *zero.shape)
        for row in rows:
            carry, written = zero.expand(B, *zero.shape), []
            for t in range(T):
                digit, first = add(total[:, t], row[:, t])
                digit, second = add(digit, carry)
                carry = add(first, second)[0]
                written.append(digit)
            total = torch.stack(written, 1)
        return total

    # ------------------------------------------------------------------ the tables (learned)
    def sum_scores(self) -> torch.Tensor:
        """(10, 10, 2, 10) scores of the column table; its entries with a '0' fixed (x + 0 = x, carrying '0')."""
        scores = self.sums + self.sums.transpose(0, 1) if self.config.symmetric else self.sums
        scores = scores.clone()
        scores[self.zero], scores[:, self.zero] = self.adds_nothing, self.adds_nothing
        return scores

    def run(self, cols: torch.Tensor) -> torch.Tensor:
        """(B, T, 3) column ids -> (B, T) the answer's digit ids, units first: the tables' most likely symbols."""
        a, b = self.digits(cols)
        symbols = self.pairs.argmax(-1)[a[:, :, None], b[:, None, :]]  # (B, W, W, 2)
        table = self.sum_scores().argmax(-1)

        def add(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            both = table[x, y]
            return both[:, 0], both[:, 1]

        zero = torch.tensor(self.zero, device=cols.device)
        return self.long_sum(self.rows(symbols, cols.shape[1], zero), add, zero)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, extra: int = 0) -> torch.Tensor:
        """The answer's digit ids (B, La), units first."""
        return self.run(self.columns(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Answer ids (B, La) in the run's layout."""
        return self.layout_answer(self.run(self.columns(x)))

    # ------------------------------------------------------------------ training
    def loss(self, x: torch.Tensor, y: torch.Tensor, extra: int = 0) -> torch.Tensor:
        """Cross-entropy of the last total's digits against the answer, the symbols' distributions carried through
        both tables (or, with ``scratchpad``, of both tables' symbols on the query's working)."""
        cols, target = self.widen(self.columns(x), self.targets(y), extra)
        a, b = self.digits(cols, extra)
        scores = self.pairs[a[:, :, None], b[:, None, :]]  # (B, W, W, 2, 10)
        if self.config.scratchpad:
            return self.scratchpad_loss(a, b, scores, cols.shape[1], target)
        table = self.sum_scores().softmax(-1)
        units, tens = table[:, :, 0].flatten(0, 1), table[:, :, 1].flatten(0, 1)

        def add(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            joint = torch.einsum("bx,by->bxy", x, y).flatten(1)  # the two inputs are independent
            return joint @ units, joint @ tens

        zero = F.one_hot(torch.tensor(self.zero, device=x.device), DIGITS).to(scores.dtype)
        total = self.long_sum(self.rows(scores.softmax(-1), cols.shape[1], zero), add, zero)
        return F.nll_loss(total.clamp_min(1e-9).log().reshape(-1, DIGITS), target.reshape(-1))

    def scratchpad_loss(self, a: torch.Tensor, b: torch.Tensor, scores: torch.Tensor, columns: int,
                        target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of both tables' symbols on the two digits of every digit product and column sum of the
        query's long multiplication (``target``, the answer, is what its last total must be)."""
        products = a[:, :, None] * b[:, None, :]
        pair_targets = torch.stack([products % DIGITS, products // DIGITS], -1)  # (B, W, W, 2)
        pair_loss = F.cross_entropy(scores.reshape(-1, DIGITS), pair_targets.reshape(-1))
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        def add(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            seen.append((x, y))
            return scratch_add(x, y)

        zero = torch.tensor(self.zero, device=a.device)
        if not torch.equal(self.long_sum(self.rows(pair_targets, columns, zero), add, zero), target):
            raise AssertionError("the scratchpad's last total differs from the answer")
        xs, ys = torch.cat([s[0] for s in seen]), torch.cat([s[1] for s in seen])
        sum_targets = torch.stack(scratch_add(xs, ys), -1)
        sum_loss = F.cross_entropy(self.sum_scores()[xs, ys].reshape(-1, DIGITS), sum_targets.reshape(-1))
        return pair_loss + sum_loss

    def training_step(self, batch, ctx) -> StepOutput:
        extra = 0
        if self.config.pad_digits:
            extra = int(torch.randint(self.config.pad_digits + 1, (1,), generator=ctx.noise(torch.device("cpu"))))
        return StepOutput(self.loss(*batch[:2], extra=extra))
