"""A compact CNN that reads single 28×28 MNIST digits.

It serves two jobs: scoring text-to-image answers (can a reader read the drawn digits back?) and, through
``features``, supplying the embedding for a Fréchet distance between real and generated digits.

Inputs are images in [0, 1] shaped (B, 28, 28) or (B, 1, 28, 28); uint8 images (0–255) are accepted and
scaled. Normalisation with the MNIST mean/std happens inside the model, so callers never have to remember it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from latentworks.models.builders import channels_last
from latentworks.models.inference import inference, model_device
from latentworks.registry import READER_ACCURACY, register_model
from latentworks.training.module import StepOutput, Trainable

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def _conv_bn_relu(c_in: int, c_out: int, kernel: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


@register_model("digit_reader", family=None,
                title="digit reader", capabilities=("classify",), measures=(READER_ACCURACY,))
class DigitReader(Trainable, nn.Module):
    """conv-BN-ReLU stages (max-pool between them) → dense ``feature_dim`` → dropout → 10 logits."""

    @dataclass
    class Config:
        channels: tuple[int, ...] = (32, 64, 128)  # one stage each; 2×2 max-pool after all but the last
        convs_per_stage: int = 1
        feature_dim: int = 128  # size of ``features(x)``
        dropout: float = 0.3
        num_classes: int = 10

    def __init__(self, config: Config | None = None):
        super().__init__()
        self.config = config = config or DigitReader.Config()
        if not config.channels:
            raise ValueError("DigitReader needs at least one conv stage")
        if len(config.channels) > 3:
            raise ValueError("DigitReader supports at most 3 stages (28 → 14 → 7)")
        layers: list[nn.Module] = []
        c_in, size = 1, 28
        for i, c_out in enumerate(config.channels):
            for j in range(config.convs_per_stage):
                layers += _conv_bn_relu(c_in if j == 0 else c_out, c_out)
            c_in = c_out
            if i < len(config.channels) - 1:
                layers.append(nn.MaxPool2d(2))
                size //= 2
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * size * size, config.feature_dim, bias=False),
            nn.BatchNorm1d(config.feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(config.feature_dim, config.num_classes)
        )
        # channels_last convs are ~1.5-2× faster on CPU (oneDNN); state_dict/safetensors are unaffected.
        self.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """(B, 28, 28) or (B, 1, 28, 28), float [0, 1] or uint8 → normalised float (B, 1, 28, 28)."""
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = x.float()
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"DigitReader expects (B, 28, 28) or (B, 1, 28, 28), got {tuple(x.shape)}")
        return channels_last((x - MNIST_MEAN) / MNIST_STD)

    # ------------------------------------------------------------------ API
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, feature_dim): post-ReLU activations feeding the classifier."""
        return self.embed(self.body(self.prepare(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.features(x))

    def predict(self, x: torch.Tensor, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """(labels int64 (B,), confidence = max softmax probability (B,)), in eval mode, batched."""
        device, labels, conf = model_device(self), [], []
        with inference(self):
            for start in range(0, len(x), batch_size):
                probs = torch.softmax(self(x[start:start + batch_size].to(device)), dim=-1)
                c, lab = probs.max(dim=-1)
                labels.append(lab.cpu())
                conf.append(c.cpu())
        if not labels:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0)
        return torch.cat(labels), torch.cat(conf)

    def training_step(self, batch, ctx) -> StepOutput:
        """Cross-entropy on (images, labels), with the batch's accuracy as a log."""
        images, labels = batch
        logits = self(images)
        acc = (logits.detach().argmax(-1) == labels).float().mean()
        return StepOutput(nn.functional.cross_entropy(logits, labels), {"train_acc": float(acc)})

    def embed_images(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """``features`` in eval mode over a large set, batched, returned on CPU (for Fréchet distance)."""
        device = model_device(self)
        with inference(self):
            out = [self.features(x[s:s + batch_size].to(device)).cpu() for s in range(0, len(x), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.config.feature_dim)


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    max_shift: float = 2.0,
    max_rotate_deg: float = 10.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
    max_shear: float = 0.1,
) -> torch.Tensor:
    """Random shift/rotation/scale/shear of a batch of (B, 28, 28) or (B, 1, 28, 28) images via grid_sample.

    ``max_shift`` is in pixels. Randomness comes only from ``generator`` (a CPU generator), so the trainer's
    per-step generator makes augmentation reproducible and resume-safe.
    """
    squeeze = images.dim() == 3
    x = images.unsqueeze(1) if squeeze else images
    x = x.float()
    b, device = x.shape[0], x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(b, generator=generator) * (hi - lo) + lo).to(device)

    angle = uniform(-max_rotate_deg, max_rotate_deg) * (torch.pi / 180.0)
    scale = uniform(*scale_range)
    shear = uniform(-max_shear, max_shear)
    # affine_grid maps output coords → input coords in [-1, 1]; one pixel is 2/28 there.
    tx = uniform(-max_shift, max_shift) * (2.0 / 28.0)
    ty = uniform(-max_shift, max_shift) * (2.0 / 28.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin + shear, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1
    )
    grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    out = nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.squeeze(1) if squeeze else out
