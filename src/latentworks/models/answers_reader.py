"""Image -> text from answers alone: the model must discover what each handwritten glyph means.

The ``glyph-columns`` image->text recipe is told, for every training strip, which characters it was drawn from. This
one is not (``--supervision answers``): it sees the strip's pixels and the answer string, nothing else, the
setting of the MNIST-addition benchmark of neuro-symbolic learning (there: two 2-digit numbers, only the sum).

1. **Glyph CNN → symbols.** A randomly initialised CNN reads every glyph of the strip into a distribution over
   ``symbols`` classes (a softmax). Nothing ties class k to any character; the classes mean whatever the
   training signal makes them mean. The softmax is a bottleneck: the rest of the network sees near-symbols,
   as a text model sees characters, so what it learns about arithmetic does not depend on one person's hand.
2. **Seq2seq core.** The ``attention`` text->text recipe's encoder-decoder reads those symbols (through a
   learned embedding) and writes the answer, units first.

Everything trains end to end on the answer's cross-entropy. How well the glyph CNN learned to read is measured
afterwards (``metrics.arithmetic.glyph_reading``) with labelled MNIST test digits that never enter training:
each symbol class is named after the digit it most often reads on one half, and scored on the other half.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch
from torch import nn

from latentworks.config import finite, require, validate
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.digit_reader import DigitReader
from latentworks.models.seq2seq import Seq2SeqCore, Seq2SeqCoreConfig, answer_loss
from latentworks.registry import register_model
from latentworks.training.module import StepOutput, Trainable


@dataclass
class AnswersReaderConfig(Seq2SeqCoreConfig):
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    symbols: int = 16  # glyph classes the CNN may invent (the query alphabet has 13: digits, + - and blank)
    glyph_channels: tuple[int, ...] = (16, 32, 64)  # conv stages of the glyph CNN
    glyph_features: int = 128
    glyph_dropout: float = 0.1
    embed_dim: int = 32  # each symbol class's learned embedding, as the attention recipe's characters

    def check(self) -> None:
        super().check()
        require(self.symbols >= 2, "symbols", self.symbols, "must be at least 2")
        require(1 <= len(self.glyph_channels) <= 3, "glyph_channels", list(self.glyph_channels),
                "must list one to three conv widths")
        require(self.glyph_features >= 1 and self.embed_dim >= 1, "glyph_features", self.glyph_features,
                "and --embed-dim must be >= 1")
        require(finite(self.glyph_dropout) and 0 <= self.glyph_dropout < 1, "glyph_dropout", self.glyph_dropout,
                "must lie in [0, 1)")


@register_model("img2text_answers", family="arithmetic", title="glyph reader learnt from answers (image→text)",
                capabilities=("answer", "handwriting"), step_seconds=0.25, scoring_seconds=15.0)
class AnswersReader(Trainable, nn.Module):
    """Query images (B, Lq, 28, 28), uint8 or float in [0, 1] -> answer logits (B, La, V)."""

    Config = AnswersReaderConfig

    def __init__(self, config: AnswersReaderConfig):
        super().__init__()
        validate(config)
        self.config = config
        self.glyphs = DigitReader(DigitReader.Config(channels=config.glyph_channels, feature_dim=config.glyph_features,
                                                     dropout=config.glyph_dropout, num_classes=config.symbols))
        self.embed = nn.Linear(config.symbols, config.embed_dim, bias=False)  # a lookup table for soft symbols
        core_cfg = Seq2SeqCoreConfig(**{f.name: getattr(config, f.name) for f in fields(Seq2SeqCoreConfig)})
        self.core = Seq2SeqCore(core_cfg, config.embed_dim, config.shape.vocab_size, config.shape.answer_len)

    def symbols(self, images: torch.Tensor) -> torch.Tensor:
        """(B, L, 28, 28) -> each glyph's distribution over the symbol classes (B, L, symbols). (Not ``read``:
        that name promises characters, and these classes have no names.)"""
        B, L = images.shape[:2]
        return self.glyphs(images.reshape(B * L, *images.shape[2:])).reshape(B, L, -1).softmax(-1)

    def forward(self, images: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.core(self.embed(self.symbols(images)), y)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.core.predict(self.embed(self.symbols(images)))

    @torch.no_grad()
    def symbol_of(self, digits: torch.Tensor) -> torch.Tensor:
        """Single glyphs (N, 28, 28) -> their distributions over the symbol classes (N, symbols)."""
        return self.glyphs(digits).softmax(-1)

    def training_step(self, batch, ctx) -> StepOutput:
        images, y = batch[:2]  # a third element (the query text) may be there; it is never looked at
        return StepOutput(answer_loss(self(images, y), y, self.config.label_smoothing))
