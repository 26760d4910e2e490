"""MNIST-addition on its own protocol as an image→text task: fixed images per example, labelled with sums only.

Unlike ``img2text``, which writes every query afresh from any MNIST digits (and so computes its labels from the
digits' true labels), here each example is one fixed group of 2N MNIST images (``data/mnist_addition.py``):
the model sees a strip of 2N + 1 glyphs, the first number's N digits (most significant first), one fixed ``+``
glyph (the same image in every strip, so it carries no information), the second number's N digits, and learns
from the sum's text alone. The recipe's model (``models/column_transducer.py``) skips the middle glyph.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks.data.arithmetic import encode, format_answer
from latentworks.data.arithmetic_dataset import ArithmeticTextData
from latentworks.data.glyphs import operator_glyph_pool
from latentworks.data.mnist import load_mnist
from latentworks.data.mnist_addition import AdditionSet, MnistAdditionData, mnist_addition
from latentworks.metrics.arithmetic import score_answers
from latentworks.pipelines.tasks.base import Prepared, Scored
from latentworks.pipelines.tasks.text import ImageToText
from latentworks.recipes.arithmetic import RunConfig


class FixedStrips:
    """Each example's strip, drawn once: ``render`` looks rows up instead of drawing handwriting."""

    def __init__(self, strips: np.ndarray):
        self.images = torch.from_numpy(strips)

    def render(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.images[ids.cpu()[:, 0]]


def plus_glyph() -> np.ndarray:
    """The one ``+`` image every strip carries (a fixed draw: the same pixels in every example)."""
    return operator_glyph_pool("+", 1, np.random.default_rng(0))[0]


def strips(examples: AdditionSet) -> np.ndarray:
    """(M, 2N, 28, 28) digit images -> (M, 2N + 1, 28, 28): the ``+`` glyph between the two numbers."""
    n = examples.digits
    plus = np.broadcast_to(plus_glyph(), (len(examples), 1, 28, 28))
    return np.ascontiguousarray(np.concatenate([examples.images[:, :n], plus, examples.images[:, n:]], axis=1))


def as_text_data(examples: AdditionSet, spec) -> ArithmeticTextData:
    """The sums as answer text; ``x`` holds each example's row (the strips are looked up by it). The query text
    is not known without the digit labels, so each query is named by its split and row only."""
    answers = [format_answer(s, spec) for s in examples.sums]
    values = np.array(examples.sums, dtype=np.int64 if examples.digits < 18 else object)
    return ArithmeticTextData(spec=spec, queries=[f"{examples.split} #{k}" for k in range(len(examples))],
                              answers=answers, values=values, x=np.arange(len(examples), dtype=np.int64)[:, None],
                              y=encode(answers, spec))


class MnistAdditionTask(ImageToText):
    """Two N-digit numbers in fixed MNIST images -> their sum, scored on the protocol's test set."""

    scored_by = "the sum's text, exact match of the whole sum on the protocol's test set"

    def prepare(self, cfg: RunConfig) -> Prepared:
        spec = cfg.data.spec()
        train, test, source = mnist_addition(cfg.data.number_length, cfg.train.seed, cfg.data.data_dir)
        print(f"MNIST-addition, N = {cfg.data.number_length}, seed {cfg.train.seed}: {len(train):,} training sums, "
              f"{len(test):,} test sums ({source})", flush=True)
        prepared = Prepared(spec, as_text_data(train, spec), as_text_data(test, spec),
                            FixedStrips(strips(train)), FixedStrips(strips(test)), source)
        mnist = load_mnist("mnist", data_dir=cfg.data.data_dir)  # cached: the same arrays as above
        prepared.test_digits = (mnist.test.images, mnist.test.labels)  # for glyph_reading after training only
        return prepared

    def render(self, ids: torch.Tensor, glyphs, seed: int) -> torch.Tensor:
        return glyphs.render(ids)

    def training_tensors(self, prepared: Prepared, fresh: bool, seed: int) -> list[torch.Tensor]:
        return [prepared.train_glyphs.images, torch.from_numpy(prepared.train.y)]

    def fresh_handwriting(self, glyphs) -> Callable | None:
        return None  # each image belongs to one example

    def score(self, model, prepared: Prepared, inputs: torch.Tensor, expected: list[str], reader=None) -> Scored:
        metrics, predicted, images = super().score(model, prepared, inputs, expected, reader)
        # The benchmark's own name for exact match, beside n: what the papers' tables report.
        return {**metrics, "sum_accuracy": metrics["exact_match"],
                "digits": prepared.spec.operand_width}, predicted, images


MNIST_ADDITION = MnistAdditionTask()


def score_on_digits(run_dir: str | Path, digits: int, seed: int, data_dir: str | None = None) -> dict[str, Any]:
    """A trained MNIST-addition run scored on the protocol's test set for another N (length generalisation of
    reading and adding together): the model's weights as they are, only its query and answer lengths widened."""
    from latentworks.models.io import load_model
    from latentworks.pipelines.tasks.base import predict_strings

    spec = MnistAdditionData(number_length=digits).spec()
    model = load_model(run_dir, expect=MNIST_ADDITION.kinds,
                       changes={"query_len": spec.query_len, "answer_len": spec.answer_len})
    _, test, source = mnist_addition(digits, seed, data_dir)
    predicted = predict_strings(model, torch.from_numpy(strips(test)), spec, batch=256)
    scores = score_answers(predicted, [format_answer(v, spec) for v in test.sums])
    return {"digits": digits, "seed": seed, "sum_accuracy": scores.exact_match, "n": scores.n, "mnist": source}

__all__ = ["MNIST_ADDITION", "FixedStrips", "MnistAdditionTask", "as_text_data", "plus_glyph", "score_on_digits",
           "strips"]
