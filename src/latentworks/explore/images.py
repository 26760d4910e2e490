"""Pictures in and out of the API: PNG data URLs, uploads checked before they are decoded, drawn glyphs.

* :func:`data_url` — a float [0, 1] image (H, W) or (H, W, 3) → ``data:image/png;base64,...``;
* :func:`read_upload` — bytes of an uploaded image → a Pillow image, refused (one line, 413/400) when the file is
  over :data:`MAX_UPLOAD_BYTES`, the header claims more than :data:`MAX_PIXELS` pixels (checked before the
  pixels are decoded), or it is not an image;
* :func:`decode_base64` — a data URL or bare base64 string → bytes, with the same size limit;
* :func:`mnist_cells` — a drawn strip (white ink on black, any height) → (L, 28, 28) uint8 glyphs prepared the
  way MNIST digits were: the ink's bounding box scaled into 20×20, centred by its centre of mass in 28×28.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np

from latentworks.explore.runs import ApiError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE


def data_url(image: np.ndarray) -> str:
    """A float [0, 1] (H, W) grey or (H, W, 3) RGB array (or uint8) → a PNG data URL."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB").save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def data_urls(images: np.ndarray) -> list[str]:
    return [data_url(im) for im in images]


def decode_base64(text: str) -> bytes:
    """A ``data:...;base64,`` URL or a bare base64 string → bytes (at most :data:`MAX_UPLOAD_BYTES`)."""
    if not isinstance(text, str) or not text:
        raise ApiError("image is empty; send a PNG/JPEG as a data URL or base64 string")
    payload = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    if len(payload) > (MAX_UPLOAD_BYTES * 4) // 3 + 8:
        raise ApiError(f"the image is over {MAX_UPLOAD_BYTES // 2**20} MB; send a smaller file", 413)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("image is not valid base64; send a data URL such as 'data:image/png;base64,...'") from None


def read_upload(data: bytes):
    """Uploaded bytes → a loaded Pillow image, after the size checks (in that order: bytes, pixels, format)."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(f"the image is {len(data) / 2**20:.1f} MB, over the {MAX_UPLOAD_BYTES // 2**20} MB limit; "
                       "send a smaller file", 413)
    if not data:
        raise ApiError("the upload is empty; send a PNG, JPEG, WebP or BMP image")
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise ApiError(f"the image is {w}×{h} pixels, over the {MAX_SIDE}×{MAX_SIDE} limit; send a smaller "
                           "image", 413)
        if w == 0 or h == 0:
            raise ApiError("the image has no pixels; send a real picture")
        img.load()
    except ApiError:
        raise
    except Image.DecompressionBombError:
        raise ApiError(f"the image has more than {MAX_SIDE}×{MAX_SIDE} pixels; send a smaller image", 413) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ApiError(f"the upload is not an image Pillow can read ({type(err).__name__}); send a PNG, JPEG, "
                       "WebP or BMP file") from None
    return img


def grey_array(img) -> np.ndarray:
    """A Pillow image → float (H, W) in [0, 1]; transparency composited on black (the MNIST background)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def mnist_cell(cell: np.ndarray) -> np.ndarray:
    """One drawn glyph (float [0, 1], white ink on black, any size) → 28×28 uint8 MNIST-style (blank stays 0)."""
    from PIL import Image

    ys, xs = np.nonzero(cell > 0.1)
    out = np.zeros((28, 28), np.float32)
    if len(ys) == 0:
        return out.astype(np.uint8)
    box = cell[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = box.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((box * 255).astype(np.uint8)).resize((nw, nh), Image.Resampling.LANCZOS),
                       dtype=np.float32) / 255.0
    total = small.sum()
    cy, cx = ((np.indices(small.shape) * small).reshape(2, -1).sum(1) / total) if total > 0 else (nh / 2, nw / 2)
    top, left = int(round(14 - cy)), int(round(14 - cx))
    top, left = min(max(top, 0), 28 - nh), min(max(left, 0), 28 - nw)
    out[top:top + nh, left:left + nw] = small
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def mnist_cells(strip: np.ndarray, length: int) -> np.ndarray:
    """A strip of ``length`` glyphs side by side → (length, 28, 28) uint8. A 28-pixel-high strip whose width is
    28·length is taken as MNIST-ready already; any other size is cut into ``length`` equal cells, each prepared
    like an MNIST digit. Dark ink on light paper is inverted first."""
    strip = np.asarray(strip, dtype=np.float32)
    if strip.ndim != 2 or strip.shape[1] < length:
        raise ApiError(f"the query image must be one row of {length} characters; got {strip.shape}")
    if float(np.median(strip)) > 0.5:
        strip = 1.0 - strip
    if strip.shape == (28, 28 * length):
        return (strip * 255).round().astype(np.uint8).reshape(28, length, 28).transpose(1, 0, 2).copy()
    edges = np.linspace(0, strip.shape[1], length + 1).round().astype(int)
    return np.stack([mnist_cell(strip[:, a:b]) for a, b in zip(edges[:-1], edges[1:])])


__all__ = ["MAX_PIXELS", "MAX_UPLOAD_BYTES", "data_url", "data_urls", "decode_base64", "grey_array",
           "mnist_cells", "read_upload"]
