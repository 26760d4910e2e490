"""Text corpora with a public source, fetched into the cache only when asked (``latentworks download
tinyshakespeare``); ``--text tinyshakespeare`` then finds them there as it finds any data root's copy
(:func:`latentworks.data.text.find_text`)."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from latentworks.data.roots import cache_root
from latentworks.errors import LatentworksError

_TIMEOUT_S = 60


@dataclass(frozen=True)
class Corpus:
    url: str  # a public file, pinned to one commit so that its hash cannot change
    sha256: str
    folder: str  # <cache>/<folder>/<file>, the layout the data roots are searched in
    file: str = "input.txt"


CORPORA = {
    # Karpathy's char-rnn corpus (40,000 lines of Shakespeare, 1,115,394 bytes; public domain text, MIT repo).
    "tinyshakespeare": Corpus(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/"
            "data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", folder="tinyshakespeare"),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_corpus(name: str, quiet: bool = False) -> Path:
    """The cached file of corpus ``name``, fetched (sha256-checked) if it is not there yet; one-line errors."""
    if name not in CORPORA:
        raise LatentworksError(f"no corpus {name!r} to download; choose one of {', '.join(CORPORA)}")
    corpus = CORPORA[name]
    target = cache_root() / corpus.folder / corpus.file
    if target.is_file() and _sha256(target) == corpus.sha256:
        return target
    if os.environ.get("LATENTWORKS_OFFLINE", "") not in ("", "0"):
        raise LatentworksError(f"LATENTWORKS_OFFLINE is set, so {name} is not downloaded; unset it")
    try:
        with urllib.request.urlopen(corpus.url, timeout=_TIMEOUT_S) as resp:
            blob = resp.read()
    except Exception as err:  # DNS, timeout, HTTP error: all mean the same to the user
        raise LatentworksError(f"could not download {name} from {corpus.url} ({err}); save that file yourself "
                               f"and pass --text PATH") from None
    if hashlib.sha256(blob).hexdigest() != corpus.sha256:
        raise LatentworksError(f"{name} from {corpus.url} failed its sha256 check (a changed or truncated file); "
                               "nothing was written, try again or pass --text PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A temp file renamed into place: an interrupted download never leaves a short corpus behind.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=corpus.file, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(blob)
    os.replace(tmp, target)
    if not quiet:
        print(f"latentworks: downloaded {name} to {target}", file=sys.stderr)
    return target


__all__ = ["CORPORA", "Corpus", "download_corpus"]
