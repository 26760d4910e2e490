"""The ``columns`` text->text recipes (``columns-long``, ``columns-multiply``): read digits in the order arithmetic
is done.

People add and subtract column by column from the units up, carrying as they go. This model gets the same
view of a query without being told any arithmetic:

1. **Aligned input.** A fixed (not learned) re-layout reads the query characters and lines the operands up by
   place value: step t holds (operator, t-th digit of a, t-th digit of b), units first. It works for both the
   V23 and V21 paddings, because it only looks at where the operator and the digits are.
2. **Encoder.** A bidirectional GRU over those steps: the forward direction can carry, the backward direction
   can tell which operand is larger (the sign of a difference).
3. **Monotonic decoder.** A GRU emits answer digit t at step t (units first), reading encoder step t and the
   previous output: an encoder-decoder whose attention is fixed to the matching column.

Answers are emitted as |value| units-first then '-' if negative (or, with ``zero_pad``, as fixed-width
zero-padded digits with '-' in the top column), and turned back into the run's padded layout by ``predict``.
The network still has to learn digit sums, carries, borrows and signs from examples alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import finite, flag_alias, require, validate
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.registry import register_model
from latentworks.training.module import StepOutput, Trainable


@dataclass
class AlignedConfig:
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    embed_dim: int = 16  # size of each character's embedding
    cell: Literal["gru", "lstm"] = "gru"  # recurrent cell
    hidden: int = 128  # hidden units per direction
    enc_layers: Annotated[int, flag_alias("--encoder-layers")] = 2  # stacked bidirectional encoder RNNs
    dropout: float = 0.1
    # Place-value columns in fixed width: a missing digit reads as 0 ('3+6' is seen as '03+06') and answers are
    # emitted zero-padded, with '-' in the top column. Written answers are unchanged (leading zeros dropped).
    zero_pad: bool = False
    # Length generalisation: each training batch is widened by 0..pad_columns extra leading zero columns (a '3+6'
    # seen as '0003+0006'), so the recurrences learn to hold a carry or a comparison over many more columns than
    # two-digit operands have. Needs zero_pad.
    pad_columns: int = 0
    # Multiplication: the long-multiplication layout. Digit pair (a_i, b_j) meets in column i + j; on paper its
    # product writes units there and tens one column up. Here each pair has two learned vectors (a table over
    # digit ids), one summed into column i + j and one into column i + j + 1, so the network still learns every
    # digit product, what to pass up and every carry from examples.
    # The ``columns-multiply`` recipe turns it on.
    digit_pairs: bool = False
    pair_dim: int = 32  # size of each of a digit pair's two learned vectors

    def check(self) -> None:
        require(self.cell in ("gru", "lstm"), "cell", self.cell, "must be gru or lstm")
        require(self.hidden >= 1 and self.embed_dim >= 1, "hidden", self.hidden, "and --embed-dim must be >= 1")
        require(1 <= self.enc_layers <= 3, "enc_layers", self.enc_layers, "must be 1, 2 or 3")
        require(finite(self.dropout) and 0 <= self.dropout < 1, "dropout", self.dropout, "must lie in [0, 1)")
        require(self.pad_columns >= 0, "pad_columns", self.pad_columns, "must be >= 0")
        require(self.pad_columns == 0 or self.zero_pad, "pad_columns", self.pad_columns, "needs --zero-pad")
        require(self.pair_dim >= 1, "pair_dim", self.pair_dim, "must be >= 1")


@register_model("text2text_aligned", family="arithmetic",
                title="column encoder-decoder (text→text)", capabilities=("answer",), step_seconds=0.017,
                scoring_seconds=5.0)
class AlignedTextToText(Trainable, nn.Module):
    """Query ids (B, Lq) -> answer logits (B, La, V) in units-first order (see ``targets``)."""

    Config = AlignedConfig

    def __init__(self, config: AlignedConfig):
        super().__init__()
        validate(config)
        self.config = config
        V, E, H = config.shape.vocab_size, config.embed_dim, config.hidden
        self.layout_ids()
        self.embed = nn.Embedding(V, E)
        self.pairs = nn.Embedding(V * V, 2 * config.pair_dim) if config.digit_pairs else None
        self.step_in = nn.Linear(3 * E + (2 * config.pair_dim if config.digit_pairs else 0), H)
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[config.cell]
        self.encoder = rnn(H, H, config.enc_layers, batch_first=True, bidirectional=True,
                              dropout=config.dropout if config.enc_layers > 1 else 0.0)
        self.prev_embed = nn.Embedding(V + 1, E)  # index V is the start token
        self.decoder = rnn(2 * H + E, 2 * H, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * H, V)

    # ------------------------------------------------------------------ fixed re-layouts
    def layout_ids(self) -> None:
        """The ids the re-layouts use: the pad (space, last), '-' and '0'."""
        self.pad = self.config.shape.vocab_size - 1
        # With no '-' in the charset no answer is negative; -1 matches no id.
        self.minus = self.config.shape.charset.index("-") if "-" in self.config.shape.charset else -1
        self.zero = self.config.shape.charset.index("0")

    def columns(self, x: torch.Tensor) -> torch.Tensor:
        """(B, Lq) query ids -> (B, La, 3) ids of (operator, a_t, b_t), units first, space where absent."""
        B, L = x.shape
        steps = self.config.shape.answer_len
        pos = torch.arange(L, device=x.device).expand(B, L)
        is_digit = x < 10
        is_op = (x >= 10) & (x < self.pad)
        p = is_op.float().argmax(1, keepdim=True)  # operator position
        op = x.gather(1, p)
        t = torch.arange(steps, device=x.device).expand(B, steps)
        a_idx = p - 1 - t
        b_end = torch.where(is_digit & (pos > p), pos, torch.zeros_like(pos)).max(1, keepdim=True).values
        b_idx = b_end - t

        absent = self.zero if self.config.zero_pad else self.pad

        def pick(idx: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
            safe = idx.clamp(0, L - 1)
            ok = (idx >= lo) & is_digit.gather(1, safe)
            return torch.where(ok, x.gather(1, safe), torch.full_like(safe, absent))

        a = pick(a_idx, torch.zeros_like(p))
        b = pick(b_idx, p + 1)
        return torch.stack([op.expand(B, steps), a, b], dim=-1)

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """Answer ids in the run's layout -> units-first ids: digits of |value|, then '-', then spaces."""
        B, L = y.shape
        pos = torch.arange(L, device=y.device).expand(B, L)
        is_digit = y < 10
        last = torch.where(is_digit, pos, torch.full_like(pos, -1)).max(1, keepdim=True).values
        n_digits = is_digit.sum(1, keepdim=True)
        negative = (y == self.minus).any(1, keepdim=True)
        t = torch.arange(L, device=y.device).expand(B, L)
        idx = (last - t).clamp(0, L - 1)
        if self.config.zero_pad:
            # A negative answer's magnitude always fits below the top column (answer_len counts the '-').
            out = torch.where(t < n_digits, y.gather(1, idx), torch.full_like(y, self.zero))
            return torch.where((t == L - 1) & negative, torch.full_like(y, self.minus), out)
        out = torch.where(t < n_digits, y.gather(1, idx), torch.full_like(y, self.pad))
        return torch.where((t == n_digits) & negative, torch.full_like(y, self.minus), out)

    def _unpad(self, canon: torch.Tensor) -> torch.Tensor:
        """Fixed-width units-first ids (``zero_pad``) -> the variable form ``targets`` makes without it."""
        B, L = canon.shape
        t = torch.arange(L, device=canon.device).expand(B, L)
        negative = canon[:, -1:] == self.minus
        nonzero = (canon != self.zero) & ~((t == L - 1) & negative)
        n = torch.where(nonzero, t + 1, torch.ones_like(t)).max(1, keepdim=True).values  # at least one digit
        out = torch.where(t < n, canon, torch.full_like(canon, self.pad))
        return torch.where((t == n) & negative, torch.full_like(canon, self.minus), out)

    def layout_answer(self, canon: torch.Tensor) -> torch.Tensor:
        """Units-first ids -> ids in the run's padded layout (the inverse of ``targets``)."""
        if self.config.zero_pad:
            canon = self._unpad(canon)
        B, L = canon.shape
        t = torch.arange(L, device=canon.device).expand(B, L)
        is_digit = canon < 10
        n = (is_digit.long().cumprod(1)).sum(1, keepdim=True)  # leading digits only
        negative = canon.gather(1, n.clamp(max=L - 1)) == self.minus
        negative &= n < L
        length = n + negative.long()
        # Character j of the written answer (most significant first): '-' then digits n-1 .. 0.
        j = t - (L - length) if self.config.shape.layout == "v21" else t
        digit_pos = (n - 1 - (j - negative.long())).clamp(0, L - 1)
        char = torch.where(negative & (j == 0), torch.full_like(canon, self.minus), canon.gather(1, digit_pos))
        return torch.where((j >= 0) & (j < length), char, torch.full_like(canon, self.pad))

    # ------------------------------------------------------------------ network
    def widen(self, cols: torch.Tensor, canon: torch.Tensor, extra: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero-padded columns and units-first targets with ``extra`` more leading zero columns; a negative
        answer's '-' moves up to the new top column."""
        if extra == 0:
            return cols, canon
        B, L = canon.shape
        zeros = torch.full((B, extra, 3), self.zero, dtype=cols.dtype, device=cols.device)
        zeros[..., 0] = cols[:, :1, 0]  # the operator is in every column
        top = canon[:, L - 1]
        negative = top == self.minus
        wide = torch.full((B, L + extra), self.zero, dtype=canon.dtype, device=canon.device)
        wide[:, :L - 1] = canon[:, :L - 1]
        wide[:, L - 1] = torch.where(negative, torch.full_like(top, self.zero), top)
        wide[:, -1] = torch.where(negative, top, wide[:, -1])
        return torch.cat([cols, zeros], 1), wide

    def pair_columns(self, cols: torch.Tensor) -> torch.Tensor:
        """(B, T, 3) column ids -> (B, T, 2 * pair_dim): column t sums the first vectors of the pairs (a_i, b_j)
        with i + j = t and the second vectors of those with i + j = t - 1."""
        B, T, _ = cols.shape
        a, b = cols[..., 1], cols[..., 2]
        vectors = self.pairs(a[:, :, None] * self.config.shape.vocab_size + b[:, None, :]).reshape(B, T * T, -1)
        i = torch.arange(T, device=cols.device)
        meet = (i[:, None] + i[None, :]).reshape(-1)  # the column where a_i and b_j meet
        here, up = vectors.chunk(2, -1)
        summed = vectors.new_zeros(B, 2 * T, here.shape[-1])
        at_t = summed.index_add(1, meet, here)[:, :T]
        above = summed.index_add(1, meet + 1, up)[:, :T]
        return torch.cat([at_t, above], -1)  # pairs meeting above the top column only ever multiply leading zeros

    def encode(self, x: torch.Tensor, cols: torch.Tensor | None = None) -> torch.Tensor:
        cols = self.columns(x) if cols is None else cols
        steps = self.embed(cols).flatten(2)
        if self.pairs is not None:
            steps = torch.cat([steps, self.pair_columns(cols)], -1)
        memory, _ = self.encoder(self.drop(torch.relu(self.step_in(steps))))
        return self.drop(memory)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, extra: int = 0) -> torch.Tensor:
        """Logits in units-first order; ``y`` (run layout) turns on teacher forcing, ``extra`` leading zero
        columns widen both (training only)."""
        if y is None:
            return self._greedy(self.encode(x))[1]
        return self._teacher_forced(x, *self.widen(self.columns(x), self.targets(y), extra))

    def _teacher_forced(self, x: torch.Tensor, cols: torch.Tensor, canon: torch.Tensor) -> torch.Tensor:
        memory = self.encode(x, cols)
        start = torch.full_like(canon[:, :1], self.config.shape.vocab_size)
        prev = torch.cat([start, canon[:, :-1]], 1)
        out, _ = self.decoder(torch.cat([memory, self.prev_embed(prev)], -1))
        return self.head(self.drop(out))

    def _greedy(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = memory.shape[0]
        prev = torch.full((B,), self.config.shape.vocab_size, dtype=torch.long, device=memory.device)
        state, ids, logits = None, [], []
        for t in range(memory.shape[1]):
            step = torch.cat([memory[:, t:t + 1], self.prev_embed(prev)[:, None]], -1)
            out, state = self.decoder(step, state)
            logit = self.head(out[:, 0])
            prev = logit.argmax(-1)
            ids.append(prev)
            logits.append(logit)
        return torch.stack(ids, 1), torch.stack(logits, 1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Greedy answer ids (B, La) in the run's layout."""
        return self.layout_answer(self._greedy(self.encode(x))[0])

    def loss(self, x: torch.Tensor, y: torch.Tensor, extra: int = 0) -> torch.Tensor:
        """Cross-entropy of the units-first answer characters, teacher-forced."""
        cols, target = self.widen(self.columns(x), self.targets(y), extra)
        logits = self._teacher_forced(x, cols, target)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))

    def training_step(self, batch, ctx) -> StepOutput:
        extra = 0
        if self.config.pad_columns:
            extra = int(torch.randint(self.config.pad_columns + 1, (1,), generator=ctx.noise(torch.device("cpu"))))
        return StepOutput(self.loss(*batch[:2], extra=extra))
