"""MNIST loading: IDX parsing, look-up order, corrupt files, the packaged embedded sample, real shared data."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

import latentworks.data.mnist as mnist_module
from latentworks.data.idx import read_idx
from latentworks.data.mnist import embedded_mnist_path, load_mnist
from latentworks.errors import LatentworksError

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(arr: np.ndarray) -> bytes:
    assert arr.dtype == np.uint8
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_mnist_dir(folder: Path, marker: int, n_train: int = 20, n_test: int = 10, gz: bool = True) -> Path:
    """Four tiny IDX files whose images are all ``marker`` so tests can tell folders apart."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        images = np.full((n, 28, 28), marker, dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / (NAMES[f"{split}_images"] + suffix), images, gz)
        write_idx(folder / (NAMES[f"{split}_labels"] + suffix), labels, gz)
    return folder


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point every automatic location at empty temp folders and forbid downloads."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LATENTWORKS_OFFLINE", "1")
    monkeypatch.setenv("LATENTWORKS_NO_DEV_DATA", "1")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENTWORKS_DATA", raising=False)
    return tmp_path


# ---------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    arr = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    got = read_idx(write_idx(tmp_path / "x.idx", arr, gz))
    assert got.dtype == np.uint8 and got.shape == (3, 28, 28)
    np.testing.assert_array_equal(got, arr)
    labels = np.array([1, 2, 9], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "y.idx", labels, gz)), labels)


def test_read_idx_bad_magic_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad-magic.gz"
    bad.write_bytes(gzip.compress(b"\x12\x34\x08\x01" + b"\x00" * 20))
    with pytest.raises(LatentworksError, match="bad-magic.gz"):
        read_idx(bad)


def test_read_idx_truncated_payload(tmp_path: Path) -> None:
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))[:-100]
    p = tmp_path / "short.idx"
    p.write_bytes(data)
    with pytest.raises(LatentworksError, match="short.idx.*truncated"):
        read_idx(p)


def test_read_idx_truncated_gzip(tmp_path: Path) -> None:
    blob = gzip.compress(idx_bytes(np.arange(256, dtype=np.uint8).reshape(16, 16).repeat(4, 0)))
    p = tmp_path / "cut.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(LatentworksError, match="cut.gz"):
        read_idx(p)


# ---------------------------------------------------------------------------------------------- look-up


def test_data_dir_beats_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = make_mnist_dir(isolated / "a", marker=11)
    b = make_mnist_dir(isolated / "b", marker=22)
    monkeypatch.setenv("LATENTWORKS_DATA", str(b))
    data = load_mnist(data_dir=a, quiet=True)
    assert data.train.images[0, 0, 0] == 11
    assert data.source == str(a)


def test_env_used_without_data_dir_and_subfolder(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = isolated / "root"
    make_mnist_dir(root / "mnist", marker=33, gz=False)  # R/<name>/ with un-gzipped names
    monkeypatch.setenv("LATENTWORKS_DATA", str(root))
    data = load_mnist(quiet=True)
    assert data.train.images[0, 0, 0] == 33
    assert data.train.images.shape == (20, 28, 28) and data.test.images.shape == (10, 28, 28)
    assert data.train.labels.dtype == np.int64 and data.train.images.dtype == np.uint8
    assert not data.train.images.flags.writeable and not data.test.labels.flags.writeable


def test_cache_dir_is_searched(isolated: Path) -> None:
    make_mnist_dir(isolated / "cache" / "fashion-mnist", marker=44)
    data = load_mnist("fashion-mnist", quiet=True)
    assert data.test.images[0, 0, 0] == 44


def test_repeated_loads_share_cached_arrays(isolated: Path) -> None:
    d = make_mnist_dir(isolated / "c", marker=5)
    assert load_mnist(data_dir=d).train.images is load_mnist(data_dir=d).train.images


def test_corrupt_file_raises_instead_of_falling_back(isolated: Path) -> None:
    d = make_mnist_dir(isolated / "d", marker=1)
    bad = d / (NAMES["test_labels"] + ".gz")
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 10) + b"\x01\x02"))
    with pytest.raises(LatentworksError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(data_dir=d, quiet=True)


def test_label_count_mismatch_raises(isolated: Path) -> None:
    d = make_mnist_dir(isolated / "e", marker=1)
    write_idx(d / (NAMES["train_labels"] + ".gz"), np.zeros(7, dtype=np.uint8))
    with pytest.raises(LatentworksError, match="7 labels"):
        load_mnist(data_dir=d, quiet=True)


def test_nothing_found_names_locations_and_fix(isolated: Path) -> None:
    with pytest.raises(LatentworksError) as err:
        load_mnist(data_dir=isolated / "nowhere", allow_embedded=False, quiet=True)
    msg = str(err.value)
    assert str(isolated / "nowhere") in msg and str(isolated / "cache") in msg
    assert "--data-dir" in msg and "LATENTWORKS_DATA" in msg and "\n" not in msg
    with pytest.raises(LatentworksError, match="Fashion-MNIST not found"):
        load_mnist("fashion-mnist", quiet=True)  # no embedded sample for fashion


def test_unknown_dataset_name() -> None:
    with pytest.raises(LatentworksError, match="unknown dataset"):
        load_mnist("cifar")


# ---------------------------------------------------------------------------------------------- embedded


REPO = Path(__file__).resolve().parents[2]
SAMPLE_FILES = [f"{NAMES[k]}.gz" for k in ("train_images", "train_labels", "test_images", "test_labels")]


def _shared_mnist() -> Path | None:
    for ancestor in Path(__file__).resolve().parents:
        cand = ancestor / "shared" / "data" / "mnist"
        if (cand / "train-images-idx3-ubyte.gz").is_file():
            return cand
    return None


needs_shared = pytest.mark.skipif(_shared_mnist() is None, reason="shared/data/mnist not present")


def test_embedded_sample_loads_offline_by_name(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = load_mnist("mnist", data_dir="embedded")
    assert capsys.readouterr().err == ""  # asked for by name: no notice
    assert data.train.images.shape == (4000, 28, 28) and data.test.images.shape == (1000, 28, 28)
    assert data.train.images.dtype == np.uint8 and data.test.images.dtype == np.uint8
    assert data.train.labels.dtype == np.int64 and data.test.labels.shape == (1000,)
    assert np.bincount(data.train.labels, minlength=10).tolist() == [400] * 10
    assert np.bincount(data.test.labels, minlength=10).tolist() == [100] * 10
    assert data.source.startswith("embedded MNIST sample") and "MNIST test split" in data.source
    assert "mnist_sample" not in data.source and "assets" not in data.source  # no path in the source note
    train_keys = {img.tobytes() for img in data.train.images}
    assert len(train_keys) == 4000 and not any(img.tobytes() in train_keys for img in data.test.images)
    # Digits look like digits: ink in the middle, a blank border.
    mean = data.train.images.mean(axis=0)
    assert mean[10:18, 10:18].mean() > 50 and mean[0, :].max() < 5
    # Shuffled, not sorted by class, so a prefix is not all zeros.
    assert len(set(data.train.labels[:50].tolist())) > 5 and len(set(data.test.labels[:50].tolist())) > 5


def test_embedded_sample_is_packaged_read_only_and_cached(isolated: Path) -> None:
    folder = embedded_mnist_path()
    assert folder is not None and folder.parent.name == "assets" and folder.name == "mnist_sample"
    assert sorted(p.name for p in folder.glob("*.gz")) == sorted(SAMPLE_FILES)
    a = load_mnist(data_dir="embedded")
    assert not a.train.images.flags.writeable and not a.train.labels.flags.writeable
    assert not a.test.images.flags.writeable and not a.test.labels.flags.writeable
    b = load_mnist(quiet=True)  # the fallback serves the same cached arrays
    assert b.train.images is a.train.images and b.test.labels is a.test.labels
    assert b.source == a.source


def test_embedded_fallback_prints_one_notice(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = load_mnist()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "using the embedded sample (4,000 train / 1,000 test digits" in err
    assert "MNIST test split" in err and "LATENTWORKS_DATA" in err
    assert data.source.startswith("embedded")
    load_mnist(quiet=True)
    assert capsys.readouterr().err == ""


def test_missing_embedded_files_are_reported(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnist_module, "_EMBEDDED_DIR", isolated / "no-sample")
    assert embedded_mnist_path() is None
    with pytest.raises(LatentworksError, match="embedded sample .*missing from this install"):
        load_mnist(quiet=True)


def test_embedded_readme_lists_each_file_hash() -> None:
    folder = embedded_mnist_path()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for name in SAMPLE_FILES:
        blob = (folder / name).read_bytes()
        assert f"| `{name}` | {len(blob):,} | `{hashlib.sha256(blob).hexdigest()}` |" in readme
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme and "Burges" in readme


def _hashes(images: np.ndarray) -> list[bytes]:
    return [hashlib.sha1(img.tobytes()).digest() for img in images]


@needs_shared
def test_embedded_digits_come_from_the_matching_mnist_split(isolated: Path) -> None:
    shared = _shared_mnist()
    real = {
        split: dict(zip(_hashes(read_idx(shared / f"{NAMES[split + '_images']}.gz")),
                        read_idx(shared / f"{NAMES[split + '_labels']}.gz").tolist()))
        for split in ("train", "test")
    }
    data = load_mnist(data_dir="embedded")
    for split, part in (("train", data.train), ("test", data.test)):
        other = "test" if split == "train" else "train"
        hashes = _hashes(part.images)
        leaked = sum(h in real[other] for h in hashes)
        assert leaked == 0, f"{leaked} embedded {split} digits are MNIST {other} images"
        missing = sum(h not in real[split] for h in hashes)
        assert missing == 0, f"{missing} embedded {split} digits are not MNIST {split} images"
        assert [real[split][h] for h in hashes] == part.labels.tolist()  # and they keep MNIST's labels
    assert len(set(_hashes(data.test.images))) == 1000


@needs_shared
def test_build_script_reproduces_the_packaged_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_embedded_mnist", REPO / "scripts" / "make_embedded_mnist.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--source", str(_shared_mnist()), "--out", str(tmp_path)]) == 0
    packaged = embedded_mnist_path()
    for name in [*SAMPLE_FILES, "README.md"]:
        built, shipped = (tmp_path / name).read_bytes(), (packaged / name).read_bytes()
        if name.endswith(".gz"):  # same digits first, then the same gzip bytes (mtime 0, no file name)
            assert gzip.decompress(built) == gzip.decompress(shipped), name
        assert built == shipped, f"{name} differs from the packaged file"


# ---------------------------------------------------------------------------------------------- real data


@needs_shared
def test_real_shared_mnist_found_by_dev_search(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LATENTWORKS_NO_DEV_DATA")
    monkeypatch.chdir(_shared_mnist().parents[2])  # the checkout's parent: shared/data is a child here
    data = load_mnist(quiet=True)
    assert data.source == str(_shared_mnist())
    assert data.train.images.shape == (60000, 28, 28) and data.test.images.shape == (10000, 28, 28)
    assert np.bincount(data.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_nothing_downloads_unless_asked(monkeypatch, tmp_path):
    import latentworks.data.mnist as m
    import latentworks.data.mnist_files as files

    calls = []
    monkeypatch.setattr(files, "fetch_missing", lambda name, quiet: calls.append(name))
    monkeypatch.setenv("LATENTWORKS_NO_DEV_DATA", "1")
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENTWORKS_DATA", raising=False)
    monkeypatch.delenv("LATENTWORKS_OFFLINE", raising=False)
    with pytest.raises(LatentworksError, match="latentworks download fashion-mnist"):
        m.load_mnist("fashion-mnist", quiet=True)
    assert m.load_mnist("mnist", quiet=True).source.startswith("embedded")  # the packaged sample, offline
    assert calls == []
    with pytest.raises(LatentworksError, match="could not download"):
        files.download("mnist", quiet=True)
    assert calls == ["mnist"]
