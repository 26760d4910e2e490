"""The four IDX files of MNIST and Fashion-MNIST: their names, the folders they are looked for in (the data roots,
in order) and their download from the canonical mirrors into the user cache (md5-checked, only when asked for)."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

from latentworks.data.roots import cache_root, data_roots
from latentworks.errors import LatentworksError

__all__ = ["DISPLAY_NAMES", "FILES", "check_name", "download", "fetch_missing", "files_in", "find_mnist_dir",
           "offline"]

# Logical file keys -> canonical gzip names (what the mirrors serve).
FILES = {
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

DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

_DOWNLOAD_TIMEOUT_S = 5.0


def _candidate_names(key: str) -> list[str]:
    gz = FILES[key]
    plain = gz[: -len(".gz")]
    # Some redistributions use a dot instead of the last dash (train-images.idx3-ubyte).
    dotted = plain.replace("-idx", ".idx")
    return [gz, plain, dotted + ".gz", dotted]


def files_in(folder: Path) -> dict[str, Path]:
    """Map of file key -> existing path inside ``folder`` (missing keys are absent)."""
    found: dict[str, Path] = {}
    for key in FILES:
        for fname in _candidate_names(key):
            p = folder / fname
            if p.is_file():
                found[key] = p
                break
    return found


def find_mnist_dir(name: str = "mnist", data_dir: str | Path | None = None) -> tuple[Path | None, list[str]]:
    """Return (folder holding all four files or None, human-readable list of places tried)."""
    check_name(name)
    tried: list[str] = []
    for label, root in data_roots(data_dir):
        note = ""
        for folder in (root / name, root):
            found = files_in(folder)
            if len(found) == len(FILES):
                return folder, tried
            if found and not note:
                missing = ", ".join(FILES[k] for k in FILES if k not in found)
                note = f", {folder} incomplete: missing {missing}"
        tried.append(f"{label} {root}[/{name}]{note}")
    return None, tried


def check_name(name: str) -> None:
    if name not in DISPLAY_NAMES:
        raise LatentworksError(f"unknown dataset {name!r}; use 'mnist' or 'fashion-mnist'")


def offline() -> bool:
    return os.environ.get("LATENTWORKS_OFFLINE", "") not in ("", "0")


def fetch_missing(name: str, quiet: bool) -> Path | None:
    """Fetch any missing files into the cache; return the folder if all four are then present.

    Every network or checksum problem just returns None: download is a convenience, not a requirement.
    """
    target = cache_root() / name
    have = files_in(target)
    for key, fname in FILES.items():
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


def download(name: str = "mnist", quiet: bool = False) -> Path:
    """Fetch the four IDX files of ``name`` into the cache (md5-checked); the folder, or a one-line error."""
    check_name(name)
    if offline():
        raise LatentworksError(f"LATENTWORKS_OFFLINE is set, so {DISPLAY_NAMES[name]} is not downloaded; unset it")
    got = fetch_missing(name, quiet)
    if got is None or len(files_in(got)) != len(FILES):
        raise LatentworksError(f"could not download {DISPLAY_NAMES[name]} from {', '.join(_MIRRORS[name])} (no "
                               "network, or the files failed their md5 check); put the IDX files in a folder and "
                               "pass --data-dir DIR")
    return got
