"""Image folders: broken files converted or skipped with a count, crop/resize, cache, labels, MNIST sizes."""

import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from latentworks.data.image_folders import decode_image, holdout_indices, load_image_folder
from latentworks.data.images import load_image_dataset
from latentworks.errors import LatentworksError


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))


def rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def broken_folder(tmp_path):
    d = tmp_path / "pics"
    (d / "nested" / "deeper").mkdir(parents=True)
    Image.fromarray(rgb(40, 60)).save(d / "ok.jpg")
    Image.fromarray(rgb(32, 32, 1)).save(d / "nested" / "ok.webp")
    Image.fromarray(rgb(32, 32, 2)).save(d / "nested" / "deeper" / "ok.BMP")
    (d / "empty.png").write_bytes(b"")
    (d / "garbage.jpg").write_bytes(os.urandom(400))
    buf = io.BytesIO()
    Image.fromarray(rgb(64, 64, 3)).save(buf, "JPEG")
    (d / "truncated.jpg").write_bytes(buf.getvalue()[:200])
    Image.fromarray(rgb(30, 30, 4)).convert("CMYK").save(d / "cmyk.jpg")
    rgba = np.zeros((30, 30, 4), np.uint8)  # fully transparent
    Image.fromarray(rgba, "RGBA").save(d / "nested" / "rgba.png")
    Image.fromarray(np.full((20, 20), 65535, np.uint16)).save(d / "sixteen.png")
    Image.fromarray(rgb(20, 20, 5)).convert("P").save(d / "palette.gif")
    (d / "notes.txt").write_text("not an image")
    (d / ".hidden.jpg").write_bytes(b"junk")
    return d


def test_broken_files_are_converted_or_skipped_with_a_count(broken_folder, capsys):
    data = load_image_folder(broken_folder, 16, 3, progress=False)
    assert data.images.shape == (7, 16, 16, 3) and data.images.dtype == np.uint8
    assert data.skipped == {"empty": 1, "unreadable": 2}
    assert data.converted == {"CMYK": 1, "RGBA": 1, "16-bit": 1, "palette": 1}
    err = capsys.readouterr().err
    assert "skipped 3 of 10 files: 2 unreadable, 1 empty" in err
    assert "composited on white" in err
    white = data.images[data.files.index("nested/rgba.png")]
    assert white.min() == 255  # transparent → white background
    assert data.images[data.files.index("sixteen.png")].min() == 255  # 65535 scaled by 1/257, not clipped
    assert "notes.txt" not in data.files and ".hidden.jpg" not in data.files
    assert data.labels is None  # files at the root: no class layout


def test_black_background_and_grey_mode(broken_folder):
    data = load_image_folder(broken_folder, 8, 1, background="black", progress=False, quiet=True)
    assert data.images.shape == (7, 8, 8, 1)
    assert data.images[data.files.index("nested/rgba.png")].max() == 0


def test_cache_is_reused_and_invalidated_by_a_changed_file(broken_folder, tmp_path):
    first = load_image_folder(broken_folder, 16, 3, progress=False, quiet=True)
    again = load_image_folder(broken_folder, 16, 3, progress=False, quiet=True)
    assert not first.cached and again.cached and np.array_equal(first.images, again.images)
    cached = list((tmp_path / "cache" / "images").glob("*.npy"))
    assert len(cached) == 1 and np.load(cached[0], allow_pickle=False).shape == (7, 16, 16, 3)
    Image.fromarray(rgb(40, 60, 9)).save(broken_folder / "ok.jpg")
    os.utime(broken_folder / "ok.jpg", ns=(1, 1))
    assert not load_image_folder(broken_folder, 16, 3, progress=False, quiet=True).cached


def test_centre_crop_then_resize(tmp_path):
    img = np.zeros((20, 60, 3), np.uint8)
    img[:, :20] = (255, 0, 0)
    img[:, 20:40] = (0, 255, 0)
    img[:, 40:] = (0, 0, 255)
    Image.fromarray(img).save(tmp_path / "wide.png")
    arr, note = decode_image(tmp_path / "wide.png", 10, 3)
    assert note is None and arr.shape == (10, 10, 3)
    assert arr[:, :, 1].min() == 255 and arr[:, :, 0].max() == 0  # only the green middle square is left


def test_empty_and_missing_folders_are_errors(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(LatentworksError, match=r"no valid image in .*empty.*\.jpg .*\.png") as err:
        load_image_folder(tmp_path / "empty", 16)
    assert "\n" not in str(err.value)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"")
    with pytest.raises(LatentworksError, match="no valid image.*1 empty"):
        load_image_folder(tmp_path / "bad", 16, progress=False)
    with pytest.raises(LatentworksError, match="does not exist"):
        load_image_folder(tmp_path / "nope", 16)
    with pytest.raises(LatentworksError, match="not a dataset name"):
        load_image_dataset(tmp_path / "nope", 16)


def test_class_subfolders_give_labels_and_a_fixed_holdout(tmp_path):
    for c, name in enumerate(["cat", "dog", "eel"]):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.fromarray(rgb(12, 12, 10 * c + i)).save(tmp_path / name / f"{i}.png")
    train_x, train_y, _ = load_image_dataset(tmp_path, 8, None, split="train", progress=False, quiet=True)
    test_x, test_y, source = load_image_dataset(tmp_path, 8, None, split="test", progress=False, quiet=True)
    assert train_x.shape == (11, 3, 8, 8) and test_x.shape == (1, 3, 8, 8) and train_x.dtype == torch.uint8
    assert sorted(torch.cat([train_y, test_y]).tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    assert "1 of 12" in source
    tr, te = holdout_indices(12, 0.1)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 12


def test_mnist_sizes_and_channels():
    x, y, source = load_image_dataset("mnist", 28, data_dir="embedded", split="test", quiet=True)
    assert x.shape == (1000, 1, 28, 28) and x.dtype == torch.uint8 and y.shape == (1000,)
    x32, _, _ = load_image_dataset("mnist", 32, 3, data_dir="embedded", split="test", quiet=True)
    assert x32.shape == (1000, 3, 32, 32)
    assert x32[:, :, :2].max() == 0 and torch.equal(x32[:, 0, 2:30, 2:30], x[:, 0])  # zero-padded by 2
    x64, _, _ = load_image_dataset("mnist", 64, data_dir="embedded", split="train", quiet=True)
    assert x64.shape == (4000, 1, 64, 64)
    with pytest.raises(LatentworksError, match="not supported"):
        load_image_dataset("mnist", 30, data_dir="embedded")
