"""The data roots every loader searches, in their documented order, and the check of a named --data-dir."""

import pytest

from latentworks.data.roots import cache_root, check_data_dir, data_roots
from latentworks.errors import LatentworksError


def test_roots_come_in_the_documented_order(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTWORKS_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENTWORKS_NO_DEV_DATA", raising=False)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    roots = data_roots(tmp_path / "mine")
    assert roots[:4] == [("data_dir", tmp_path / "mine"), ("$LATENTWORKS_DATA", tmp_path / "env"),
                         ("cache", tmp_path / "cache"), ("shared/data", (tmp_path / "shared" / "data").resolve())]
    monkeypatch.setenv("LATENTWORKS_NO_DEV_DATA", "1")
    monkeypatch.delenv("LATENTWORKS_DATA")
    assert data_roots(None) == [("cache", tmp_path / "cache")]


def test_the_cache_follows_xdg_when_not_set(tmp_path, monkeypatch):
    monkeypatch.delenv("LATENTWORKS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "latentworks"


def test_a_named_data_dir_must_be_a_folder(tmp_path):
    check_data_dir(None)
    check_data_dir("embedded")
    check_data_dir(str(tmp_path))
    for bad, match in (("", "empty"), (str(tmp_path / "missing"), "is not a folder")):
        with pytest.raises(LatentworksError, match=match):
            check_data_dir(bad)
