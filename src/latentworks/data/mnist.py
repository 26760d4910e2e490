"""MNIST / Fashion-MNIST loading: IDX parsing, a predictable look-up order, and an offline fallback.

Look-up order for a folder holding the four standard IDX files (for each root R, ``R/<name>/`` is
tried before ``R`` itself):

1. the ``data_dir`` argument (the CLI's ``--data-dir``);
2. ``$LATENTWORKS_DATA``;
3. the user cache: ``$LATENTWORKS_CACHE``, else ``$XDG_CACHE_HOME/latentworks``, else
   ``~/.cache/latentworks``;
4. a development ``shared/data`` folder next to any ancestor of the working directory or of this
   file (disable with ``LATENTWORKS_NO_DEV_DATA=1``);
5. a download from the canonical mirrors into the cache, only when asked for (``latentworks download mnist``,
   :func:`download`, or ``allow_download=True``): nothing reaches the network on its own;
6. for ``"mnist"`` only, the embedded sample packaged with latentworks (``latentworks/assets/mnist_sample/``,
   see :func:`embedded_mnist_path`): 4,000 train digits from the MNIST train split and 1,000 test digits from
   the MNIST test split, 400 / 100 per class, as the same four IDX files, read by the same code.
   ``data_dir="embedded"`` asks for it by name and skips steps 1-5.

A file that is present but corrupt raises ``LatentworksError``; we never quietly fall back past it,
because a silent switch to a different dataset would make results incomparable.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentworks.data.roots import cache_root, data_roots
from latentworks.errors import LatentworksError

__all__ = [
    "MnistData",
    "MnistSplit",
    "embedded_mnist_path",
    "find_mnist_dir",
    "load_mnist",
    "read_idx",
]

# Logical file keys -> canonical gzip names (what the mirrors serve).
_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

_MD5 = {
    "mnist": {
        "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
        "test_images": "9fb629c4189551a2d022fa330f9573f3",
        "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
        "test_images": "bef4ecab320f06d8554ea6380940ec79",
        "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

_MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

_DISPLAY = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

# IDX type codes -> numpy big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_DOWNLOAD_TIMEOUT_S = 5.0

# The packaged sample, built by scripts/make_embedded_mnist.py (see the README.md next to the files).
_EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "assets" / "mnist_sample"


@dataclass
class MnistSplit:
    """One split: ``images`` (N, 28, 28) uint8 and ``labels`` (N,) int64, both read-only."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class MnistData:
    """Train and test splits plus ``source``, a human-readable note of where the data came from."""

    train: MnistSplit
    test: MnistSplit
    source: str


# --------------------------------------------------------------------------------------------------
# IDX parsing


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


# --------------------------------------------------------------------------------------------------
# Locating the files


def _candidate_names(key: str) -> list[str]:
    gz = _FILES[key]
    plain = gz[: -len(".gz")]
    # Some redistributions use a dot instead of the last dash (train-images.idx3-ubyte).
    dotted = plain.replace("-idx", ".idx")
    return [gz, plain, dotted + ".gz", dotted]


def _files_in(folder: Path) -> dict[str, Path]:
    """Map of file key -> existing path inside ``folder`` (missing keys are absent)."""
    found: dict[str, Path] = {}
    for key in _FILES:
        for fname in _candidate_names(key):
            p = folder / fname
            if p.is_file():
                found[key] = p
                break
    return found


def find_mnist_dir(name: str = "mnist", data_dir: str | Path | None = None) -> tuple[Path | None, list[str]]:
    """Return (folder holding all four files or None, human-readable list of places tried)."""
    _check_name(name)
    tried: list[str] = []
    for label, root in data_roots(data_dir):
        note = ""
        for folder in (root / name, root):
            found = _files_in(folder)
            if len(found) == len(_FILES):
                return folder, tried
            if found and not note:
                missing = ", ".join(_FILES[k] for k in _FILES if k not in found)
                note = f", {folder} incomplete: missing {missing}"
        tried.append(f"{label} {root}[/{name}]{note}")
    return None, tried


def _check_name(name: str) -> None:
    if name not in _DISPLAY:
        raise LatentworksError(f"unknown dataset {name!r}; use 'mnist' or 'fashion-mnist'")


# --------------------------------------------------------------------------------------------------
# Download


def _offline() -> bool:
    return os.environ.get("LATENTWORKS_OFFLINE", "") not in ("", "0")


def _download(name: str, quiet: bool) -> Path | None:
    """Fetch any missing files into the cache; return the folder if all four are then present.

    Every network or checksum problem just returns None: download is a convenience, not a requirement.
    """
    target = cache_root() / name
    have = _files_in(target)
    for key, fname in _FILES.items():
        if key in have:
            continue
        got = False
        for mirror in _MIRRORS[name]:
            try:
                with urllib.request.urlopen(mirror + fname, timeout=_DOWNLOAD_TIMEOUT_S) as resp:
                    blob = resp.read()
            except Exception:  # any network failure (DNS, timeout, HTTP error) means: next mirror
                continue
            if hashlib.md5(blob).hexdigest() != _MD5[name][key]:
                continue
            try:
                target.mkdir(parents=True, exist_ok=True)
                # Write to a temp file then rename so an interrupted download never leaves a short file.
                fd, tmp = tempfile.mkstemp(dir=target, prefix=fname, suffix=".part")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(blob)
                os.replace(tmp, target / fname)
            except OSError:
                return None
            if not quiet:
                print(f"latentworks: downloaded {fname} to {target}", file=sys.stderr)
            got = True
            break
        if not got:
            return None  # no mirror worked for this file, so the network is likely down: stop early
    return target


# --------------------------------------------------------------------------------------------------
# Decoding (cached per resolved path)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _decode_idx_set(
    train_images: tuple[str, int, int],
    train_labels: tuple[str, int, int],
    test_images: tuple[str, int, int],
    test_labels: tuple[str, int, int],
) -> tuple[MnistSplit, MnistSplit]:
    # Keys include mtime and size so a replaced file is re-read rather than served stale.
    def split(img_key: tuple[str, int, int], lab_key: tuple[str, int, int]) -> MnistSplit:
        images = read_idx(img_key[0])
        labels = read_idx(lab_key[0])
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise LatentworksError(
                f"{img_key[0]} holds {images.dtype} {images.shape}, expected uint8 (N, 28, 28) images "
                "(magic 0x0803); check the file"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise LatentworksError(
                f"{lab_key[0]} holds {labels.dtype} {labels.shape}, expected uint8 (N,) labels "
                "(magic 0x0801); check the file"
            )
        if labels.shape[0] != images.shape[0]:
            raise LatentworksError(
                f"{lab_key[0]} has {labels.shape[0]} labels but {img_key[0]} has {images.shape[0]} images; "
                "one of them is from a different download"
            )
        if labels.size and labels.max() > 9:
            raise LatentworksError(f"{lab_key[0]} has labels above 9; it is not an MNIST label file")
        return MnistSplit(_readonly(images), _readonly(labels.astype(np.int64)))

    return split(train_images, train_labels), split(test_images, test_labels)


def _load_folder(folder: Path) -> tuple[MnistSplit, MnistSplit]:
    files = _files_in(folder)
    keys = [_stat_key(files[k]) for k in _FILES]
    return _decode_idx_set(*keys)


# --------------------------------------------------------------------------------------------------
# Embedded sample


def embedded_mnist_path() -> Path | None:
    """Folder of the MNIST sample packaged with latentworks, or None when this install lacks its files.

    It holds the four standard IDX gzip files (4,000 train digits from the MNIST train split, 1,000 test
    digits from the MNIST test split), so it loads through the same code and cache as any MNIST folder.
    """
    return _EMBEDDED_DIR if len(_files_in(_EMBEDDED_DIR)) == len(_FILES) else None


def _load_embedded(folder: Path) -> tuple[MnistSplit, MnistSplit]:
    try:
        return _load_folder(folder)
    except LatentworksError as exc:
        raise LatentworksError(f"the embedded MNIST sample is damaged ({exc}); reinstall latentworks") from exc


# --------------------------------------------------------------------------------------------------
# Public entry point


EMBEDDED = "embedded"


def download(name: str = "mnist", quiet: bool = False) -> Path:
    """Fetch the four IDX files of ``name`` into the cache (md5-checked); the folder, or a one-line error."""
    _check_name(name)
    if _offline():
        raise LatentworksError(f"LATENTWORKS_OFFLINE is set, so {_DISPLAY[name]} is not downloaded; unset it")
    got = _download(name, quiet)
    if got is None or len(_files_in(got)) != len(_FILES):
        raise LatentworksError(f"could not download {_DISPLAY[name]} from {', '.join(_MIRRORS[name])} (no network, "
                               "or the files failed their md5 check); put the IDX files in a folder and pass "
                               "--data-dir DIR")
    return got


def load_mnist(
    name: str = "mnist",
    data_dir: str | Path | None = None,
    allow_download: bool = False,
    allow_embedded: bool = True,
    quiet: bool = False,
) -> MnistData:
    """Load MNIST or Fashion-MNIST following the module's look-up order.

    The returned arrays are shared between calls (in-process cache) and read-only; copy before editing.
    """
    _check_name(name)
    display = _DISPLAY[name]
    if str(data_dir) == EMBEDDED:
        # The quick study asks for the embedded sample by name so its numbers are the same on every machine.
        data_dir, allow_download, quiet = None, False, True
        folder, tried = None, ["--data-dir embedded"]
    else:
        folder, tried = find_mnist_dir(name, data_dir)
    if folder is not None:
        train, test = _load_folder(folder)
        return MnistData(train=train, test=test, source=str(folder))

    if not allow_download:
        tried.append(f"no download (not asked for: `latentworks download {name}`)")
    elif _offline():
        tried.append("download (LATENTWORKS_OFFLINE set)")
    else:
        got = _download(name, quiet)
        if got is not None and len(_files_in(got)) == len(_FILES):
            train, test = _load_folder(got)
            return MnistData(train=train, test=test, source=f"{got} (downloaded)")
        tried.append("download (no network or mirror failed)")

    if name == "mnist" and allow_embedded:
        folder = embedded_mnist_path()
        if folder is not None:
            train, test = _load_embedded(folder)
            counts = f"{len(train):,} train / {len(test):,} test"
            if not quiet:
                print(
                    f"latentworks: MNIST not found (tried: {'; '.join(tried)}); using the embedded "
                    f"sample ({counts} digits, the test digits from the MNIST test split). "
                    "Pass --data-dir or set LATENTWORKS_DATA for the full set.",
                    file=sys.stderr,
                )
            source = f"embedded MNIST sample ({counts}, test digits from the MNIST test split)"
            return MnistData(train=train, test=test, source=source)
        tried.append("embedded sample (its files are missing from this install)")

    raise LatentworksError(
        f"{display} not found (tried: {'; '.join(tried)}). Put the four IDX files "
        f"({', '.join(_FILES.values())}) in a folder and pass --data-dir DIR or set LATENTWORKS_DATA=DIR."
    )
