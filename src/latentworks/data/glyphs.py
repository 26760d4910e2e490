"""28x28 glyph images for arithmetic strings: MNIST digits, drawn operator signs, blank spaces.

Operator glyphs follow the course generator (anti-aliased strokes of thickness 2 at randomised
coordinates; see course-notebooks section 1.3) but are drawn with numpy distance-to-segment coverage
instead of OpenCV. Each character occurrence gets an independently chosen image from its pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from latentworks.errors import LatentworksError

__all__ = [
    "GlyphBank",
    "load_strip_png",
    "operator_glyph_pool",
    "render_strip",
    "split_strip",
]

SIZE = 28
_DIGITS = "0123456789"
_OP_ALIASES = {"×": "*", "x": "*", "X": "*"}

# Inclusive ranges of the course's randint draws (half-open there: (12,16), (6,10)/(4,8), (18,22)/(20,24)).
_RANGES = {
    "v23": {"x": (12, 15), "y1": (6, 9), "y2": (18, 21)},
    "v21": {"x": (12, 15), "y1": (4, 7), "y2": (20, 23)},
}

# Pixel centres sit on integer coordinates, as in OpenCV's drawing model.
_ROWS, _COLS = np.meshgrid(*(2 * [np.arange(SIZE, dtype=np.float64)]), indexing="ij")


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _segment_coverage(p0: np.ndarray, p1: np.ndarray, half_width: float = 1.0) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of n thick segments, shape (n, 28, 28).

    ``p0``/``p1`` are (n, 2) arrays of (col, row). Coverage falls linearly from 1 at distance
    ``half_width - 0.5`` to 0 at ``half_width + 0.5``, i.e. a one-pixel anti-aliased edge.
    """
    c0, r0 = p0[:, 0, None, None], p0[:, 1, None, None]
    dc, dr = (p1[:, 0] - p0[:, 0])[:, None, None], (p1[:, 1] - p0[:, 1])[:, None, None]
    length2 = np.maximum(dc * dc + dr * dr, 1e-12)
    t = np.clip(((_COLS - c0) * dc + (_ROWS - r0) * dr) / length2, 0.0, 1.0)
    dist = np.hypot(_COLS - (c0 + t * dc), _ROWS - (r0 + t * dr))
    return np.clip(half_width + 0.5 - dist, 0.0, 1.0)


def _rotate(points: np.ndarray, centre: np.ndarray, degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - centre) @ rot.T + centre


def operator_glyph_pool(
    op: str,
    n: int = 50,
    rng: np.random.Generator | int | None = None,
    layout: str = "v23",
) -> np.ndarray:
    """``n`` randomised images of ``'+'``, ``'-'`` or ``'*'`` as (n, 28, 28) uint8 with ink near 255.

    Minus: one stroke (col=y1, row=x0) -> (col=y2, row=x1). Plus: that and the stroke
    (col=x0, row=y1) -> (col=x1, row=y2). Star: the vertical stroke plus copies rotated by 60 and 120
    degrees about its midpoint.
    """
    op = _OP_ALIASES.get(op, op)
    if op not in "+-*" or len(op) != 1:
        raise LatentworksError(f"no glyph for operator {op!r}; use '+', '-' or '*'")
    if layout not in _RANGES:
        raise LatentworksError(f"unknown layout {layout!r}; use 'v23' or 'v21'")
    if n < 1:
        raise LatentworksError(f"glyph pool size must be >= 1, got {n}")
    gen = _as_rng(rng)
    ranges = _RANGES[layout]

    def draw(key: str) -> np.ndarray:
        lo, hi = ranges[key]
        return gen.integers(lo, hi + 1, size=n).astype(np.float64)

    x0, x1, y1, y2 = draw("x"), draw("x"), draw("y1"), draw("y2")
    horizontal = (np.stack([y1, x0], axis=1), np.stack([y2, x1], axis=1))
    vertical = (np.stack([x0, y1], axis=1), np.stack([x1, y2], axis=1))

    if op == "-":
        strokes = [horizontal]
    elif op == "+":
        strokes = [horizontal, vertical]
    else:
        mid = (vertical[0] + vertical[1]) / 2.0
        strokes = [vertical] + [
            (_rotate(vertical[0], mid, deg), _rotate(vertical[1], mid, deg)) for deg in (60.0, 120.0)
        ]
    coverage = np.max([_segment_coverage(a, b) for a, b in strokes], axis=0)
    return np.rint(coverage * 255.0).astype(np.uint8)


@dataclass
class GlyphBank:
    """Image pools per character; ``render`` picks one image per character occurrence."""

    pools: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_mnist(
        cls,
        images: np.ndarray,
        labels: np.ndarray,
        ops: str = "+-",
        rng: np.random.Generator | int | None = None,
        layout: str = "v23",
        n_op: int = 50,
    ) -> GlyphBank:
        """Digit pools from ``images``/``labels``, ``n_op`` drawn glyphs per operator, one blank space."""
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim != 3 or images.shape[1:] != (SIZE, SIZE):
            raise LatentworksError(f"digit images must be (N, 28, 28), got {images.shape}")
        if labels.shape != images.shape[:1]:
            raise LatentworksError(f"{labels.shape[0]} labels for {images.shape[0]} digit images")
        gen = _as_rng(rng)
        pools: dict[str, np.ndarray] = {}
        for d in range(10):
            pool = images[labels == d]
            if pool.shape[0] == 0:
                raise LatentworksError(f"no images of digit {d} in the given MNIST split; use a fuller split")
            pools[str(d)] = np.ascontiguousarray(pool, dtype=np.uint8)
        for op in dict.fromkeys(_OP_ALIASES.get(c, c) for c in ops):
            pools[op] = operator_glyph_pool(op, n_op, gen, layout)
        pools[" "] = np.zeros((1, SIZE, SIZE), dtype=np.uint8)
        return cls(pools)

    @property
    def charset(self) -> str:
        """Characters this bank can render."""
        return "".join(sorted(self.pools))

    def render(self, strings: Sequence[str], rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Images (N, L, 28, 28) uint8 for N equal-length strings, one random pool image per character."""
        strings = list(strings)
        gen = _as_rng(rng)
        if not strings:
            return np.zeros((0, 0, SIZE, SIZE), dtype=np.uint8)
        length = len(strings[0])
        if any(len(s) != length for s in strings):
            raise LatentworksError("cannot render strings of different lengths; pad them to one length first")
        out = np.zeros((len(strings), length, SIZE, SIZE), dtype=np.uint8)
        if length == 0:
            return out
        chars = np.array(strings, dtype=f"<U{length}").view("<U1").reshape(len(strings), length)
        # Sorted order keeps the random stream (and so the images) reproducible for a given seed.
        for ch in sorted(np.unique(chars).tolist()):
            key = _OP_ALIASES.get(ch, ch)
            pool = self.pools.get(key)
            if pool is None:
                raise LatentworksError(f"no glyphs for character {ch!r}; this bank renders {self.charset!r}")
            mask = chars == ch
            out[mask] = pool[gen.integers(0, pool.shape[0], size=int(mask.sum()))]
        return out


def render_strip(images: np.ndarray) -> np.ndarray:
    """Lay (L, 28, 28) glyphs side by side as one (28, 28*L) image."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (SIZE, SIZE):
        raise LatentworksError(f"render_strip needs (L, 28, 28) images, got {images.shape}")
    return np.ascontiguousarray(images.transpose(1, 0, 2).reshape(SIZE, SIZE * images.shape[0]))


def split_strip(strip: np.ndarray, query_len: int) -> np.ndarray:
    """Cut a (28, 28*query_len) strip back into (query_len, 28, 28) glyphs."""
    strip = np.asarray(strip)
    want = (SIZE, SIZE * query_len)
    if strip.ndim != 2 or strip.shape != want:
        got = "x".join(str(s) for s in strip.shape)
        raise LatentworksError(
            f"query image is {got} pixels but must be {want[0]} high and {want[1]} wide "
            f"(28 px per character, {query_len} characters)"
        )
    return np.ascontiguousarray(strip.reshape(SIZE, query_len, SIZE).transpose(1, 0, 2))


def _to_grey(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> 8-bit grey array; transparency becomes black (the MNIST background)."""
    mode = img.mode
    if mode.startswith("I"):
        a = np.asarray(img).astype(np.float64)
        # 16-bit files span 0..65535; Pillow's own convert("L") clips instead of scaling.
        if mode.startswith("I;16") or a.max() > 255:
            a = a / 257.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if mode == "F":
        a = np.asarray(img).astype(np.float64)
        if a.size and a.max() <= 1.0:
            a = a * 255.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    has_alpha = "A" in mode or "a" in mode or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    elif mode == "CMYK":
        img = img.convert("RGB")
    return np.asarray(img.convert("L"), dtype=np.uint8)


def load_strip_png(path: str | Path, query_len: int, invert: bool | None = None) -> np.ndarray:
    """Read a query image (any Pillow mode) and cut it into (query_len, 28, 28) uint8 glyphs.

    ``invert=None`` inverts dark-on-light images (median pixel above 127), since the models were trained on
    MNIST's light-on-dark convention.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            grey = _to_grey(img)
    except FileNotFoundError as exc:
        raise LatentworksError(f"query image {path} does not exist; check the path") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise LatentworksError(f"cannot read query image {path} ({exc}); save it as an 8-bit PNG") from exc
    if invert is None:
        invert = bool(grey.size) and float(np.median(grey)) > 127.0
    if invert:
        grey = 255 - grey
    return split_strip(grey, query_len)
