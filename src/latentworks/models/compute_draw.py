"""The ``pen`` text->image recipe: compute the answer, then draw it.

Drawing a digit is easy; getting the arithmetic right is what decides whether a drawn answer reads back
correctly. So the arithmetic goes to the column-aligned encoder-decoder (``aligned.AlignedTextToText``) and
the drawing to a small transposed-conv "pen" that turns each answer character into a 28x28 image.

Training sees the query ids, the answer ids (the text each target image was drawn from) and the target
handwriting, fresh for every batch. At test time only the query goes in; the pen draws whatever the
encoder-decoder computed, so a wrong digit is drawn as a wrong digit. The digit reader that scores the drawings
is never part of training.

With ``style_dim`` > 0 the pen is a conditional VAE over single glyphs: a small encoder infers a style code
from each target glyph during training, and the pen draws from (character, style). At test time the style is
drawn from the prior, so two drawings of ``46`` differ the way two writers' do. With ``style_dim`` 0 the pen has
the character alone and learns its average shape (the recipe before styles existed, kept so old runs load).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import finite, require, validate
from latentworks.models.aligned import AlignedConfig, AlignedTextToText
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.builders import channels_last
from latentworks.registry import register_model
from latentworks.training.module import StepOutput, Trainable


@dataclass
class ComputeDrawConfig:
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    hidden: int = 128  # hidden units of the column encoder-decoder
    pen_dim: int = 64  # size of each answer character's code for the pen
    pen_channels: int = 32  # channels of the pen's transposed convs
    loss: Literal["bce", "mse"] = "bce"  # the pen's pixel loss
    style_dim: int = 0  # > 0: a per-glyph handwriting style code (conditional-VAE pen); 0: one shape per character
    style_temperature: float = 1.0  # scale of the prior style codes drawn at test time (< 1: tidier writing)

    def check(self) -> None:
        require(min(self.hidden, self.pen_dim, self.pen_channels) >= 1, "hidden", self.hidden,
                "--pen-dim and --pen-channels must be >= 1")
        require(self.loss in ("bce", "mse"), "loss", self.loss, "must be bce or mse")
        require(self.style_dim >= 0, "style_dim", self.style_dim, "must be >= 0 (0: no style code)")
        require(finite(self.style_temperature) and self.style_temperature >= 0, "style_temperature",
                self.style_temperature, "must be >= 0")


@register_model("text2img_draw", family="arithmetic",
                title="column encoder-decoder + style pen (text→image)", capabilities=("answer", "draw"),
                step_seconds=0.25, scoring_seconds=25.0)
class ComputeThenDraw(Trainable, nn.Module):
    Config = ComputeDrawConfig

    def __init__(self, config: ComputeDrawConfig):
        super().__init__()
        validate(config)
        self.config = config
        V = len(config.shape.charset)
        self.compute = AlignedTextToText(AlignedConfig(shape=replace(config.shape, vocab_size=V), hidden=config.hidden))
        C, S = config.pen_channels, config.style_dim
        # One Sequential (embedding, dense, ReLU) so that runs saved before styles existed load unchanged.
        self.pen_in = nn.Sequential(nn.Embedding(V, config.pen_dim), nn.Linear(config.pen_dim + S, C * 2 * 7 * 7),
                                    nn.ReLU())
        self.pen = nn.Sequential(
            nn.ConvTranspose2d(2 * C, C, 4, stride=2, padding=1), nn.BatchNorm2d(C), nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(C, C, 4, stride=2, padding=1), nn.BatchNorm2d(C), nn.ReLU(),  # 14 -> 28
            nn.Conv2d(C, 1, 3, padding=1),
        )
        # The encoder also sees which character the glyph is, so the style code need only say how it was
        # written: every character's styles then share one prior, and a prior sample fits any character.
        self.style_encoder = nn.Sequential(
            nn.Conv2d(1, C, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 28 -> 14
            nn.Conv2d(C, 2 * C, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # 14 -> 7
            nn.Flatten(),
        ) if S else None
        self.style_head = nn.Linear(2 * C * 7 * 7 + config.pen_dim, 2 * S) if S else None  # mean, log-variance

    def draw(self, chars: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        """Answer ids (B, La) and style codes (B, La, style_dim) -> image logits (B, La, 28, 28)."""
        B, L = chars.shape
        code = self.pen_in[0](chars)
        if self.style_encoder is not None:
            if style is None:
                raise ValueError("this pen draws with a style code: pass style (B, La, style_dim)")
            code = torch.cat([code, style], dim=-1)
        maps = self.pen_in[2](self.pen_in[1](code)).reshape(B * L, 2 * self.config.pen_channels, 7, 7)
        return self.pen(channels_last(maps)).reshape(B, L, 28, 28)

    def sample_style(self, chars: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Prior style codes (B, La, style_dim) scaled by ``style_temperature``; None for a pen without style."""
        if self.style_encoder is None:
            return None
        noise = torch.randn(*chars.shape, self.config.style_dim, generator=generator)
        return (noise * self.config.style_temperature).to(chars.device)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, y_img: torch.Tensor | None = None,
                generator: torch.Generator | None = None):
        """With targets: the training loss (answer + pixels). Without: image logits of the computed answer."""
        if y_img is None:
            chars = self.compute.predict(x)
            return self.draw(chars, self.sample_style(chars, generator))
        logits = self.compute(x, y)
        answer = F.cross_entropy(logits.flatten(0, 1), self.compute.targets(y).flatten())
        target = y_img.float() / 255.0 if y_img.dtype == torch.uint8 else y_img
        return answer + self.pen_loss(y, target)

    def pen_loss(self, chars: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-pixel loss of drawing ``chars`` as ``target`` (B, La, 28, 28) in [0, 1]; with a style code, the
        negative ELBO per pixel (the style's KL divergence spread over the glyph's 784 pixels)."""
        style, kl = None, target.new_zeros(())
        if self.style_encoder is not None:
            seen = self.style_encoder(channels_last(target.flatten(0, 1).unsqueeze(1)))
            which = self.pen_in[0](chars).flatten(0, 1)
            mean, log_var = self.style_head(torch.cat([seen, which], dim=-1)).chunk(2, dim=-1)
            style = (mean + torch.randn_like(mean) * (0.5 * log_var).exp()).view(*chars.shape, -1)
            kl = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum(-1).mean() / (28 * 28)
        drawn = self.draw(chars, style)
        if self.config.loss == "bce":
            return F.binary_cross_entropy_with_logits(drawn, target) + kl
        return F.mse_loss(torch.sigmoid(drawn), target) + kl

    @torch.no_grad()
    def generate(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images in [0, 1], (B, La, 28, 28); the style codes come from ``generator`` (seed it to repeat them)."""
        return torch.sigmoid(self(x, generator=generator))

    def training_step(self, batch, ctx) -> StepOutput:
        """Batches are (query ids, answer ids, answer handwriting)."""
        return StepOutput(self(*batch))
