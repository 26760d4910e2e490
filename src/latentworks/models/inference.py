"""Running a model for answers rather than for training: eval mode, no gradients, its own device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def model_device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


@contextlib.contextmanager
def inference(model) -> Iterator[None]:
    """Eval mode and no gradients for the duration; the model's previous mode is restored afterwards."""
    was_training = bool(getattr(model, "training", False))
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()
