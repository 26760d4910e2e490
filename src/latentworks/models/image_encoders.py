"""Per-step image encoders: an image sequence (B, L, 28, 28) in [0, 1] → per-step features (B, L, F).

They feed the shared seq2seq core (image-to-text), which only needs ``module(images)`` and ``module.out_dim``.

- ``PerStepCNN``: one small CNN applied to every step independently (Keras ``TimeDistributed``), by folding
  the L steps into the batch.
- ``ConvLSTMEncoder``: a conv stem, then a ConvLSTM cell run across the L steps, so each step's features
  also see the steps before it; per-step features are a linear map of the (pooled) hidden map.
- ``FlattenedPixels``: each image flattened to 784 numbers (the simplest variant), optionally projected.

All accept (B, L, 28, 28) or (B, L, 1, 28, 28); uint8 input (0–255) is scaled to [0, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from latentworks.errors import LatentworksError

__all__ = [
    "ENCODER_KINDS",
    "ConvLSTMCell",
    "ConvLSTMEncoder",
    "FlattenedPixels",
    "PerStepCNN",
    "build_image_encoder",
]

ENCODER_KINDS = ("cnn", "convlstm", "flatten")


def _as_sequence(images: torch.Tensor) -> torch.Tensor:
    """(B, L, 28, 28) or (B, L, 1, 28, 28), float or uint8 → float (B, L, 1, H, W)."""
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    images = images.float()
    if images.dim() == 4:
        images = images.unsqueeze(2)
    if images.dim() != 5 or images.shape[2] != 1:
        raise ValueError(f"expected images (B, L, 28, 28) or (B, L, 1, 28, 28), got {tuple(images.shape)}")
    return images


class PerStepCNN(nn.Module):
    """Per entry of ``channels``: conv3×3-BN-ReLU-maxpool2; then flatten → linear → ReLU → dropout."""

    def __init__(self, feature_dim: int = 256, channels: tuple[int, ...] = (32, 64), dropout: float = 0.0,
                 image_size: int = 28):
        super().__init__()
        layers: list[nn.Module] = []
        c_in, size = 1, image_size
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in, size = c_out, size // 2
        self.conv = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(c_in * size * size, feature_dim), nn.ReLU(),
                                     nn.Dropout(dropout))
        self.out_dim = feature_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = _as_sequence(images)
        b, steps = x.shape[:2]
        folded = x.reshape(b * steps, *x.shape[2:])  # TimeDistributed: every step is an independent image
        return self.project(self.conv(folded)).reshape(b, steps, self.out_dim)


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: a single conv over concat(input, h) gives the i, f, o, g gate maps."""

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.gates = nn.Conv2d(in_channels + hidden_channels, 4 * hidden_channels, kernel_size,
                               padding=kernel_size // 2)
        with torch.no_grad():  # forget-gate bias 1: remember by default early in training
            self.gates.bias.zero_()
            self.gates.bias[hidden_channels:2 * hidden_channels].fill_(1.0)

    def init_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (x.shape[0], self.hidden_channels, *x.shape[-2:])
        return x.new_zeros(shape), x.new_zeros(shape)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class ConvLSTMEncoder(nn.Module):
    """Conv stem (28→14) → ConvLSTM over the L steps (14×14) → per step: maxpool (→7×7), flatten, linear."""

    def __init__(self, feature_dim: int = 256, stem_channels: int = 16, hidden_channels: int = 32,
                 kernel_size: int = 3, dropout: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, stem_channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(stem_channels), nn.ReLU(), nn.MaxPool2d(2))
        self.cell = ConvLSTMCell(stem_channels, hidden_channels, kernel_size)
        self.project = nn.Sequential(
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(hidden_channels * 7 * 7, feature_dim), nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.out_dim = feature_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = _as_sequence(images)
        b, steps = x.shape[:2]
        stems = self.stem(x.reshape(b * steps, *x.shape[2:]))  # the stem has no recurrence: fold steps
        stems = stems.reshape(b, steps, *stems.shape[1:])
        state = self.cell.init_state(stems[:, 0])
        hidden = []
        for t in range(steps):
            h, state = self.cell(stems[:, t], state)
            hidden.append(h)
        hs = torch.stack(hidden, dim=1)  # (B, L, C, 14, 14)
        return self.project(hs.reshape(b * steps, *hs.shape[2:])).reshape(b, steps, self.out_dim)


class FlattenedPixels(nn.Module):
    """Each image → its 784 pixels; with ``feature_dim`` > 0, a linear projection to ``feature_dim``."""

    def __init__(self, feature_dim: int | None = None, dropout: float = 0.0, image_size: int = 28):
        super().__init__()
        pixels = image_size * image_size
        self.project = nn.Linear(pixels, feature_dim) if feature_dim else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.out_dim = feature_dim or pixels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = _as_sequence(images)
        return self.dropout(self.project(x.flatten(2)))


def build_image_encoder(
    kind: str, feature_dim: int | None = 256, dropout: float = 0.0, **kwargs: Any
) -> nn.Module:
    """``kind``: 'cnn' | 'convlstm' | 'flatten'. The module has ``out_dim``.

    For 'flatten', ``feature_dim`` None or 0 keeps the raw 784 pixels (the seed-000 variant). Extra keyword
    arguments go to the class (e.g. ``channels=(16, 32)`` for 'cnn', ``hidden_channels=64`` for 'convlstm').
    """
    if kind == "cnn":
        return PerStepCNN(feature_dim or 256, dropout=dropout, **kwargs)
    if kind == "convlstm":
        return ConvLSTMEncoder(feature_dim or 256, dropout=dropout, **kwargs)
    if kind == "flatten":
        return FlattenedPixels(feature_dim, dropout=dropout, **kwargs)
    raise LatentworksError(f"unknown image encoder '{kind}'; choose one of {', '.join(ENCODER_KINDS)}")
