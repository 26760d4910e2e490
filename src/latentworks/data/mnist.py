"""MNIST / Fashion-MNIST loading: a predictable look-up order, and an offline fallback.

Look-up order for a folder holding the four standard IDX files (for each root R, ``R/<name>/`` is
tried before ``R`` itself):

1. the ``data_dir`` argument (the CLI's ``--data-dir``);
2. ``$LATENTWORKS_DATA``;
3. the user cache: ``$LATENTWORKS_CACHE``, else ``$XDG_CACHE_HOME/latentworks``, else
   ``~/.cache/latentworks``;
4. a development ``shared/data`` folder next to any ancestor of the working directory or of this
   file (disable with ``LATENTWORKS_NO_DEV_DATA=1``);
5. a download from the canonical mirrors into the cache, only when asked for (``latentworks download mnist``,
   :func:`latentworks.data.mnist_files.download`, or ``allow_download=True``): nothing reaches the network on its own;
6. for ``"mnist"`` only, the embedded sample packaged with latentworks (``latentworks/assets/mnist_sample/``,
   see :func:`embedded_mnist_path`): 4,000 train digits from the MNIST train split and 1,000 test digits from
   the MNIST test split, 400 / 100 per class, as the same four IDX files, read by the same code.
   ``data_dir="embedded"`` asks for it by name and skips steps 1-5.

A file that is present but corrupt raises ``LatentworksError``; we never quietly fall back past it,
because a silent switch to a different dataset would make results incomparable. The files' names, where they are
looked for and their download are :mod:`latentworks.data.mnist_files`'; the IDX format is
:mod:`latentworks.data.idx`'s.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentworks.data import mnist_files
from latentworks.data.idx import read_idx
from latentworks.errors import LatentworksError

__all__ = [
    "MnistData",
    "MnistSplit",
    "embedded_mnist_path",
    "load_mnist",
]


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
    files = mnist_files.files_in(folder)
    keys = [_stat_key(files[k]) for k in mnist_files.FILES]
    return _decode_idx_set(*keys)


def embedded_mnist_path() -> Path | None:
    """Folder of the MNIST sample packaged with latentworks, or None when this install lacks its files.

    It holds the four standard IDX gzip files (4,000 train digits from the MNIST train split, 1,000 test
    digits from the MNIST test split), so it loads through the same code and cache as any MNIST folder.
    """
    return _EMBEDDED_DIR if len(mnist_files.files_in(_EMBEDDED_DIR)) == len(mnist_files.FILES) else None


def _load_embedded(folder: Path) -> tuple[MnistSplit, MnistSplit]:
    try:
        return _load_folder(folder)
    except LatentworksError as exc:
        raise LatentworksError(f"the embedded MNIST sample is damaged ({exc}); reinstall latentworks") from exc


EMBEDDED = "embedded"


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
    mnist_files.check_name(name)
    display = mnist_files.DISPLAY_NAMES[name]
    if str(data_dir) == EMBEDDED:
        # The quick study asks for the embedded sample by name so its numbers are the same on every machine.
        data_dir, allow_download, quiet = None, False, True
        folder, tried = None, ["--data-dir embedded"]
    else:
        folder, tried = mnist_files.find_mnist_dir(name, data_dir)
    if folder is not None:
        train, test = _load_folder(folder)
        return MnistData(train=train, test=test, source=str(folder))

    if not allow_download:
        tried.append(f"no download (not asked for: `latentworks download {name}`)")
    elif mnist_files.offline():
        tried.append("download (LATENTWORKS_OFFLINE set)")
    else:
        got = mnist_files.fetch_missing(name, quiet)
        if got is not None and len(mnist_files.files_in(got)) == len(mnist_files.FILES):
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
        f"({', '.join(mnist_files.FILES.values())}) in a folder and pass --data-dir DIR or set LATENTWORKS_DATA=DIR."
    )
