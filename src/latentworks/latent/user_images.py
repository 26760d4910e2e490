"""User images in and out: load files for a model (Pillow) and read/write latent JSON."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from latentworks.errors import LatentworksError
from latentworks.runs import read_json, write_json

MAX_SIDE = 4096  # as the explorer's uploads: a larger picture (a decompression bomb) is refused from its header
MAX_PIXELS = MAX_SIDE * MAX_SIDE
MAX_ROWS = 4096  # latent vectors in one z.json: one figure's worth of images


def _writable(images) -> np.ndarray:
    arr = np.asarray(images)
    return arr if arr.flags.writeable else arr.copy()  # MnistSplit arrays are read-only


def _to_array(img, channels: int) -> np.ndarray:
    """A Pillow image → float32 (H, W) or (H, W, 3) in [0, 1]; 16-bit, palette, CMYK and alpha handled."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(arr / top, 0, 1).astype(np.float32)
        return grey if channels == 1 else np.repeat(grey[..., None], 3, axis=-1)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        # Transparent pixels show as white, as in an image viewer.
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    img = img.convert("L" if channels == 1 else "RGB")
    return np.asarray(img, dtype=np.float32) / 255.0


def load_image_files(paths: Sequence[str | Path], size: int, channels: int,
                     invert: bool = False) -> torch.Tensor:
    """Image files → ``(N, channels, size, size)`` float in [0, 1]: centre-crop to a square, then resize.

    ``invert`` turns dark-on-light drawings into MNIST's light-on-dark. Unreadable files raise a one-line
    error naming the file.
    """
    if not paths:
        raise LatentworksError("no image files given")
    out = []
    for p in map(Path, paths):
        if not p.is_file():
            raise LatentworksError(f"image file {p} not found")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)  # refused, not warned of
                img = Image.open(p)  # the header only: the size is known before any pixel is decoded
            with img:
                if img.size[0] * img.size[1] > MAX_PIXELS:
                    raise LatentworksError(f"{p} is {img.size[0]}×{img.size[1]} pixels, over the {MAX_SIDE}×"
                                           f"{MAX_SIDE} limit; pass a smaller image")
                img.load()
                img = ImageOps.exif_transpose(img)
                w, h = img.size
                side = min(w, h)
                if side == 0:
                    raise LatentworksError(f"{p} is an empty image")
                left, top = (w - side) // 2, (h - side) // 2
                img = img.crop((left, top, left + side, top + side))
                if side != size:
                    deep = img.mode in ("I;16", "I;16B", "I;16L", "I", "F")
                    img = img.resize((size, size),
                                     Image.Resampling.BILINEAR if deep else Image.Resampling.LANCZOS)
                arr = _to_array(img, channels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise LatentworksError(f"{p} has more than {MAX_SIDE}×{MAX_SIDE} pixels; pass a smaller image") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
            raise LatentworksError(f"cannot read {p} as an image ({type(err).__name__}); "
                                   "pass PNG/JPEG/WebP/BMP files") from None
        out.append(np.clip(arr, 0, 1))
    x = torch.from_numpy(np.stack(out)).float()
    x = x.unsqueeze(1) if channels == 1 else x.permute(0, 3, 1, 2)
    return 1.0 - x if invert else x


def images_for_model(model, images, invert: bool = False) -> torch.Tensor:
    """Files (paths) or arrays → ``(N, C, H, W)`` float in [0, 1] matching the model.

    Files are cropped and resized to the model's size; arrays must already have the model's size and channels
    (uint8 0–255 or float 0–1; ``(N, H, W)`` for grey, ``(N, H, W, 3)`` or ``(N, 3, H, W)`` for RGB).
    """
    size, channels = int(model.config.image_size), int(model.config.channels)
    if isinstance(images, (str, Path)):
        images = [images]
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], (str, Path)):
        return load_image_files(images, size, channels, invert)
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(_writable(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.dim() == 2 or (x.dim() == 3 and x.shape[-1] == 3 and channels == 3):
        x = x.unsqueeze(0)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.dim() != 4 or x.shape[1] != channels or x.shape[2:] != (size, size):
        raise LatentworksError(
            f"images are {'×'.join(map(str, tuple(x.shape[1:])))} but this model takes "
            f"{channels}×{size}×{size} (channels×height×width); pass image files to resize them"
        )
    x = x.clamp(0, 1)
    return 1.0 - x if invert else x


def write_latents_json(path: str | Path, z: np.ndarray, *, kind: str, names: Sequence[str] | None = None,
                       labels: Sequence[int] | None = None) -> Path:
    payload = {"kind": kind, "latent_dim": int(z.shape[1]), "z": np.asarray(z, np.float64).round(6).tolist()}
    if names is not None:
        payload["files"] = [str(n) for n in names]
    if labels is not None:
        payload["labels"] = [int(v) for v in labels]
    write_json(path, payload)
    return Path(path)


def read_latents_json(path: str | Path) -> tuple[np.ndarray, list[int] | None]:
    """``{"z": [[...], ...], "labels"?: [...]}`` (what ``encode -o`` writes) or a bare list of vectors."""
    path = Path(path)
    data = read_json(path)
    vectors = data.get("z") if isinstance(data, dict) else data
    try:
        z = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise LatentworksError(f"{path}: 'z' must be a list of equal-length number lists") from None
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.size == 0:
        raise LatentworksError(f"{path}: 'z' must be a non-empty list of latent vectors")
    if len(z) > MAX_ROWS:
        raise LatentworksError(f"{path} holds {len(z):,} latent vectors, over the {MAX_ROWS:,} one figure shows; "
                               "split the file")
    if not np.isfinite(z).all():
        raise LatentworksError(f"{path}: 'z' holds a value that is not a finite number")
    labels = data.get("labels") if isinstance(data, dict) else None
    if labels is not None and (not isinstance(labels, list) or len(labels) != len(z) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in labels)):
        raise LatentworksError(f"{path}: 'labels' must be a list of {len(z)} integer class labels, one per vector")
    return z, labels
