"""A small CNN that embeds 64×64 RGB faces: the feature space face runs are scored in (FLD, precision / recall).

Objective: **SimCLR** (Chen et al. 2020), self-supervised. Two random views of the same real face (random resized
crop, horizontal flip, colour jitter, occasional greyscale) are pulled together and every other face in the batch
pushed away by the NT-Xent loss on a small projection head; ``features`` is the representation before that head,
as SimCLR recommends. No labels and no generated image are used: the packaged weights saw only the CelebA *train*
split, the same fixed split (:func:`latentworks.data.image_folders.holdout_indices`, 10 % held out, seed 0) that
every face run holds out, so the faces a run is scored against were never seen by the network.

There is deliberately no blur among the augmentations: blur is what a VAE's faces show, and features made blind to
it could not tell them from real ones.

Inputs are images in [0, 1] shaped (B, 3, 64, 64); uint8 images (0–255) are accepted and scaled. Normalisation
happens inside the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from latentworks.models.builders import channels_last
from latentworks.models.inference import inference, model_device
from latentworks.registry import VIEW_MATCH, register_model

FACE_SIZE = 64


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


@register_model("face_features", family=None, title="face feature network", capabilities=("embed_faces",),
                measures=(VIEW_MATCH,))
class FaceFeatures(nn.Module):
    """A conv-BN-ReLU stage per entry of ``channels`` (``convs`` of them, the first with stride 2), global average
    pooling → ``features`` (channels[-1] wide); a 2-layer projection head for the loss only."""

    @dataclass
    class Config:
        channels: tuple[int, ...] = (32, 64, 128, 128)  # 64 → 32 → 16 → 8 → 4
        convs: tuple[int, ...] = (1, 1, 2, 1)  # convs per stage: a second one where it is cheapest (8×8)
        projection_dim: int = 64  # the NT-Xent head's output (training only)
        temperature: float = 0.2  # NT-Xent softmax temperature

    def __init__(self, config: Config | None = None):
        super().__init__()
        self.config = config = config or FaceFeatures.Config()
        if not 1 <= len(config.channels) <= 6 or len(config.convs) != len(config.channels) or min(config.convs) < 1:
            raise ValueError("FaceFeatures needs 1 to 6 stages (64 → 1 at most), each with at least one conv")
        layers: list[nn.Module] = []
        c_in = 3
        for c_out, n in zip(config.channels, config.convs, strict=True):
            layers += _conv_bn_relu(c_in, c_out, stride=2)
            for _ in range(n - 1):
                layers += _conv_bn_relu(c_out, c_out)
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.feature_dim = c_in
        self.head = nn.Sequential(nn.Linear(c_in, c_in), nn.ReLU(), nn.Linear(c_in, config.projection_dim))
        # channels_last convs are faster on CPU (oneDNN); state_dict/safetensors are unaffected.
        self.to(memory_format=torch.channels_last)

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 64, 64) float [0, 1] or uint8 → centred float, channels_last."""
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = x.float()
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, FACE_SIZE, FACE_SIZE):
            raise ValueError(f"FaceFeatures expects (B, 3, {FACE_SIZE}, {FACE_SIZE}) RGB faces, got {tuple(x.shape)}")
        return channels_last((x - 0.5) / 0.25)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding (B, feature_dim): the pooled last stage, before the projection head."""
        return self.body(self.prepare(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def contrastive_loss(self, view_a: torch.Tensor, view_b: torch.Tensor) -> tuple[torch.Tensor, float]:
        """NT-Xent over 2B views (each view's positive is the other view of its face), and the share of views
        whose nearest other view is their positive."""
        z = F.normalize(self.head(self.features(torch.cat([view_a, view_b]))), dim=1)
        b = len(view_a)
        sim = z @ z.T / self.config.temperature
        sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), -math.inf)
        target = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
        hit = (sim.detach().argmax(1) == target).float().mean()
        return F.cross_entropy(sim, target), float(hit)

    def embed_images(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """``features`` in eval mode over a large set, batched, returned on CPU (for Fréchet distance)."""
        device = model_device(self)
        with inference(self):
            out = [self.features(x[s:s + batch_size].to(device)).float().cpu() for s in range(0, len(x), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.feature_dim)


# ------------------------------------------------------------------------------------------ augmentation
def _uniform(b: int, lo: float, hi: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(b, generator=generator) * (hi - lo) + lo


def random_view(images: torch.Tensor, generator: torch.Generator, *, scale: tuple[float, float] = (0.3, 1.0),
                jitter: float = 0.4, grey_p: float = 0.2) -> torch.Tensor:
    """One SimCLR view of each face in a float (B, 3, H, W) batch in [0, 1]: a random resized crop (area share in
    ``scale``, aspect 3/4–4/3) back to full size, a coin-flip mirror, then brightness / contrast / saturation
    jitter (factors in 1 ± ``jitter``, random order not needed at this strength) and greyscale with ``grey_p``.

    Randomness comes only from ``generator`` (a CPU generator), so a seed fixes every view."""
    x = images.float()
    b, device = x.shape[0], x.device
    area = _uniform(b, *scale, generator)
    log_ratio = _uniform(b, math.log(3 / 4), math.log(4 / 3), generator)
    w = (area * log_ratio.exp()).sqrt().clamp(max=1.0)
    h = (area / log_ratio.exp()).sqrt().clamp(max=1.0)
    cx = (torch.rand(b, generator=generator) * 2 - 1) * (1 - w)  # the crop stays inside the image
    cy = (torch.rand(b, generator=generator) * 2 - 1) * (1 - h)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    zero = torch.zeros(b)
    theta = torch.stack([torch.stack([w * flip, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1).to(device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def factor() -> torch.Tensor:
        return _uniform(b, 1 - jitter, 1 + jitter, generator).to(device)[:, None, None, None]

    bright, contrast, sat = factor(), factor(), factor()
    grey_weights = torch.tensor([0.299, 0.587, 0.114], device=device)[None, :, None, None]
    x = x * bright
    mean = (x * grey_weights).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    grey = (x * grey_weights).sum(1, keepdim=True)
    x = (x - grey) * sat + grey
    to_grey = (torch.rand(b, generator=generator) < grey_p).to(device)[:, None, None, None]
    x = torch.where(to_grey, (x * grey_weights).sum(1, keepdim=True).expand_as(x), x)
    return x.clamp(0, 1)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of a float (B, C, H, W) batch (reflect padding): the held-out check's degradation."""
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(images.device)
    c = images.shape[1]
    x = F.pad(images.float(), (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


__all__ = ["FACE_SIZE", "FaceFeatures", "gaussian_blur", "random_view"]
