"""The bounds every verb's options are held to, checked once at the edge (one line, exit 2), before any work.

The sizes come from memory: a figure holds at most :data:`MAX_IMAGES` images (4,096 RGB 32×32 float images
are 50 MB, and the drawn PNG several times that), an evaluation at most :data:`MAX_SAMPLES` generated images
(100,000 × 784 floats is 314 MB, twice over with the real ones). Seeds are what NumPy and torch take.
"""

from __future__ import annotations

import math
from typing import Any

from latentworks import registry
from latentworks.config import require

SEED_MAX = 2**63 - 1  # torch.manual_seed and NumPy's generators take a signed 64-bit seed
MAX_IMAGES = 4096  # images in one figure, strip or GIF (steps × rows, points along a path, rows of z.json)
MAX_SAMPLES = 100_000  # generated images one evaluation scores
MAX_FRAME_MS = 60_000  # a GIF frame shown longer than a minute is a typo


def seed(value: int, name: str = "seed") -> None:
    require(0 <= value <= SEED_MAX, name, value, f"a seed must be between 0 and 2^63 − 1 ({SEED_MAX})")


def between(value: float, name: str, lo: float, hi: float, why: str = "") -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi
    require(ok, name, value, f"must be between {lo:,} and {hi:,}" + (f" ({why})" if why else ""))


def images(count: int, name: str, lo: int = 1) -> None:
    between(count, name, lo, MAX_IMAGES, f"at most {MAX_IMAGES:,} images in one figure")


def label(value: int | None, model: Any, name: str = "label") -> None:
    """A class label the model knows: none for an unconditional model, 0..classes−1 for a conditional one."""
    if value is None:
        return
    kind = getattr(model, "kind", "?")
    require(registry.kind(kind).can("label"), name, value, f"a '{kind}' model is unconditional (it takes no class "
            f"label); drop {'--' + name.replace('_', '-')}")
    classes = int(getattr(getattr(model, "config", None), "num_classes", 0) or 0)
    require(0 <= value < classes, name, value, f"must be a class between 0 and {classes - 1}")


__all__ = ["MAX_FRAME_MS", "MAX_IMAGES", "MAX_SAMPLES", "SEED_MAX", "between", "images", "label", "seed"]
