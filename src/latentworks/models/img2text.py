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
    drawing of the training handwriting (as the course). best: the text->text best core on a stronger per-step
    CNN, with fresh handwriting drawn for every batch so the encoder never memorises one drawing."""
    sizes = dict(vocab_size=vocab_size, query_len=query_len, answer_len=answer_len)
    if name == "notebook":
        cfg = ImageToTextConfig(cell="lstm", hidden=256, decoder="repeat", encoder="cnn", feature_dim=256, **sizes)
        train = dict(epochs=20, batch_size=32, lr=1e-3, optimizer="adam", schedule="constant",
                     fresh_handwriting=False)
    elif name == "best":
        cfg = ImageToTextConfig(cell="lstm", hidden=128, enc_layers=2, bidirectional=True, decoder="attention",
                                dropout=0.1, encoder="cnn", feature_dim=128, encoder_dropout=0.1, **sizes)
        train = dict(epochs=40, batch_size=64, lr=2e-3, optimizer="adamw", weight_decay=1e-2, schedule="cosine",
                     warmup_steps=100, grad_clip=1.0, fresh_handwriting=True)
    else:
        raise ValueError(f"unknown img2text preset {name!r}; choose notebook or best")
    return replace(cfg, **overrides), train
