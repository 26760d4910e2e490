"""Character-level text corpora: loading, ASCII normalisation, vocabulary and splits.

The default corpus is the prose of the standard library's ``pydoc_data.topics`` (about 465k characters),
so the char-RNN study runs with no download. Any UTF-8 file can be used instead.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np

from latentworks.config import finite, flag_alias, require
from latentworks.data.roots import check_data_dir, data_roots
from latentworks.errors import LatentworksError

__all__ = ["CharData", "Vocab", "find_text", "load_corpus", "normalise_ascii", "require_length", "split_corpus"]


@dataclass
class CharData:
    """The ``data`` section of a char-RNN run."""

    # a UTF-8 file, 'default' (the stdlib's pydoc prose) or 'tinyshakespeare' (a data folder's copy, or the one
    # `latentworks download tinyshakespeare` puts in the cache)
    text: str = "default"
    ascii_only: Annotated[bool, flag_alias("--ascii")] = False  # keep printable ASCII only (case kept)
    seq_len: int = 50  # characters per BPTT chunk / training window
    val_fraction: float = 0.1  # the held-out tail of the corpus, never trained on
    data_dir: str | None = None  # folder holding tinyshakespeare/input.txt

    def check(self) -> None:
        require(self.seq_len >= 1, "seq_len", self.seq_len, "must be at least 1")
        require(finite(self.val_fraction) and 0 < self.val_fraction < 1, "val_fraction", self.val_fraction,
                "must lie strictly between 0 and 1")
        require(self.text.strip() != "", "text", self.text, "is empty; pass a UTF-8 file or 'default'")
        if self.text not in ("default", "tinyshakespeare"):
            path = Path(self.text).expanduser()
            require(not path.is_dir(), "text", self.text, "is a folder; pass a UTF-8 text file inside it")
            require(path.is_file(), "text", self.text, "does not exist; pass a UTF-8 text file, 'default' or "
                    "'tinyshakespeare'")
        check_data_dir(self.data_dir)

# Typographic characters that NFKD does not decompose but that have an obvious ASCII spelling.
_ASCII_FALLBACKS = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-", "\u2026": "...", "\u00a0": " ", "\t": " ", "\u00df": "ss", "\u00e6": "ae",
        "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE", "\u00f8": "o", "\u00d8": "O",
    }
)


def normalise_ascii(text: str) -> str:
    """Map text to printable ASCII plus newline, keeping case (the seed study's preprocessing).

    Accents are stripped via NFKD (``é`` -> ``e``), curly quotes/dashes get ASCII spellings, tabs become
    spaces, CRLF/CR become ``\\n``, and anything else outside ASCII 32..126 is dropped.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_ASCII_FALLBACKS)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if ch == "\n" or " " <= ch <= "~")


def _default_corpus() -> str:
    # why here: a 0.7 MB stdlib module, loaded only when the default corpus is asked for
    import pydoc_data.topics as topics

    return "".join(topics.topics[key] for key in sorted(topics.topics))


def find_text(name: str, data_dir: str | None = None) -> str:
    """The file a corpus name means: 'tinyshakespeare' is looked for in the data roots (as MNIST is, see
    :mod:`latentworks.data.roots`); any other name is a path or 'default' and passes through."""
    if name != "tinyshakespeare":
        return name
    tried = []
    for label, root in data_roots(data_dir):
        for path in (root / "tinyshakespeare" / "input.txt", root / "input.txt"):
            if path.is_file():
                return str(path)
        tried.append(f"{label} {root}")
    raise LatentworksError(f"tinyshakespeare/input.txt not found (tried {'; '.join(tried)}); "
                           "run `latentworks download tinyshakespeare`, or pass --text PATH")


def load_corpus(path_or_default: str, ascii_only: bool = False) -> str:
    """Return the corpus text: ``"default"`` (stdlib pydoc topics) or the contents of a UTF-8 file."""
    if path_or_default == "default":
        text, where = _default_corpus(), "the default pydoc corpus"
    else:
        path = Path(path_or_default)
        if not path.is_file():
            raise LatentworksError(
                f"corpus file {path} does not exist; pass an existing text file or 'default'"
            )
        raw = path.read_bytes()
        if not raw:
            raise LatentworksError(f"corpus file {path} is empty; pass a non-empty UTF-8 text file")
        if b"\x00" in raw:
            raise LatentworksError(
                f"corpus file {path} looks binary (contains NUL bytes); pass a UTF-8 text file"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LatentworksError(
                f"corpus file {path} is not valid UTF-8 (byte {err.start}); pass a UTF-8 text file"
            ) from None
        where = f"corpus file {path}"
    if ascii_only:
        text = normalise_ascii(text)
        if not text.strip():
            raise LatentworksError(f"{where} has no printable ASCII left after normalisation; drop --ascii")
    if not text:
        raise LatentworksError(f"{where} is empty; pass a non-empty UTF-8 text file")
    return text


@dataclass
class Vocab:
    """Sorted set of characters; id ``i`` is ``chars[i]``."""

    chars: str

    def __post_init__(self) -> None:
        if len(set(self.chars)) != len(self.chars) or not self.chars:
            raise LatentworksError("vocabulary must be a non-empty string of distinct characters; rebuild it")
        codes = np.array([ord(c) for c in self.chars], dtype=np.int64)
        # Dense code-point -> id table so encoding is one vectorised lookup instead of a dict per char.
        self._lookup = np.full(int(codes.max()) + 1, -1, dtype=np.int32)
        self._lookup[codes] = np.arange(len(self.chars), dtype=np.int32)
        self._char_array = np.array(list(self.chars))

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """Vocabulary of every character in ``text``, sorted by code point (deterministic, unlike ``set``)."""
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Ids (int32) of ``text``; unknown characters raise ``LatentworksError`` naming them."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.full(codes.shape, -1, dtype=np.int32)
        inside = codes < self._lookup.size
        ids[inside] = self._lookup[codes[inside]]
        if (ids < 0).any():
            unknown = sorted({chr(c) for c in codes[ids < 0]})
            shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise LatentworksError(
                f"characters {shown} are not in the training vocabulary; use only characters seen in training"
            )
        return ids

    def decode(self, ids: np.ndarray | list[int]) -> str:
        return "".join(self._char_array[np.asarray(ids, dtype=np.int64)].tolist())

    def to_json(self) -> dict:
        return {"chars": self.chars}

    @classmethod
    def from_json(cls, data: dict | str) -> Vocab:
        if isinstance(data, str):
            data = json.loads(data)
        return cls(data["chars"])


def split_corpus(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split by position: first ``1 - val_fraction`` for training, the tail for validation (like nanoGPT)."""
    if not 0.0 <= val_fraction < 1.0:
        raise LatentworksError(f"val_fraction must be in [0, 1), got {val_fraction}; pick e.g. 0.1")
    n_val = int(len(ids) * val_fraction)
    cut = len(ids) - n_val
    return ids[:cut], ids[cut:]


def require_length(ids: np.ndarray, seq_len: int, what: str = "training", batch: int = 1) -> None:
    """Raise unless ``ids`` hold ``batch`` streams of at least one input+target sequence (seq_len + 1)."""
    need = batch * (seq_len + 1)
    if len(ids) < need:
        raise LatentworksError(
            f"{what} text has {len(ids)} characters, too short for {batch} x one sequence of "
            f"{seq_len}+1 characters (needs {need}); use a longer corpus or lower seq_len/batch"
        )
