"""MNIST-addition from sums alone: a glyph CNN in front of a learned column transducer (the ``mnist-addition`` recipe).

What the model is told (its architectural priors, the README's priors table):

* the strip is two N-digit numbers around a middle glyph (ignored), so column t holds the t-th digit of each,
  **aligned**, read **units first**;
* each glyph is one of ``symbols`` (10) classes; what a class means is learned;
* the **same function at every column**, with a **discrete carry of** ``carry_states`` (2) states; which state
  the units start in is learned (fixed, the carry's two meanings could swap at the top and never recover), and
  the last carry state gives the sum's top digit through a learned map;
* optionally (``symmetric``) that the two digits of a column form an **unordered pair** (commutativity).

What it learns, from pixels and the sum's text only: the glyph CNN (randomly initialised, no digit labels) and a
table of logits ``T[symbol_a, symbol_b, carry_in] -> (sum digit 0..9, carry_out)``. Nothing in it knows what
addition is: which symbol pairs give which digit, and what a carry state means, come from the sums. With one
function per column and a discrete carry, what holds for N-digit numbers holds for any N.

Training is exact: the symbols' distributions and the carry are marginalised column by column (a forward pass,
as in an HMM) and the loss is -log P(the labelled sum's digits), per column. Answering (``decode``): ``map``, the
most probable (sum digits, carries) path with each column's symbols marginalised (Viterbi); ``argmax``, each
glyph's most probable symbol, then the table's most probable (digit, carry) column by column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from latentworks.config import finite, require, validate
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.digit_reader import DigitReader, random_affine
from latentworks.registry import register_model
from latentworks.training.config import TrainConfig
from latentworks.training.module import StepOutput, Trainable
from latentworks.training.optim import build_optimizer

DIGITS = 10  # the sum's digits 0..9: the answer's characters, not a prior about the glyphs


@dataclass
class ColumnTransducerConfig:
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    symbols: int = 10  # glyph classes the CNN reads into (their meaning is learned)
    glyph_channels: tuple[int, ...] = (32, 64)  # conv stages of the glyph CNN (BatchNorm, max-pool between)
    glyph_features: int = 128
    glyph_dropout: float = 0.1
    carry_states: int = 2  # states passed from column to column (a carry: 2)
    symmetric: bool = True  # a column's two digits as an unordered pair (told that '+' commutes)
    table_init: float = 1.0  # std of the table's first logits: a uniform table gives the CNN no gradient at all
    table_lr: float = 1.0  # the table's learning rate as a multiple of --lr
    # Weight of KL(symbol use in the batch || uniform) in the loss: told that the glyph classes occur about equally
    # often. Without it two digits sometimes share a symbol for good (a local optimum: an unused symbol's table
    # rows get no gradient).
    balance: float = 0.0
    augment: bool = False  # training only: each glyph randomly shifted, turned, scaled, sheared (as the reader's)
    decode: Literal["map", "argmax"] = "map"

    def check(self) -> None:
        require(self.symbols >= 2, "symbols", self.symbols, "must be at least 2")
        require(self.carry_states >= 1, "carry_states", self.carry_states, "must be at least 1")
        require(1 <= len(self.glyph_channels) <= 3, "glyph_channels", list(self.glyph_channels),
                "must list one to three conv widths")
        require(self.glyph_features >= 1, "glyph_features", self.glyph_features, "must be >= 1")
        require(finite(self.glyph_dropout) and 0 <= self.glyph_dropout < 1, "glyph_dropout", self.glyph_dropout,
                "must lie in [0, 1)")
        for name in ("table_init", "table_lr", "balance"):
            value = getattr(self, name)
            require(finite(value) and value >= 0, name, value, "must be a finite number >= 0")
        require(self.decode in ("map", "argmax"), "decode", self.decode, "must be map or argmax")
        require(self.shape.layout == "v23", "layout", self.shape.layout, "the transducer writes v23 answers only")
        require(self.shape.charset.startswith("0123456789"), "charset", self.shape.charset,
                "must start with the ten digits")


@register_model("img2text_transducer", family="arithmetic",
                title="glyph CNN + learned column transducer (image→text)", capabilities=("answer", "handwriting"),
                step_seconds=0.25, scoring_seconds=15.0)
class ColumnTransducer(Trainable, nn.Module):
    """Strips (B, 2N + 1, 28, 28), uint8 or float in [0, 1]: N digits, one middle glyph, N digits, each number
    most significant first -> the sum's answer ids (B, answer_len)."""

    Config = ColumnTransducerConfig

    def __init__(self, config: ColumnTransducerConfig):
        super().__init__()
        validate(config)
        self.config = config
        S, C = config.symbols, config.carry_states
        self.glyphs = DigitReader(DigitReader.Config(channels=config.glyph_channels, feature_dim=config.glyph_features,
                                                     dropout=config.glyph_dropout, num_classes=S))
        self.table = nn.Parameter(torch.randn(S, S, C, DIGITS * C) * config.table_init)
        self.top = nn.Parameter(torch.randn(C, DIGITS) * config.table_init)  # last carry -> the top digit
        self.start = nn.Parameter(torch.zeros(C))  # the carry state below the units
        self.pad = config.shape.charset.index(" ")

    # ---------------------------------------------------------------------------- reading
    def symbol_logits(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(..., 28, 28) glyphs -> (..., symbols) logits; with ``augment``, distorted at random while training."""
        lead = images.shape[:-2]
        x = images.reshape(-1, 1, 28, 28)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if self.training and self.config.augment:
            x = random_affine(x, torch.default_generator if generator is None else generator)
        return self.glyphs(x).reshape(*lead, -1)

    @torch.no_grad()
    def symbol_of(self, digits: torch.Tensor) -> torch.Tensor:
        """Single glyphs (N, 28, 28) -> their distributions over the symbol classes (N, symbols)."""
        return self.symbol_logits(digits).softmax(-1)

    def operands(self, images: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """A strip -> each column's symbol distributions of the two numbers, (B, N, symbols) each, units first."""
        n = (images.shape[1] - 1) // 2
        probs = self.symbol_logits(torch.cat([images[:, :n], images[:, n + 1:2 * n + 1]], 1), generator).softmax(-1)
        return probs[:, :n].flip(1), probs[:, n:].flip(1)

    # ---------------------------------------------------------------------------- the column table
    def table_probs(self) -> torch.Tensor:
        """(S, S, C, 10, C): P(sum digit, carry out | symbol a, symbol b, carry in)."""
        t = (self.table + self.table.transpose(0, 1)) / 2 if self.config.symmetric else self.table
        S, C = self.config.symbols, self.config.carry_states
        return t.softmax(-1).view(S, S, C, DIGITS, C)

    def columns(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, N, S) x2 -> (B, N, C, 10, C): each column's P(digit, carry out | carry in), symbols marginalised."""
        B, n, S = a.shape
        pairs = (a[..., :, None] * b[..., None, :]).reshape(B, n, S * S)
        table = self.table_probs()
        return (pairs @ table.reshape(S * S, -1)).view(B, n, *table.shape[2:])

    # ---------------------------------------------------------------------------- the sum
    @staticmethod
    def sum_digits(y: torch.Tensor, n: int) -> torch.Tensor:
        """v23 answer ids (B, La) (digits, then blanks) -> the sum's n + 1 digits (B, n + 1), units first."""
        length = (y < DIGITS).sum(1, keepdim=True)
        at = length - 1 - torch.arange(n + 1, device=y.device)[None]
        return torch.where(at >= 0, y.gather(1, at.clamp(min=0)), torch.zeros_like(at))

    def answer_ids(self, digits: torch.Tensor) -> torch.Tensor:
        """The sum's digits (B, n + 1), units first -> v23 answer ids (B, answer_len): no leading zeros."""
        B, width = digits.shape
        first = digits.flip(1)  # most significant first
        start = (first[:, :-1] != 0).long().argmax(1, keepdim=True)  # the first non-zero digit...
        start = torch.where((first[:, :-1] != 0).any(1, keepdim=True), start, width - 1)  # ...or the units
        length = width - start
        j = torch.arange(self.config.shape.answer_len, device=digits.device)[None]
        picked = first.gather(1, (start + j).clamp(max=width - 1))
        return torch.where(j < length, picked, torch.full_like(picked, self.pad))

    def log_likelihood(self, images: torch.Tensor, y: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """log P(the sum y | the strip) (B,)."""
        return self.sum_log_likelihood(*self.operands(images, generator), y)

    def sum_log_likelihood(self, a: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log P(the sum y | the numbers' symbol distributions a, b) (B,): carries marginalised by a scaled
        forward pass over the columns."""
        B, n, _ = a.shape
        C = self.config.carry_states
        digits = self.sum_digits(y, n)
        step = self.columns(a, b).gather(3, digits[:, :n, None, None, None].expand(B, n, C, 1, C))[:, :, :, 0]
        alpha = self.start.softmax(-1).expand(B, C)
        log_z = a.new_zeros(B)
        for t in range(n):  # scaled so that 100 columns of small probabilities do not underflow
            alpha = torch.bmm(alpha[:, None], step[:, t])[:, 0]
            scale = alpha.sum(-1, keepdim=True).clamp_min(1e-30)
            log_z, alpha = log_z + scale[:, 0].log(), alpha / scale
        top = self.top.log_softmax(-1)[:, digits[:, n]].T  # (B, C): log P(the top digit | last carry)
        return log_z + (alpha.clamp_min(1e-30).log() + top).logsumexp(-1)

    @torch.no_grad()
    def decode_digits(self, images: torch.Tensor) -> torch.Tensor:
        """A strip -> the sum's digits (B, n + 1), units first (``config.decode`` says how)."""
        a, b = self.operands(images)
        B, n, S = a.shape
        C = self.config.carry_states
        top = self.top.log_softmax(-1)
        rows = torch.arange(B, device=a.device)
        if self.config.decode == "argmax":
            table, sa, sb = self.table_probs(), a.argmax(-1), b.argmax(-1)
            carry, out = self.start.argmax().expand(B), []
            for t in range(n):
                pick = table[sa[:, t], sb[:, t], carry].reshape(B, -1).argmax(-1)
                out.append(pick // C)
                carry = pick % C
            return torch.stack([*out, top[carry].argmax(-1)], 1)
        log_m = self.columns(a, b).clamp_min(1e-30).log()  # (B, n, C, 10, C)
        delta = self.start.log_softmax(-1).expand(B, C)
        back = []
        for t in range(n):  # Viterbi over (digit, carry) paths
            best, arg = (delta[:, :, None, None] + log_m[:, t]).reshape(B, C * DIGITS, C).max(1)
            back.append(arg)
            delta = best
        last = (delta[:, :, None] + top[None]).reshape(B, -1).argmax(-1)
        carry, digits = last // DIGITS, [last % DIGITS]
        for t in reversed(range(n)):
            pair = back[t][rows, carry]
            carry = pair // DIGITS
            digits.append(pair % DIGITS)
        return torch.stack(digits[::-1], 1)

    # ---------------------------------------------------------------------------- the model interface
    def forward(self, images: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The answer ids of the most probable sum (B, answer_len)."""
        return self.answer_ids(self.decode_digits(images))

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.answer_ids(self.decode_digits(images))

    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        groups = [{"params": list(self.glyphs.parameters()), "lr": train.lr},
                  {"params": [self.table, self.top, self.start], "lr": train.lr * self.config.table_lr}]
        return {"main": build_optimizer(groups, train)}

    def training_step(self, batch, ctx) -> StepOutput:
        images, y = batch[:2]
        a, b = self.operands(images, ctx.noise(torch.device("cpu")))
        nll = -(self.sum_log_likelihood(a, b, y) / (a.shape[1] + 1)).mean()
        use = torch.cat([a, b], 1).mean((0, 1))  # how often each symbol is read in this batch
        spread = (use * use.clamp_min(1e-12).log()).sum() + math.log(self.config.symbols)  # KL(use || uniform)
        return StepOutput(nll + self.config.balance * spread, {"nll": nll.item(), "spread": spread.item()})
