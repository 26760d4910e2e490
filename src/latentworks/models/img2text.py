"""Image -> text: a per-step image encoder turns each handwritten character into a feature vector, and the
shared sequence core (``seq2seq.Seq2SeqCore``) reads those vectors and writes the answer characters."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

import torch
from torch import nn

from latentworks.config import finite, require, validate
from latentworks.models.aligned import AlignedConfig, AlignedTextToText
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.digit_reader import DigitReader
from latentworks.models.image_encoders import build_image_encoder
from latentworks.models.seq2seq import Seq2SeqCore, Seq2SeqCoreConfig, answer_loss
from latentworks.registry import register_model
from latentworks.training.module import StepOutput, Trainable


@dataclass
class ImageToTextConfig(Seq2SeqCoreConfig):
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    encoder: Literal["cnn", "convlstm", "flatten"] = "cnn"  # per-step image encoder (flatten: seed 000's)
    feature_dim: int = 256  # image features per query character
    encoder_dropout: float = 0.0

    def check(self) -> None:
        super().check()
        require(self.feature_dim >= 1, "feature_dim", self.feature_dim, "must be at least 1")
        require(finite(self.encoder_dropout) and 0 <= self.encoder_dropout < 1, "encoder_dropout",
                self.encoder_dropout, "must lie in [0, 1)")


@register_model("img2text", family="arithmetic", title="encoder-decoder over glyph features (image→text)",
                capabilities=("answer", "handwriting"), step_seconds=0.25, scoring_seconds=15.0)
class ImageToText(Trainable, nn.Module):
    """Query images (B, Lq, 28, 28), uint8 or float in [0, 1] -> answer logits (B, La, V)."""

    Config = ImageToTextConfig

    def __init__(self, config: ImageToTextConfig):
        super().__init__()
        self.config = config
        self.encoder = build_image_encoder(config.encoder, config.feature_dim, config.encoder_dropout)
        core_cfg = Seq2SeqCoreConfig(**{f.name: getattr(config, f.name) for f in fields(Seq2SeqCoreConfig)})
        self.core = Seq2SeqCore(core_cfg, self.encoder.out_dim, config.shape.vocab_size, config.shape.answer_len)

    def steps(self, images: torch.Tensor) -> torch.Tensor:
        # Images travel as uint8 to keep datasets small; scale here, on the device.
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return self.encoder(x)

    def forward(self, images: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.core(self.steps(images), y)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.core.predict(self.steps(images))

    def training_step(self, batch, ctx) -> StepOutput:
        images, y = batch[:2]
        return StepOutput(answer_loss(self(images, y), y, self.config.label_smoothing))


# ---------------------------------------------------------------------------- read, then compute
@dataclass
class ReadComputeConfig:
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    glyph_channels: tuple[int, ...] = (16, 32, 64)  # conv stages of the glyph reader
    glyph_features: int = 128  # the glyph reader's feature size
    hidden: int = 128  # hidden units of the column encoder-decoder
    reading_weight: float = 1.0  # weight of the per-glyph reading loss beside the answer loss

    def check(self) -> None:
        require(1 <= len(self.glyph_channels) <= 3, "glyph_channels", list(self.glyph_channels),
                "must list one to three conv widths")
        require(self.hidden >= 1 and self.glyph_features >= 1, "hidden", self.hidden,
                "and --glyph-features must be >= 1")
        require(finite(self.reading_weight) and self.reading_weight >= 0, "reading_weight", self.reading_weight,
                "must be a finite number >= 0")


@register_model("img2text_read", family="arithmetic", title="glyph reader + column encoder-decoder (image→text)",
                capabilities=("answer", "handwriting"), step_seconds=0.11, scoring_seconds=15.0)
class ReadThenCompute(Trainable, nn.Module):
    """The ``glyph-columns`` image->text recipe: a glyph CNN reads each image into a character, and the column-aligned
    encoder-decoder (``aligned.AlignedTextToText``) computes the answer from what was read.

    Both parts train together on the img2text training set: the CNN against the query's characters (the text
    each training strip was drawn from), the encoder-decoder against the answer. At test time only pixels go in:
    the CNN's argmax characters feed the encoder-decoder, so a misread glyph costs the whole answer, as it should.
    """

    Config = ReadComputeConfig

    def __init__(self, config: ReadComputeConfig):
        super().__init__()
        validate(config)
        self.config = config
        V = len(config.shape.charset)
        self.reader = DigitReader(DigitReader.Config(channels=config.glyph_channels, feature_dim=config.glyph_features,
                                                     num_classes=V))
        self.compute = AlignedTextToText(AlignedConfig(shape=replace(config.shape, vocab_size=V), hidden=config.hidden))

    def read(self, images: torch.Tensor) -> torch.Tensor:
        """(B, L, 28, 28) -> per-glyph character logits (B, L, V)."""
        B, L = images.shape[:2]
        return self.reader(images.reshape(B * L, 28, 28)).reshape(B, L, -1)

    def forward(self, images: torch.Tensor, y: torch.Tensor | None = None,
                x_ids: torch.Tensor | None = None) -> torch.Tensor:
        """With the query ids ``x_ids``: the training loss (answer + reading). Without: answer logits."""
        if x_ids is None:
            return self.compute(self.read(images).argmax(-1), y)
        reading = nn.functional.cross_entropy(self.read(images).flatten(0, 1), x_ids.flatten())
        logits = self.compute(x_ids, y)
        answer = nn.functional.cross_entropy(logits.flatten(0, 1), self.compute.targets(y).flatten())
        return answer + self.config.reading_weight * reading

    @torch.no_grad()
    def predict(self, images: torch.Tensor, glyphs_at_once: int = 1024) -> torch.Tensor:
        # The glyphs read a chunk at a time: a scoring batch of 1,024 strips would hold the CNN's activations
        # for 5,000 glyphs at once (0.8 GB); each glyph's reading is the same either way.
        B, L = images.shape[:2]
        flat = images.reshape(B * L, 28, 28)
        read = torch.cat([self.reader(flat[i:i + glyphs_at_once]).argmax(-1)
                          for i in range(0, len(flat), glyphs_at_once)])
        return self.compute.predict(read.reshape(B, L))

    def training_step(self, batch, ctx) -> StepOutput:
        """Batches are (images, answer ids, query ids): the query text each strip was drawn from."""
        images, y, x_ids = batch
        return StepOutput(self(images, y, x_ids))
