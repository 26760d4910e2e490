"""Build the MNIST sample that ships inside latentworks (``src/latentworks/assets/mnist_sample/``).

    python scripts/make_embedded_mnist.py                      # reads ../shared/data/mnist
    python scripts/make_embedded_mnist.py --source DIR --out DIR

Reads the four original MNIST IDX gzip files (checked against their canonical md5 sums) and writes four
IDX gzip files with MNIST's own names, so ``latentworks.data.mnist`` reads the sample through the same
code path as the full set:

* 4,000 train digits, 400 per class, drawn from the MNIST **train** split;
* 1,000 test digits, 100 per class, drawn from the MNIST **test** split.

Selection: one ``numpy.random.default_rng(SEED)``; for the train split and then the test split, for each
digit 0..9 in order, ``rng.choice(rows_of_that_digit, per_class, replace=False)``; then the split's
concatenated picks are put in the order ``rng.permutation`` gives, so the classes are interleaved. The
gzip files are written with mtime 0 and no file name in the header, so a rerun reproduces the same bytes
(given the same zlib deflate implementation). The script also writes the folder's README.md with the
sha256 of each file. Only numpy and the standard library are needed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import struct
import sys
from pathlib import Path

import numpy as np

SEED = 0
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100
GZIP_LEVEL = 9

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_OUT = REPO_ROOT / "src" / "latentworks" / "assets" / "mnist_sample"

# file name -> canonical md5 of the original gzip file as first distributed.
SOURCE_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
SPLITS = (  # (split, images file, labels file, digits per class)
    ("train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", TRAIN_PER_CLASS),
    ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", TEST_PER_CLASS),
)


def read_idx_gz(path: Path) -> np.ndarray:
    """A uint8 IDX gzip file (magic 0x0801 or 0x0803) as a numpy array."""
    data = gzip.decompress(path.read_bytes())
    if data[:3] != b"\x00\x00\x08" or data[3] not in (1, 3):
        raise SystemExit(f"{path} is not a uint8 IDX file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x00000800 + ndim, big-endian dims, then the raw bytes."""
    assert arr.dtype == np.uint8
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def gzip_bytes(payload: bytes) -> bytes:
    """Deterministic gzip: mtime 0, no file name in the header, a fixed compression level."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=GZIP_LEVEL, mtime=0, filename="") as gz:
        gz.write(payload)
    return buf.getvalue()


def select(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` digits of each class, drawn without replacement, then shuffled."""
    picks = []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        picks.append(rng.choice(rows, size=per_class, replace=False))
    return rng.permutation(np.concatenate(picks))


def build(source: Path) -> dict[str, bytes]:
    """File name -> gzip bytes of the sample (the README is made separately from these)."""
    for fname, md5 in SOURCE_MD5.items():
        path = source / fname
        if not path.is_file():
            raise SystemExit(f"missing {path}; pass --source DIR with the four original MNIST IDX .gz files")
        got = hashlib.md5(path.read_bytes()).hexdigest()
        if got != md5:
            raise SystemExit(f"{path} has md5 {got}, expected the canonical {md5}")
    rng = np.random.default_rng(SEED)
    out: dict[str, bytes] = {}
    chosen: dict[str, np.ndarray] = {}
    for split, images_name, labels_name, per_class in SPLITS:
        images = read_idx_gz(source / images_name)
        labels = read_idx_gz(source / labels_name)
        idx = select(labels, per_class, rng)
        chosen[split] = images[idx]
        out[images_name] = gzip_bytes(idx_bytes(np.ascontiguousarray(images[idx])))
        out[labels_name] = gzip_bytes(idx_bytes(np.ascontiguousarray(labels[idx])))
    # Guard: no chosen test digit may be byte-identical to a chosen train digit.
    train_keys = {img.tobytes() for img in chosen["train"]}
    if any(img.tobytes() in train_keys for img in chosen["test"]):
        raise SystemExit("a test digit is byte-identical to a train digit; the sample would not be honest")
    return out


def readme(files: dict[str, bytes]) -> str:
    rows = "\n".join(
        f"| `{name}` | {len(blob):,} | `{hashlib.sha256(blob).hexdigest()}` |" for name, blob in files.items()
    )
    total = sum(len(b) for b in files.values())
    return f"""# Embedded MNIST sample

A small, class-balanced sample of MNIST that ships inside latentworks, so the package works offline and
the `quick` study gives the same numbers on every machine. `load_mnist("mnist", data_dir="embedded")`
(the CLI's `--data-dir embedded`) reads it, and `load_mnist("mnist")` falls back to it, with a one-line
notice, when the full set is not found.

| split | digits | per class | drawn from |
| --- | ---: | ---: | --- |
| train | 4,000 | 400 | the MNIST **train** split (60,000) |
| test | 1,000 | 100 | the MNIST **test** split (10,000) |

The test digits are real MNIST test images, so a score on them is a test-split score; no digit appears
in both splits. The files are standard IDX gzip files with MNIST's own names (images: magic 0x00000803,
uint8, shape (N, 28, 28); labels: magic 0x00000801, uint8, shape (N,)), read by the same code as the
full set.

## How it was made

`python scripts/make_embedded_mnist.py --source DIR` with `DIR` holding the four original MNIST IDX gzip
files (their canonical md5 sums are checked). One `numpy.random.default_rng({SEED})`; for the train split,
then the test split, for each digit 0..9 in order, `rng.choice(rows_of_that_digit, per_class,
replace=False)`; the split's picks are then reordered by `rng.permutation`, so the classes are interleaved.
The gzip files are written at level {GZIP_LEVEL} with mtime 0 and no file name in the header, so rerunning
the script reproduces these bytes (with the same zlib deflate implementation; the payloads after
decompression are identical regardless). `tests/data/test_mnist.py` checks both, and checks by image hash
that every train digit is an MNIST train image and every test digit an MNIST test image.

## Files

| file | bytes | sha256 |
| --- | ---: | --- |
{rows}

Total: {total:,} bytes.

## LICENSE

The images and labels are a subset of the MNIST database of handwritten digits by Yann LeCun, Corinna
Cortes and Christopher J.C. Burges (http://yann.lecun.com/exdb/mnist/), itself derived from NIST Special
Databases 1 and 3. MNIST is made available under the Creative Commons Attribution-Share Alike 3.0
licence (CC BY-SA 3.0, https://creativecommons.org/licenses/by-sa/3.0/) per its distributors. This
sample is redistributed under that same licence, CC BY-SA 3.0; the only change is the selection and
reordering of digits described above. It is not covered by latentworks' MIT licence.

Cite: Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), 1998.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                    help=f"folder with the original MNIST IDX .gz files (default {DEFAULT_SOURCE})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    files = build(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (args.out / name).write_bytes(blob)
    (args.out / "README.md").write_text(readme(files), encoding="utf-8")
    total = sum(len(b) for b in files.values())
    print(f"wrote {len(files)} IDX files ({total:,} bytes) and README.md to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
