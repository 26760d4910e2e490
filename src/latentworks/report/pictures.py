"""Pixel pictures without matplotlib: image mosaics, numbered cells, PNG and GIF files (written atomically).

Training writes a snapshot grid every epoch, so these stay cheap: arrays in, Pillow out. The matplotlib
figures in :mod:`latentworks.report.plots` build their image grids on the same :func:`tile`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from latentworks.errors import LatentworksError
from latentworks.runs import atomic_write_bytes


def to_numpy_images(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N, C, H, W) tensors or (N, H, W[, 3]) arrays → float32 in [0, 1]: (N, H, W) for one channel, else
    (N, H, W, 3). A 3-D tensor is taken as (N, H, W) already."""
    if isinstance(images, torch.Tensor):
        x = images.detach().float().cpu()
        if x.dim() == 4:
            x = x[:, 0] if x.shape[1] == 1 else x.permute(0, 2, 3, 1)
        images = x.numpy()
    return np.clip(np.asarray(images, dtype=np.float32), 0, 1)


def tile(images: np.ndarray | torch.Tensor, nrow: int, pad: int = 2, *, border: bool = False,
         background: float = 1.0) -> np.ndarray:
    """Images → one float (nrow·H, ncol·W[, 3]) mosaic, ``pad`` pixels of ``background`` between cells
    (and around them with ``border``). Cell ``i`` sits at row ``i // ncol``, column ``i % ncol``."""
    images = to_numpy_images(images)
    n, h, w = images.shape[:3]
    ncol = -(-n // nrow)
    edge = pad if border else 0
    shape = (nrow * (h + pad) - pad + 2 * edge, ncol * (w + pad) - pad + 2 * edge) + images.shape[3:]
    canvas = np.full(shape, background, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        top, left = edge + r * (h + pad), edge + c * (w + pad)
        canvas[top:top + h, left:left + w] = images[i]
    return canvas


def to_rgb8(picture: np.ndarray, min_cell: int = 0, cell: int = 1) -> np.ndarray:
    """A [0, 1] picture → uint8 RGB, scaled up (nearest, whole factor) so ``cell``-pixel cells reach ``min_cell``."""
    arr = (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    up = max(1, min_cell // max(cell, 1))
    return arr.repeat(up, 0).repeat(up, 1) if up > 1 else arr


def snapshot(images: torch.Tensor, nrow: int) -> np.ndarray:
    """A training snapshot: (N, C, H, W) in [0, 1] → a grey-bordered uint8 RGB mosaic, cells ≥ 56 px."""
    return to_rgb8(tile(images, nrow, border=True, background=0.85), min_cell=56, cell=images.shape[-2])


def number_cells(picture: np.ndarray, n: int, nrow: int, pad: int = 2) -> np.ndarray:
    """Write each cell's index (row-major, from 0) in the top-left corner of a bordered uint8 mosaic."""
    img = Image.fromarray(picture)
    draw = ImageDraw.Draw(img)
    ncol = -(-n // nrow)
    cell_h, cell_w = (picture.shape[0] - pad) / nrow, (picture.shape[1] - pad) / ncol
    for i in range(n):
        r, c = divmod(i, ncol)
        x, y = int(pad + c * cell_w) + 1, int(pad + r * cell_h)
        draw.text((x + 1, y + 1), str(i), fill=(0, 0, 0))  # a shadow keeps the digits legible on white cells
        draw.text((x, y), str(i), fill=(255, 220, 0))
    return np.asarray(img)


def save_png(picture: np.ndarray, path: str | Path) -> Path:
    """A uint8 (H, W) or (H, W, 3) array → a PNG file."""
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def write_gif(frames: np.ndarray | list[np.ndarray], path: str | Path, duration_ms: int = 80,
              min_side: int = 128) -> Path:
    """Frames (H, W) or (H, W, 3), float in [0, 1] or uint8 → a looping GIF, scaled up (nearest) to ≥ ``min_side``."""
    pictures = []
    for frame in frames:
        arr = np.asarray(frame)
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
        img = Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB")
        factor = max(1, -(-min_side // max(img.size)))
        if factor > 1:
            img = img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)
        pictures.append(img if img.mode == "L" else img.convert("P", palette=Image.Palette.ADAPTIVE))
    if not pictures:
        raise LatentworksError("no frames to write")
    if any(p.size != pictures[0].size for p in pictures):
        pictures = [p if p.size == pictures[0].size else p.resize(pictures[0].size) for p in pictures]
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=int(duration_ms),
                     loop=0)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


__all__ = ["number_cells", "save_png", "snapshot", "tile", "to_numpy_images", "to_rgb8", "write_gif"]
