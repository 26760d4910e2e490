"""IDX files (the format MNIST ships in), gzip or plain: parsed into numpy arrays, every fault one line naming the
file."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from latentworks.errors import LatentworksError

# IDX type codes -> numpy big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    """Return the file's bytes, gunzipped when it starts with the gzip magic (extension is not trusted)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LatentworksError(f"cannot read IDX file {path}: {exc.strerror or exc}; check the path") from exc
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise LatentworksError(
            f"IDX file {path} is a corrupt or truncated gzip ({exc}); delete it and re-download"
        ) from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (gzip or plain) into a numpy array with native byte order.

    Raises ``LatentworksError`` naming the file when the magic number, header or payload size is wrong.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise LatentworksError(f"{path} is not an IDX file (bad magic number); delete it and re-download")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES or ndim == 0:
        raise LatentworksError(
            f"{path} has an unsupported IDX magic 0x{int.from_bytes(data[:4], 'big'):04x}; "
            "expected e.g. 0x0803 (images) or 0x0801 (labels)"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise LatentworksError(f"IDX file {path} is truncated inside its header; delete it and re-download")
    dims = tuple(int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(data) - header_len
    if payload != expected:
        what = "truncated" if payload < expected else "longer than its header says"
        raise LatentworksError(
            f"IDX file {path} is {what} ({payload} payload bytes, header {dims} needs {expected}); "
            "delete it and re-download"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    # Native byte order so downstream torch.from_numpy works; copy also makes it writeable for callers.
    return arr.astype(dtype.newbyteorder("="), copy=True)
