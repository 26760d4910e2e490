"""MNIST-addition on the benchmark's own protocol (Manhaeve et al. 2018, DeepProbLog; kept by DeepStochLog,
A-NeSI, Scallop, DeepSoftLog, DPrL).

The images of one MNIST split are shuffled with a seed and cut into consecutive groups of ``2N``; each group is one
example: two N-digit numbers (the first N images are the first number's digits, most significant first, the next N
the second's), labelled only with their sum. Each image is used once, the remainder (fewer than 2N images) not at
all: 60,000 train images give 30,000 sums at N = 1, 7,500 at N = 4, 2,000 at N = 15 and 300 at N = 100; the 10,000
test images give 5,000 … 50. The digit labels compute the sum and are then dropped: what a builder returns holds
the images, their indices in the split and the sums, never a digit label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np

from latentworks.config import flag_alias, require
from latentworks.data.arithmetic import ArithmeticSpec
from latentworks.data.arithmetic_dataset import ArithmeticData
from latentworks.data.mnist import MnistSplit, load_mnist
from latentworks.data.roots import check_data_dir
from latentworks.errors import LatentworksError

MAX_DIGITS = 100  # the longest numbers the benchmark's papers report (N = 100: 300 training sums)


@dataclass(frozen=True)
class AdditionSet:
    """One split of MNIST-addition: ``images`` (M, 2N, 28, 28) uint8, ``index`` (M, 2N): each image's row in its
    MNIST split, ``sums``: M Python ints (exact at any N; an int64 overflows past 18 digits)."""

    digits: int
    split: str  # "train" or "test": which MNIST split the images come from
    images: np.ndarray
    index: np.ndarray
    sums: list[int]

    def __len__(self) -> int:
        return len(self.sums)


def check_digits(digits: int) -> int:
    """``digits`` if it is a usable N, else a one-line error naming the fix."""
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or not 1 <= digits <= MAX_DIGITS:
        raise LatentworksError(f"--digits {digits!r}: N must be an integer from 1 to {MAX_DIGITS} "
                               "(the protocol's N = 1, 2, 4, 15, 100)")
    return int(digits)


def build_addition_set(split: MnistSplit, digits: int, seed: int, name: str = "train") -> AdditionSet:
    """``split``'s images shuffled with ``seed`` and cut into consecutive groups of ``2 * digits``: one sum each."""
    digits = check_digits(digits)
    size = 2 * digits
    count = len(split) // size
    if count < 1:
        raise LatentworksError(f"the {name} split holds {len(split)} images, fewer than the {size} one sum of "
                               f"{digits}-digit numbers needs; use the full MNIST (--data-dir) or a smaller --digits")
    # The split's name is in the stream, so train and test are shuffled independently under one seed.
    order = np.random.default_rng([seed, 0 if name == "train" else 1]).permutation(len(split))
    index = order[:count * size].reshape(count, size)
    labels = np.asarray(split.labels)[index]
    weights = [10 ** p for p in range(digits - 1, -1, -1)]  # most significant digit first
    sums = [sum(int(d) * w for d, w in zip(row[:digits], weights)) + sum(int(d) * w for d, w in
            zip(row[digits:], weights)) for row in labels.tolist()]
    return AdditionSet(digits, name, np.ascontiguousarray(np.asarray(split.images)[index]), index, sums)


def mnist_addition(digits: int, seed: int = 0, data_dir: str | None = None) -> tuple[AdditionSet, AdditionSet, str]:
    """The protocol's (train, test) sets of ``digits``-digit sums from MNIST (``load_mnist``'s look-up;
    ``data_dir='embedded'``: the packaged sample, 4,000 train images so 4,000 / 2N sums), and where MNIST came from."""
    mnist = load_mnist("mnist", data_dir=data_dir)
    return (build_addition_set(mnist.train, digits, seed, "train"),
            build_addition_set(mnist.test, digits, seed, "test"), mnist.source)


@dataclass
class MnistAdditionData(ArithmeticData):
    """The ``data`` section of an MNIST-addition run. The protocol fixes the examples (the run's ``--seed`` shuffles
    the images), so the query grid's fields (max_int, train_fraction, split_seed) are not used and must stay as
    they are; the answer alphabet is the one of ``+`` on N-digit numbers."""

    protocol: ClassVar[str] = "mnist-addition"
    # N: each example is two N-digit numbers, labelled with their sum
    number_length: Annotated[int, flag_alias("--digits")] = 1
    ops: str = "+"  # MNIST-addition only adds

    def spec(self) -> ArithmeticSpec:
        # A query is N digits, '+', N digits (2N + 1 glyphs); the answer up to N + 1 digits.
        return ArithmeticSpec(max_int=10 ** self.number_length - 1, ops="+", layout="v23")

    def check(self) -> None:
        check_digits(self.number_length)
        require(self.ops == "+", "ops", self.ops, "MNIST-addition only adds; drop --ops")
        require(self.layout == "v23", "layout", self.layout, "MNIST-addition strips have one layout; drop --layout")
        require(not self.fresh_handwriting, "fresh_handwriting", True,
                "contradicts the protocol (each image is used once, in one fixed example); drop it")
        defaults = ArithmeticData()
        for name in ("max_int", "train_fraction", "split_seed"):  # silently ignored would mislead
            require(getattr(self, name) == getattr(defaults, name), name, getattr(self, name),
                    "does not apply: the protocol fixes the examples; set --digits and --seed instead")
        check_data_dir(self.data_dir)


__all__ = ["MAX_DIGITS", "AdditionSet", "MnistAdditionData", "build_addition_set", "check_digits",
           "mnist_addition"]
