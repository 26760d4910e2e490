"""Arithmetic tasks as objects, one per direction, and the look-up :func:`task`.

``task("text2img")`` is the text→image :class:`Task`: how its batches and held-out inputs are made, how its
answers are read and scored, its figures and its headline measures. Every task scores with the same keys
(``exact_match``, ``char_accuracy``, ...) and says how in ``scored_by``.
"""

from __future__ import annotations

from latentworks.errors import LatentworksError
from latentworks.pipelines.tasks.base import (
    ANSWER_MEASURES,
    Measure,
    Prepared,
    Task,
    generate_images,
    predict_strings,
    test_sampler,
)
from latentworks.pipelines.tasks.drawing import TextToImage
from latentworks.pipelines.tasks.mnist_addition import MNIST_ADDITION, MnistAdditionTask
from latentworks.pipelines.tasks.text import ImageToText, TextToText
from latentworks.recipes.arithmetic import TASKS, RunConfig

TEXT_TO_TEXT, IMAGE_TO_TEXT, TEXT_TO_IMAGE = TextToText(), ImageToText(), TextToImage()
_BY_NAME: dict[str, Task] = {t.name: t for t in (TEXT_TO_TEXT, IMAGE_TO_TEXT, TEXT_TO_IMAGE)}
assert set(_BY_NAME) == set(TASKS), "every task the run config accepts has one Task object"


def task(name: str) -> Task:
    """The task called ``name`` (a run config's ``task``); an unknown name is a one-line error."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise LatentworksError(f"'{name}' is not an arithmetic task; use one of {', '.join(_BY_NAME)}") from None


def task_for(cfg: RunConfig) -> Task:
    """The task that trains ``cfg``: its direction's, or a benchmark protocol's own when its data section names
    one (MNIST-addition: fixed images per example, not fresh handwriting)."""
    return _PROTOCOLS.get(getattr(cfg.data, "protocol", None)) or task(cfg.task)


_PROTOCOLS: dict[str | None, Task] = {"mnist-addition": MNIST_ADDITION}


def all_tasks() -> tuple[Task, ...]:
    return tuple(_BY_NAME.values())


def prepare(cfg: RunConfig) -> Prepared:
    """``cfg``'s split queries, with MNIST glyphs where its task draws or reads handwriting."""
    return task_for(cfg).prepare(cfg)


__all__ = ["ANSWER_MEASURES", "IMAGE_TO_TEXT", "MNIST_ADDITION", "TEXT_TO_IMAGE", "TEXT_TO_TEXT", "ImageToText",
           "Measure", "MnistAdditionTask", "Prepared", "Task", "TextToImage", "TextToText", "all_tasks",
           "generate_images", "predict_strings", "prepare", "task", "task_for", "test_sampler"]
