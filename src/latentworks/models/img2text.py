"""Image -> text: a per-step image encoder turns each handwritten character into a feature vector, and the
shared sequence core (``seq2seq.Seq2SeqCore``) reads those vectors and writes the answer characters."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from latentworks.models.image_encoders import build_image_encoder
from latentworks.models.io import register_model
from latentworks.models.seq2seq import Seq2SeqCore, Seq2SeqCoreConfig


@dataclass
class ImageToTextConfig(Seq2SeqCoreConfig):
    vocab_size: int = 13
    query_len: int = 5
    answer_len: int = 3
    encoder: str = "cnn"  # cnn (per-step CNN) | convlstm | flatten (seed 000's flattened-pixels LSTM)
    feature_dim: int = 256
    encoder_dropout: float = 0.0


@register_model("img2text")
class ImageToText(nn.Module):
    """Query images (B, Lq, 28, 28), uint8 or float in [0, 1] -> answer logits (B, La, V)."""

    Config = ImageToTextConfig

    def __init__(self, config: ImageToTextConfig):
        super().__init__()
        self.config = config
        self.encoder = build_image_encoder(config.encoder, config.feature_dim, config.encoder_dropout)
        core_cfg = Seq2SeqCoreConfig(**{f.name: getattr(config, f.name) for f in fields(Seq2SeqCoreConfig)})
        self.core = Seq2SeqCore(core_cfg, self.encoder.out_dim, config.vocab_size, config.answer_len)

    def steps(self, images: torch.Tensor) -> torch.Tensor:
        # Images travel as uint8 to keep datasets small; scale here, on the device.
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return self.encoder(x)

    def forward(self, images: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.core(self.steps(images), y)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.core.predict(self.steps(images))


def img2text_preset(name: str, vocab_size: int = 13, query_len: int = 5, answer_len: int = 3,
                    **overrides) -> tuple[ImageToTextConfig, dict]:
    """notebook: per-step CNN (32, 64) -> LSTM 256 -> repeat -> LSTM 256, Adam 1e-3, bs 32, 20 epochs, one fixed
    drawing of the training handwriting (as the course). Variants: --encoder convlstm | flatten, --cell, --hidden."""
    sizes = dict(vocab_size=vocab_size, query_len=query_len, answer_len=answer_len)
    if name == "notebook":
        # Keras initialisers, as the course's model had: with torch's defaults the model sat on a loss plateau
        # (per-char 40 %) for all 20 epochs at a 50 % split.
        cfg = ImageToTextConfig(cell="lstm", hidden=256, decoder="repeat", encoder="cnn", feature_dim=256,
                                keras_init=True, **sizes)
        train = dict(epochs=20, batch_size=32, lr=1e-3, optimizer="adam", schedule="constant",
                     fresh_handwriting=False)
    elif name == "best":
        raise ValueError("the img2text best preset is ReadThenCompute; build it with read_compute_preset")
    else:
        raise ValueError(f"unknown img2text preset {name!r}; choose notebook or best")
    return replace(cfg, **overrides), train


# ---------------------------------------------------------------------------- read, then compute
@dataclass
class ReadComputeConfig:
    charset: str = "0123456789+- "
    query_len: int = 5
    answer_len: int = 3
    layout: str = "v23"
    glyph_channels: tuple[int, ...] = (16, 32, 64)
    glyph_features: int = 128
    hidden: int = 128
    reading_weight: float = 1.0  # weight of the per-glyph reading loss beside the answer loss


@register_model("img2text_read")
class ReadThenCompute(nn.Module):
    """The ``best`` image->text recipe: a glyph CNN reads each image into a character, and the column-aligned
    encoder-decoder (``aligned.AlignedTextToText``) computes the answer from what was read.

    Both parts train together on the img2text training set: the CNN against the query's characters (the text
    each training strip was drawn from), the encoder-decoder against the answer. At test time only pixels go in:
    the CNN's argmax characters feed the encoder-decoder, so a misread glyph costs the whole answer, as it should.
    """

    Config = ReadComputeConfig

    def __init__(self, config: ReadComputeConfig):
        super().__init__()
        from latentworks.models.aligned import AlignedConfig, AlignedTextToText
        from latentworks.models.digit_reader import DigitReader

        self.config = config
        V = len(config.charset)
        self.reader = DigitReader(DigitReader.Config(channels=config.glyph_channels, feature_dim=config.glyph_features,
                                                     num_classes=V))
        self.compute = AlignedTextToText(AlignedConfig(vocab_size=V, charset=config.charset, hidden=config.hidden,
                                                       query_len=config.query_len, answer_len=config.answer_len,
                                                       layout=config.layout))

    def read(self, images: torch.Tensor) -> torch.Tensor:
        """(B, L, 28, 28) -> per-glyph character logits (B, L, V)."""
        B, L = images.shape[:2]
        return self.reader(images.reshape(B * L, 28, 28)).reshape(B, L, -1)

    loss_in_forward = True  # the pipeline passes (images, y, x_ids) and gets the training loss back

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
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.compute.predict(self.read(images).argmax(-1))


def read_compute_preset(charset: str, query_len: int, answer_len: int, layout: str = "v23",
                        **overrides) -> tuple[ReadComputeConfig, dict]:
    """Fresh MNIST-train handwriting for every batch, so the glyph CNN never memorises one drawing."""
    cfg = ReadComputeConfig(charset=charset, query_len=query_len, answer_len=answer_len, layout=layout)
    train = dict(epochs=20, batch_size=64, lr=3e-3, optimizer="adamw", weight_decay=1e-2, schedule="onecycle",
                 grad_clip=1.0, fresh_handwriting=True)
    return replace(cfg, **overrides), train
