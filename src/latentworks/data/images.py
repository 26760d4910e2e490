"""Image datasets for the generative models: MNIST / Fashion-MNIST, or any folder of pictures, and the
generative runs' ``data`` section.

MNIST and Fashion-MNIST come from :mod:`latentworks.data.mnist`, folders of pictures from
:mod:`latentworks.data.image_folders` (decoding, conversion, the cache and the class sub-folders); this module
turns either into uint8 tensors at the size a model is built for, and holds the image-size rule the conv
stacks share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from latentworks.config import finite, require
from latentworks.data.image_folders import holdout_indices, load_image_folder
from latentworks.data.mnist import load_mnist
from latentworks.data.roots import check_data_dir
from latentworks.errors import LatentworksError

MNIST_NAMES = ("mnist", "fashion-mnist")
SPLITS = ("train", "test", "all")
MAX_SIZE = 1024  # the largest image side the conv stacks (models/builders.py) are built for


# ------------------------------------------------------------------------------------------ sizes
def supported_sizes_text() -> str:
    return f"28 or a power of two from 8 to {MAX_SIZE}"


def size_supported(size: int) -> bool:
    """28 (the digits) or a power of two from 8 to MAX_SIZE: the sides the stride-2 conv stacks undo exactly."""
    return size == 28 or (8 <= size <= MAX_SIZE and size & (size - 1) == 0)


def check_image_size(size: int) -> int:
    """``size`` as an int, or a one-line error naming the supported sizes."""
    size = int(size)
    if size_supported(size):
        return size
    raise LatentworksError(
        f"image size {size} is not supported; use {supported_sizes_text()} (e.g. --size 32)"
    )


# ------------------------------------------------------------------------------------------ entry point
def _resize_digits(images: np.ndarray, size: int) -> torch.Tensor:
    """(N, 28, 28) uint8 → (N, 1, size, size): 28 stays, 32 zero-pads by 2, others pad to 32 then resize."""
    x = torch.from_numpy(np.ascontiguousarray(images))[:, None]
    if size == 28:
        return x.clone()
    x = F.pad(x, (2, 2, 2, 2))
    if size == 32:
        return x
    out = []
    for chunk in x.split(4096):
        y = F.interpolate(
            chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        out.append(y.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def load_image_dataset(
    name_or_path: str | Path,
    size: int,
    channels: int | None = None,
    data_dir: str | Path | None = None,
    *,
    split: str = "train",
    holdout: float = 0.1,
    background: str = "white",
    progress: bool = True,
    quiet: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(uint8 images (N, C, size, size), int64 labels (N,) or None, source) for a dataset name or a folder.

    ``split``: for MNIST/Fashion-MNIST the official train or test split (``all`` = both); for a folder a fixed
    ``holdout`` share (seed 0) is the test split. ``channels`` defaults to 1 for the digits, 3 for folders.
    """
    if split not in SPLITS:
        raise LatentworksError(f"unknown split '{split}'; choose {', '.join(SPLITS)}")
    size = check_image_size(size)
    name = str(name_or_path)
    if name in MNIST_NAMES:
        channels = 1 if channels is None else channels
        if channels not in (1, 3):
            raise LatentworksError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
        data = load_mnist(name, data_dir=data_dir, quiet=quiet)
        parts = {"train": [data.train], "test": [data.test], "all": [data.train, data.test]}[split]
        images = np.concatenate([p.images for p in parts])
        labels = torch.from_numpy(np.concatenate([p.labels for p in parts]).astype(np.int64))
        x = _resize_digits(images, size)
        if channels == 3:
            x = x.repeat(1, 3, 1, 1)
        return x, labels, f"{name} {split} ({data.source})"
    folder = Path(name).expanduser()
    if not folder.exists():
        raise LatentworksError(
            f"--data {name}: not a dataset name (mnist, fashion-mnist) nor an existing folder"
        )
    channels = 3 if channels is None else channels
    data = load_image_folder(folder, size, channels, background=background, progress=progress, quiet=quiet)
    train_idx, test_idx = holdout_indices(len(data.images), holdout)
    idx = {"train": train_idx, "test": test_idx, "all": np.arange(len(data.images))}[split]
    x = torch.from_numpy(np.ascontiguousarray(data.images[idx])).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(data.labels[idx]) if data.labels is not None else None
    return x, labels, f"{data.source} {split} ({len(idx):,} of {len(data.images):,} images)"


@dataclass
class ImageData:
    """The ``data`` section of a generative run."""

    data: str = "mnist"  # mnist, fashion-mnist, or a folder of images (read recursively)
    size: int = 28  # image side: 28, or a power of two from 8 to 1024
    channels: Literal[1, 3] | None = None  # 1 grey, 3 RGB (default: 1 for the digit sets, 3 for folders)
    data_dir: str | None = None  # folder holding MNIST / Fashion-MNIST ('embedded': the packaged sample)
    limit: int | None = None  # train on a fixed random subset of this many images
    holdout: float = 0.1  # folders: share of the images held out for scoring
    background: Literal["white", "black"] = "white"  # folders: what transparent pixels are composited on
    binarize: bool = False  # a fresh Bernoulli draw of the training images per batch (test: one fixed draw)

    def check(self) -> None:
        require(size_supported(self.size), "size", self.size, f"is not supported; use {supported_sizes_text()}")
        require(self.limit is None or self.limit >= 1, "limit", self.limit, "must be at least 1 (or left out)")
        require(finite(self.holdout) and 0 < self.holdout < 1, "holdout", self.holdout,
                "must lie strictly between 0 and 1, e.g. --holdout 0.1")
        require(self.data in MNIST_NAMES or Path(self.data).expanduser().is_dir(), "data", self.data,
                "is neither mnist, fashion-mnist nor an existing folder of images")
        require(not (self.data not in MNIST_NAMES and self.data_dir is not None), "data_dir", self.data_dir,
                "only applies to mnist / fashion-mnist; --data already names the folder")
        check_data_dir(self.data_dir)


def folder_classes(folder: str | Path, size: int = 32, channels: int = 3) -> list[str]:
    """Class names of a folder with one sub-folder per class (empty list otherwise); uses the cache."""
    return load_image_folder(folder, size, channels, progress=False, quiet=True).classes


__all__ = ["MAX_SIZE", "MNIST_NAMES", "ImageData", "check_image_size", "folder_classes", "load_image_dataset",
           "size_supported", "supported_sizes_text"]
