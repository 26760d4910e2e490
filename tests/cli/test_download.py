"""`latentworks download tinyshakespeare`: fetched once into the cache, sha256-checked, then found by
--text tinyshakespeare. No test reaches the network: the corpus's URL is pointed at a local file:// copy."""

import hashlib
from pathlib import Path

import pytest

from latentworks.cli import main
from latentworks.data import corpora
from latentworks.data.text import find_text

TEXT = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"


@pytest.fixture
def local_corpus(tmp_path, monkeypatch):
    source = tmp_path / "source.txt"
    source.write_bytes(TEXT)
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENTWORKS_OFFLINE", raising=False)
    monkeypatch.delenv("LATENTWORKS_DATA", raising=False)
    monkeypatch.setenv("LATENTWORKS_NO_DEV_DATA", "1")
    fake = corpora.Corpus(url=source.as_uri(), sha256=hashlib.sha256(TEXT).hexdigest(), folder="tinyshakespeare")
    monkeypatch.setitem(corpora.CORPORA, "tinyshakespeare", fake)
    return tmp_path


def test_download_caches_and_text_finds_it(local_corpus, capsys):
    with pytest.raises(Exception, match="latentworks download tinyshakespeare"):
        find_text("tinyshakespeare")
    assert main(["download", "tinyshakespeare"]) == 0
    path = capsys.readouterr().out.strip()
    assert path == str(local_corpus / "cache" / "tinyshakespeare" / "input.txt")
    assert Path(path).read_bytes() == TEXT and find_text("tinyshakespeare") == path
    (local_corpus / "source.txt").unlink()  # a second call is answered from the cache, no fetch
    assert corpora.download_corpus("tinyshakespeare", quiet=True) == local_corpus / "cache" / "tinyshakespeare" / \
        "input.txt"


def test_a_changed_file_is_refused_and_nothing_written(local_corpus, monkeypatch, capsys):
    bad = corpora.Corpus(url=(local_corpus / "source.txt").as_uri(), sha256="0" * 64, folder="tinyshakespeare")
    monkeypatch.setitem(corpora.CORPORA, "tinyshakespeare", bad)
    assert main(["download", "tinyshakespeare"]) == 2
    assert "failed its sha256 check" in capsys.readouterr().err
    assert not (local_corpus / "cache" / "tinyshakespeare").exists()


def test_offline_and_unreachable_are_one_line(local_corpus, monkeypatch):
    gone = corpora.Corpus(url=(local_corpus / "missing.txt").as_uri(), sha256="0" * 64, folder="tinyshakespeare")
    monkeypatch.setitem(corpora.CORPORA, "tinyshakespeare", gone)
    with pytest.raises(corpora.LatentworksError, match="could not download tinyshakespeare .*--text PATH"):
        corpora.download_corpus("tinyshakespeare", quiet=True)
    monkeypatch.setenv("LATENTWORKS_OFFLINE", "1")
    with pytest.raises(corpora.LatentworksError, match="LATENTWORKS_OFFLINE"):
        corpora.download_corpus("tinyshakespeare", quiet=True)

