"""Class-conditional VAE and GAN: ask for a digit, get it (what seed 004 tried and could not do).

Both reuse the unconditional models with ``num_classes > 0``:

* the label joins z as a one-hot vector (``cond_embed="onehot"``) or a learned embedding (``"embedding"``,
  ``embed_dim`` wide) before the decoder / generator's dense layer;
* the CVAE encoder sees the label as ``num_classes`` extra constant one-hot input channels, so q(z|x, y) is
  free to drop the class from z (z then carries style: slant, width, thickness);
* the cGAN discriminator takes the label as one-hot input channels (``d_cond="channels"``), through a
  projection term ⟨embed(y), features⟩ added to its logit (``"projection"``, Miyato & Koyama 2018), or both.

Every method that decodes or encodes needs ``labels`` (a LongTensor of class indices, one per image, or one
index for all); leaving them out raises a one-line error rather than guessing a class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from latentworks.config import Derived
from latentworks.errors import LatentworksError
from latentworks.models.dcgan import DCGAN
from latentworks.models.vae import VAE
from latentworks.registry import CONDITIONAL_ACCURACY, ELBO, FLD_RATIO, PRECISION, RECALL, register_model


def _require_classes(kind: str, n: int) -> None:
    if n < 2:
        raise LatentworksError(f"a {kind} model needs at least 2 classes, got num_classes={n}")


@register_model("cvae", family="generative", title="CVAE",
                capabilities=("sample", "decode", "encode", "reconstruct", "elbo", "label"),
                measures=(CONDITIONAL_ACCURACY, FLD_RATIO, ELBO))
class CVAE(VAE):
    """VAE with q(z|x, y) and p(x|z, y); ``elbo`` / ``iw_nll`` then bound log p(x|y)."""

    @dataclass
    class Config(VAE.Config):
        num_classes: Derived[int] = 10

    def __init__(self, config: Config):
        _require_classes("cvae", config.num_classes)
        super().__init__(config)


@register_model("cgan", family="generative", title="cGAN", capabilities=("sample", "decode", "adversarial", "label"),
                measures=(CONDITIONAL_ACCURACY, FLD_RATIO, PRECISION, RECALL), step_seconds=0.025)
class CGAN(DCGAN):
    """DCGAN whose generator takes (z, y) and whose discriminator judges (x, y) pairs."""

    @dataclass
    class Config(DCGAN.Config):
        num_classes: Derived[int] = 10
        d_cond: Literal["channels", "projection", "both"] = "both"  # how labels enter the discriminator

    def __init__(self, config: Config):
        _require_classes("cgan", config.num_classes)
        super().__init__(config)


def class_labels(n: int, num_classes: int, device=None):
    """0, 1, …, K−1, 0, 1, … (n labels): one row per class in a K-column grid."""
    return torch.arange(n, device=device) % num_classes


__all__ = ["CGAN", "CVAE", "class_labels"]
