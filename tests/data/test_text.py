"""Text corpora: loading, ASCII normalisation, vocabulary, splits and length checks."""

import numpy as np
import pytest

from latentworks.data.text import Vocab, load_corpus, normalise_ascii, require_length, split_corpus
from latentworks.errors import LatentworksError


def test_default_corpus_is_pydoc_prose():
    text = load_corpus("default")
    assert len(text) > 100_000 and text == load_corpus("default")
    ascii_text = load_corpus("default", ascii_only=True)
    assert set(ascii_text) <= {chr(c) for c in range(32, 127)} | {"\n"}


def test_file_loading_and_ascii_normalisation(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("Caf\u00e9 \u201cHarry\u201d \u2014 na\u00efve\tX\r\nOK \U0001f600!\n", encoding="utf-8")
    assert load_corpus(str(path)).startswith("Caf\u00e9")
    assert load_corpus(str(path), ascii_only=True) == 'Cafe "Harry" - naive X\nOK !\n'
    assert normalise_ascii("ABC xyz") == "ABC xyz"  # case is kept


@pytest.mark.parametrize(
    "content, match",
    [(b"", "is empty"), (b"abc\x00def", "binary"), (b"abc\xff\xfe", "not valid UTF-8")],
)
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(LatentworksError, match=match):
        load_corpus(str(path))


def test_missing_file_and_nothing_left_after_ascii(tmp_path):
    with pytest.raises(LatentworksError, match="does not exist"):
        load_corpus(str(tmp_path / "nope.txt"))
    path = tmp_path / "cjk.txt"
    path.write_text("\u6f22\u5b57\u6f22\u5b57", encoding="utf-8")
    with pytest.raises(LatentworksError, match="no printable ASCII"):
        load_corpus(str(path), ascii_only=True)


def test_vocab_round_trip_and_unknown_chars():
    vocab = Vocab.from_text("hello world\n")
    assert vocab.chars == "\n dehlorw" and vocab.size == 9
    ids = vocab.encode("world hello")
    assert ids.dtype == np.int32 and vocab.decode(ids) == "world hello"
    assert Vocab.from_json(vocab.to_json()) == vocab
    assert Vocab.from_json('{"chars": "ab"}').encode("ba").tolist() == [1, 0]
    with pytest.raises(LatentworksError, match=r"'X', '\\u00e9'|'X', 'é'.*not in the training vocabulary"):
        vocab.encode("hello X\u00e9")
    with pytest.raises(LatentworksError):
        Vocab("aa")


def test_split_corpus_by_position():
    ids = np.arange(100)
    train, val = split_corpus(ids, 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    assert len(split_corpus(ids, 0.0)[1]) == 0
    with pytest.raises(LatentworksError, match="val_fraction"):
        split_corpus(ids, 1.0)


def test_require_length():
    require_length(np.arange(26), 25)
    with pytest.raises(LatentworksError, match="too short"):
        require_length(np.arange(25), 25)
    with pytest.raises(LatentworksError, match="lower seq_len/batch"):
        require_length(np.arange(60), 25, batch=3)


def test_tinyshakespeare_is_looked_for_in_the_data_roots(tmp_path, monkeypatch):
    from latentworks.data.text import find_text

    monkeypatch.setenv("LATENTWORKS_NO_DEV_DATA", "1")
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENTWORKS_DATA", raising=False)
    with pytest.raises(LatentworksError, match="tinyshakespeare/input.txt not found"):
        find_text("tinyshakespeare", str(tmp_path))
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("ROMEO:\nHi.\n")
    assert find_text("tinyshakespeare", str(tmp_path)) == str(tmp_path / "tinyshakespeare" / "input.txt")
    monkeypatch.setenv("LATENTWORKS_DATA", str(tmp_path))  # the next root in the order finds it too
    assert find_text("tinyshakespeare") == str(tmp_path / "tinyshakespeare" / "input.txt")
    assert find_text("notes.txt") == "notes.txt"
