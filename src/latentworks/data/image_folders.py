"""Folders of pictures read as a dataset: found recursively, decoded, converted, cached.

Folders are searched recursively for ``.jpg .jpeg .png .webp .bmp .gif`` (any case; hidden files and folders
are ignored). Each image is decoded with Pillow, turned upright by its EXIF orientation, centre-cropped to a
square and resized (Lanczos) to ``size``, as grey (``channels=1``, ITU-R 601 luma) or RGB.

Awkward files are converted, not dropped: CMYK → RGB; palette (GIF/PNG) → RGB; RGBA, LA and palette images
with transparency are composited on a WHITE background (``background="black"`` to change); 16-bit grey is
scaled by 1/257 (not clipped); float images are scaled from [0, 1]. Files that cannot be decoded (garbage,
truncated) or are empty are skipped and counted on one line, e.g. ``skipped 3 of 10,003 files: 2 unreadable,
1 empty``. A folder without one valid image raises ``LatentworksError``.

Decoded folders are cached as one uint8 ``(N, H, W, C)`` ``.npy`` (plus a JSON sidecar with the kept files,
labels and counts) under ``<user cache>/images/``. The key covers the folder path, every file's relative path,
mtime and size, the target size, the mode and the background, so any change re-decodes. Files are written to a
temp file and renamed, and read back with ``allow_pickle=False``.

When every image sits in a first-level sub-folder and there are at least two of them (``flowers/daisy/…``),
the sub-folder names are the classes and labels are returned; otherwise labels are None.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from latentworks.data.roots import cache_root
from latentworks.errors import LatentworksError
from latentworks.runs import write_json

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")
CACHE_VERSION = 1


@dataclass
class FolderImages:
    """A decoded folder: ``images`` uint8 (N, H, W, C); ``labels`` int64 (N,) or None; what was skipped."""

    images: np.ndarray
    labels: np.ndarray | None
    classes: list[str]
    files: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)
    source: str = ""
    cached: bool = False


# ------------------------------------------------------------------------------------------ files
def list_image_files(folder: str | Path) -> list[Path]:
    """Accepted image files under ``folder``, recursively, in a stable (sorted) order."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise LatentworksError(
            f"image folder {folder} does not exist; pass a folder of images or mnist/fashion-mnist"
        )
    if not folder.is_dir():
        raise LatentworksError(f"{folder} is not a folder; pass a folder of images or mnist/fashion-mnist")
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(root) / f
            for f in sorted(files)
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)
        )
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _no_images_error(folder: Path, detail: str = "") -> LatentworksError:
    exts = " ".join(IMAGE_EXTENSIONS)
    return LatentworksError(
        f"no valid image in {folder}{detail}; accepted extensions (searched recursively): {exts}"
    )


# ------------------------------------------------------------------------------------------ decoding
def _to_mode(img, channels: int, background: str) -> tuple[object, str | None]:
    """Pillow image of any mode → 'L' or 'RGB'; returns (image, conversion note or None)."""
    note = None
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.float64)
        if mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr, note = arr / 257.0, "16-bit"
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    elif mode == "F":
        arr = np.asarray(img).astype(np.float64)
        arr = arr * 255.0 if arr.max(initial=0) <= 1.0 else arr
        img, note = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L"), "float"
    elif mode == "CMYK":
        img, note = img.convert("RGB"), "CMYK"
    elif mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in img.info
        img, note = img.convert("RGBA" if transparent else "RGB"), "palette"
    if img.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        fill = (255, 255, 255, 255) if background == "white" else (0, 0, 0, 255)
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, fill), rgba).convert("RGB")
        note = note or "RGBA"
    return img.convert("L" if channels == 1 else "RGB"), note


def decode_image(
    path: str | Path, size: int, channels: int = 3, background: str = "white"
) -> tuple[np.ndarray | None, str | None]:
    """(uint8 (size, size, channels) array, conversion note) or (None, "empty" | "unreadable")."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return None, "empty"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                if img.format == "JPEG":
                    img.draft(None, (size, size))  # let libjpeg decode at a reduced scale ≥ size: much faster
                img.load()
                img = ImageOps.exif_transpose(img)
                img, note = _to_mode(img, channels, background)
                w, h = img.size
                s = min(w, h)
                left, top = (w - s) // 2, (h - s) // 2
                img = img.crop((left, top, left + s, top + s))
                if s != size:
                    img = img.resize((size, size), Image.Resampling.LANCZOS)
                arr = np.asarray(img, dtype=np.uint8)
    except Exception:  # any decoder failure (garbage, truncated, unsupported) makes the file unreadable
        return None, "unreadable"
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr, note


# ------------------------------------------------------------------------------------------ cache
def _cache_dir() -> Path:
    return cache_root() / "images"


def _cache_key(folder: Path, files: list[Path], size: int, channels: int, background: str) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{folder.resolve()}|{size}|{channels}|{background}".encode())
    for p in files:
        st = p.stat()
        h.update(f"\n{p.relative_to(folder).as_posix()}|{st.st_mtime_ns}|{st.st_size}".encode())
    return h.hexdigest()[:24]


def _cache_paths(folder: Path, key: str, size: int, channels: int) -> tuple[Path, Path]:
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in folder.resolve().name)[:40] or "folder"
    base = _cache_dir() / f"{stem}-{size}px-{'grey' if channels == 1 else 'rgb'}-{key}"
    return base.with_suffix(".npy"), base.with_suffix(".json")


def _read_cache(npy: Path, meta_path: Path) -> FolderImages | None:
    if not (npy.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        images = np.load(npy, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(meta.get("files", ())):
        return None
    labels = np.asarray(meta["labels"], dtype=np.int64) if meta.get("labels") is not None else None
    return FolderImages(
        images,
        labels,
        meta["classes"],
        meta["files"],
        meta["skipped"],
        meta["converted"],
        meta["source"],
        cached=True,
    )


def _write_cache(data: FolderImages, npy: Path, meta_path: Path) -> None:
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=npy.parent, prefix=f".{npy.stem}.", suffix=".npy.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, data.images, allow_pickle=False)
            os.replace(tmp, npy)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        write_json(
            meta_path,
            {
                "files": data.files,
                "classes": data.classes,
                "skipped": data.skipped,
                "converted": data.converted,
                "labels": data.labels.tolist() if data.labels is not None else None,
                "source": data.source,
            },
        )
    except OSError as err:  # a read-only cache only costs time
        print(
            f"latentworks: could not cache decoded images in {npy.parent} ({err.strerror or err})",
            file=sys.stderr,
        )


# ------------------------------------------------------------------------------------------ folders
def _classes(rel: list[str]) -> tuple[list[str], np.ndarray | None]:
    parts = [r.split("/") for r in rel]
    if not parts or any(len(p) < 2 for p in parts):
        return [], None
    names = sorted({p[0] for p in parts})
    if len(names) < 2:
        return [], None
    index = {n: i for i, n in enumerate(names)}
    return names, np.array([index[p[0]] for p in parts], dtype=np.int64)


def summary_line(skipped: dict[str, int], total: int) -> str:
    n = sum(skipped.values())
    detail = ", ".join(f"{v:,} {k}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]))
    return f"skipped {n:,} of {total:,} files: {detail}"


def load_image_folder(
    folder: str | Path,
    size: int,
    channels: int = 3,
    *,
    background: str = "white",
    cache: bool = True,
    progress: bool = True,
    quiet: bool = False,
) -> FolderImages:
    """Decode every image under ``folder`` to uint8 (N, size, size, channels), cached."""
    if channels not in (1, 3):
        raise LatentworksError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    if background not in ("white", "black"):
        raise LatentworksError(f"background must be white or black, got {background!r}")
    folder = Path(folder).expanduser()
    files = list_image_files(folder)
    if not files:
        raise _no_images_error(folder, " (no file with an accepted extension)")
    key = _cache_key(folder, files, size, channels, background)
    npy, meta_path = _cache_paths(folder, key, size, channels)
    if cache and (hit := _read_cache(npy, meta_path)) is not None:
        if hit.skipped and not quiet:
            print(f"latentworks: {folder}: {summary_line(hit.skipped, len(files))} (cached)", file=sys.stderr)
        return hit

    arrays: list[np.ndarray] = []
    kept: list[str] = []
    skipped: dict[str, int] = {}
    converted: dict[str, int] = {}
    for path in tqdm(
        files,
        desc=f"decoding {folder.name or folder}",
        unit="img",
        disable=not progress,
        dynamic_ncols=True,
        leave=False,
    ):
        arr, note = decode_image(path, size, channels, background)
        if arr is None:
            skipped[note] = skipped.get(note, 0) + 1
            continue
        if note:
            converted[note] = converted.get(note, 0) + 1
        arrays.append(arr)
        kept.append(path.relative_to(folder).as_posix())
    if not arrays:
        raise _no_images_error(folder, f" ({summary_line(skipped, len(files))})")
    classes, labels = _classes(kept)
    data = FolderImages(np.stack(arrays), labels, classes, kept, skipped, converted, str(folder.resolve()))
    if not quiet:
        if skipped:
            print(f"latentworks: {folder}: {summary_line(skipped, len(files))}", file=sys.stderr)
        if converted:
            what = ", ".join(f"{v:,} {k}" for k, v in sorted(converted.items()))
            bg = f" (transparency composited on {background})" if "RGBA" in converted else ""
            print(
                f"latentworks: {folder}: converted {sum(converted.values()):,} files: {what}{bg}",
                file=sys.stderr,
            )
    if cache:
        _write_cache(data, npy, meta_path)
    return data


def holdout_indices(n: int, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: a fixed random ``fraction`` (at least 1 image when n ≥ 2) held out."""
    if n < 2 or fraction <= 0:
        return np.arange(n), np.arange(0)
    order = np.random.default_rng(seed).permutation(n)
    k = min(n - 1, max(1, int(round(fraction * n))))
    return np.sort(order[k:]), np.sort(order[:k])


__all__ = ["CACHE_VERSION", "IMAGE_EXTENSIONS", "FolderImages", "decode_image", "holdout_indices", "list_image_files",
           "load_image_folder", "summary_line"]
