"""The MNIST-addition protocol's data: sizes, each image once, true sums, test from MNIST test, seeded."""

import numpy as np
import pytest

from latentworks.data.mnist import MnistSplit, load_mnist
from latentworks.data.mnist_addition import build_addition_set, check_digits, mnist_addition
from latentworks.errors import LatentworksError


def _split(n: int, seed: int) -> MnistSplit:
    """``n`` fake images, each carrying its own row number in its first three pixels, with random labels."""
    rows = np.arange(n)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1], images[:, 0, 2] = rows % 256, rows // 256 % 256, rows // 65536
    return MnistSplit(images, np.random.default_rng(seed).integers(0, 10, n))


def _rows(images: np.ndarray) -> np.ndarray:
    p = images[..., 0, :3].astype(np.int64)
    return p[..., 0] + 256 * p[..., 1] + 65536 * p[..., 2]


@pytest.fixture(scope="module")
def full():
    return _split(60_000, 1), _split(10_000, 2)


@pytest.mark.parametrize("digits, n_train, n_test", [(1, 30_000, 5_000), (2, 15_000, 2_500), (4, 7_500, 1_250),
                                                     (15, 2_000, 333), (100, 300, 50)])
def test_sizes_each_image_once_and_true_sums(full, digits, n_train, n_test):
    train_split, test_split = full
    train = build_addition_set(train_split, digits, seed=0, name="train")
    test = build_addition_set(test_split, digits, seed=0, name="test")
    assert (len(train), len(test)) == (n_train, n_test)
    assert train.images.shape == (n_train, 2 * digits, 28, 28)
    # The images are the rows the index names, and every train row is used at most once (exactly once when 2N
    # divides 60,000, which it does for every N of the protocol).
    assert np.array_equal(_rows(train.images), train.index)
    assert np.array_equal(np.sort(train.index.ravel()), np.arange(60_000))
    assert len(np.unique(test.index)) == test.index.size and test.index.max() < 10_000
    for s in (train, test):
        labels = (train_split if s is train else test_split).labels
        for k in (0, len(s) // 2, len(s) - 1):  # the sums from the true labels, most significant digit first
            row = labels[s.index[k]]
            a, b = int("".join(map(str, row[:digits]))), int("".join(map(str, row[digits:])))
            assert s.sums[k] == a + b
    assert max(train.sums) >= 10 ** digits or digits > 2  # a carry out of the top digit is representable
    assert all(isinstance(v, int) for v in train.sums[:5])


def test_no_digit_label_is_returned(full):
    s = build_addition_set(full[0], 2, seed=0)
    assert set(vars(s)) == {"digits", "split", "images", "index", "sums"}


def test_seeded(full):
    a = build_addition_set(full[0], 4, seed=3)
    b = build_addition_set(full[0], 4, seed=3)
    c = build_addition_set(full[0], 4, seed=4)
    assert np.array_equal(a.index, b.index) and a.sums == b.sums
    assert not np.array_equal(a.index, c.index) and a.sums != c.sums


def test_embedded_sample_train_from_train_test_from_test():
    train, test, source = mnist_addition(1, seed=0, data_dir="embedded")
    assert "embedded" in source
    mnist = load_mnist("mnist", data_dir="embedded")
    assert (len(train), len(test)) == (len(mnist.train) // 2, len(mnist.test) // 2) == (2_000, 500)
    assert (train.split, test.split) == ("train", "test")
    assert np.array_equal(test.images, np.asarray(mnist.test.images)[test.index])
    assert np.array_equal(train.images, np.asarray(mnist.train.images)[train.index])
    sums = [int(mnist.test.labels[i]) + int(mnist.test.labels[j]) for i, j in test.index]
    assert test.sums == sums
    assert len(mnist_addition(15, seed=0, data_dir="embedded")[0]) == 4_000 // 30


@pytest.mark.parametrize("bad", [0, 101, 2.0, True])
def test_bad_digits_is_one_line(bad):
    with pytest.raises(LatentworksError, match="--digits"):
        check_digits(bad)


def test_too_few_images_is_one_line():
    with pytest.raises(LatentworksError, match="fewer than"):
        build_addition_set(_split(100, 0), 100, seed=0)
