"""The ``best`` text->image recipe: compute the answer, then draw it.

Drawing a digit is easy; getting the arithmetic right is what decides whether a drawn answer reads back
correctly. So the arithmetic goes to the column-aligned encoder-decoder (``aligned.AlignedTextToText``) and
the drawing to a small transposed-conv "pen" that turns each answer character into a 28x28 image.

Training sees the query ids, the answer ids (the text each target image was drawn from) and the target
handwriting, fresh for every batch: the pen learns each character's average shape from many writers. At test
time only the query goes in; the pen draws whatever the encoder-decoder computed, so a wrong digit is drawn as
a wrong digit. The digit reader that scores the drawings is never part of training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import Derived, require, validate
from latentworks.models.aligned import AlignedConfig, AlignedTextToText
from latentworks.models.io import register_model
from latentworks.training.module import Trainable


@dataclass
class ComputeDrawConfig:
    charset: Derived[str] = "0123456789+- "
    query_len: Derived[int] = 5
    answer_len: Derived[int] = 3
    layout: Derived[str] = "v23"
    hidden: int = 128  # hidden units of the column encoder-decoder
    pen_dim: int = 64  # size of each answer character's code for the pen
    pen_channels: int = 32  # channels of the pen's transposed convs
    loss: Literal["bce", "mse"] = "bce"  # the pen's pixel loss

    def check(self) -> None:
        require(min(self.hidden, self.pen_dim, self.pen_channels) >= 1, "hidden", self.hidden,
                "--pen-dim and --pen-channels must be >= 1")
        require(self.loss in ("bce", "mse"), "loss", self.loss, "must be bce or mse")


@register_model("text2img_draw")
class ComputeThenDraw(Trainable, nn.Module):
    Config = ComputeDrawConfig

    def __init__(self, config: ComputeDrawConfig):
        super().__init__()
        validate(config)
        self.config = config
        V = len(config.charset)
        self.compute = AlignedTextToText(AlignedConfig(vocab_size=V, charset=config.charset, hidden=config.hidden,
                                                       query_len=config.query_len, answer_len=config.answer_len,
                                                       layout=config.layout))
        C = config.pen_channels
        self.pen_in = nn.Sequential(nn.Embedding(V, config.pen_dim), nn.Linear(config.pen_dim, C * 2 * 7 * 7),
                                    nn.ReLU())
        self.pen = nn.Sequential(
            nn.ConvTranspose2d(2 * C, C, 4, stride=2, padding=1), nn.BatchNorm2d(C), nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(C, C, 4, stride=2, padding=1), nn.BatchNorm2d(C), nn.ReLU(),  # 14 -> 28
            nn.Conv2d(C, 1, 3, padding=1),
        )

    def draw(self, chars: torch.Tensor) -> torch.Tensor:
        """Answer ids (B, La) -> image logits (B, La, 28, 28)."""
        B, L = chars.shape
        maps = self.pen_in(chars).reshape(B * L, 2 * self.config.pen_channels, 7, 7)
        return self.pen(maps).reshape(B, L, 28, 28)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, y_img: torch.Tensor | None = None):
        """With targets: the training loss (answer + pixels). Without: image logits of the computed answer."""
        if y_img is None:
            return self.draw(self.compute.predict(x))
        logits = self.compute(x, y)
        answer = F.cross_entropy(logits.flatten(0, 1), self.compute.targets(y).flatten())
        drawn = self.draw(y)
        target = y_img.float() / 255.0 if y_img.dtype == torch.uint8 else y_img
        if self.config.loss == "bce":
            pixels = F.binary_cross_entropy_with_logits(drawn, target)
        else:
            pixels = F.mse_loss(torch.sigmoid(drawn), target)
        return answer + pixels

    @torch.no_grad()
    def generate(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], (B, La, 28, 28)."""
        return torch.sigmoid(self(x))

    def training_step(self, batch, ctx) -> torch.Tensor:
        """Batches are (query ids, answer ids, answer handwriting)."""
        return self(*batch)
