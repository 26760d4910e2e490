"""The digit reader's run config and its named recipes (the judge of drawn answers and generated digits).

``recipe("default")`` is what trained the packaged reader (99.55 % on MNIST test): AdamW with a one-cycle
schedule, batch 128, 10 epochs on every MNIST train digit with random affine augmentation. ``quick`` is the same
on the first 4,000 train digits (all of the embedded sample): a smoke-level reader, not a judge. ``tiny`` is the
one-epoch reader the test profile of the study trains in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from latentworks.config import ConfigError, from_dict, override, require
from latentworks.models.digit_reader import DigitReader
from latentworks.training.config import TrainConfig


@dataclass
class ReaderData:
    """The ``data`` section: which MNIST train digits the reader learns from (the test split only scores it)."""

    data_dir: str | None = None  # folder holding MNIST ('embedded': the packaged sample)
    limit: int | None = None  # learn from the first this many train digits (None: all of them)

    def check(self) -> None:
        require(self.limit is None or self.limit >= 1, "limit", self.limit, "must be at least 1 (or left out)")


@dataclass
class RunConfig:
    """One digit-reader run."""

    family: ClassVar[str] = "digit_reader"
    recipe: str = "default"
    data: ReaderData = field(default_factory=ReaderData)
    model: DigitReader.Config = field(default_factory=DigitReader.Config)
    train: TrainConfig = field(default_factory=TrainConfig)


_ADAMW_ONECYCLE = {"train.epochs": 10, "train.batch_size": 128, "train.lr": 3e-3, "train.optimizer": "adamw",
                   "train.weight_decay": 5e-4, "train.schedule": "onecycle", "train.min_lr_ratio": 0.0}
RECIPES: dict[str, dict[str, Any]] = {
    "default": _ADAMW_ONECYCLE,
    "quick": {**_ADAMW_ONECYCLE, "data.limit": 4000},
    "tiny": {**_ADAMW_ONECYCLE, "data.limit": 4000, "train.epochs": 1, "model.channels": (8, 16),
             "model.feature_dim": 32},
}


def recipe_names() -> list[str]:
    return list(RECIPES)


def recipe(name: str = "default", **changes: Any) -> RunConfig:
    """The complete config of recipe ``name`` with dotted ``changes`` applied."""
    if name not in RECIPES:
        raise ConfigError(f"no digit-reader recipe {name!r}; choose {', '.join(RECIPES)}")
    return override(RunConfig(recipe=name), {**RECIPES[name], **changes})


def from_json(data: dict[str, Any]) -> RunConfig:
    """A ``config.json`` back into a typed tree."""
    if not isinstance(data, dict):
        raise ConfigError("config: expected a JSON object")
    return from_dict(RunConfig, {k: v for k, v in data.items() if k != "family"})


__all__ = ["RECIPES", "ReaderData", "RunConfig", "from_json", "recipe", "recipe_names"]
