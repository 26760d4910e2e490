"""The config machinery: JSON in and out with type checks, one-line validation, overrides, resume diffs."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from latentworks.config import ConfigError, changed_fields, from_dict, load_json, override, to_dict, validate
from latentworks.training.config import TrainConfig


@dataclass
class Inner:
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)


@dataclass
class Tree:
    inner: Inner = field(default_factory=Inner)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str | None = None


def test_json_round_trip_and_type_errors_name_the_field():
    tree = Tree(Inner("b", (3, 4)), TrainConfig(epochs=2, betas=(0.5, 0.9)))
    assert from_dict(Tree, to_dict(tree)) == tree
    assert from_dict(Tree, {"train": {"lr": 1}}).train.lr == 1.0  # an integer is a number
    for data, match in (({"train": {"epochs": "ten"}}, "config.train.epochs: expected an integer"),
                        ({"inner": {"mode": "c"}}, "config.inner.mode: 'c' is not one of"),
                        ({"train": {"betas": [0.5]}}, "expected 2 values"),
                        ({"bogus": 1}, "unknown field 'config.bogus'"),
                        ({"train": {"progress": "yes"}}, "expected true or false")):
        with pytest.raises(ConfigError, match=match):
            from_dict(Tree, data)


@pytest.mark.parametrize("changes, match", [
    ({"train.epochs": 0}, "--epochs 0: must be a whole number of at least 1"),
    ({"train.batch_size": 0}, "--batch-size 0: must be at least 1"),
    ({"train.lr": float("nan")}, "--lr nan: must be a positive finite number"),
    ({"train.lr": -1.0}, "--lr -1.0: must be a positive finite number"),
    ({"train.schedule": "warm"}, "--schedule 'warm' is not one of"),
    ({"inner.mode": "z"}, "--mode 'z' is not one of"),
])
def test_validate_refuses_in_one_line(changes, match):
    with pytest.raises(ConfigError, match=match) as err:
        validate(override(Tree(), changes))
    assert "\n" not in str(err.value)


def test_override_and_changed_fields():
    tree = override(Tree(), {"train.epochs": 3, "inner.mode": "b"})
    assert tree.train.epochs == 3 and tree.inner.mode == "b" and Tree().train.epochs == 10
    with pytest.raises(ConfigError, match="no field 'train.epoch'"):
        override(Tree(), {"train.epoch": 3})
    old, new = to_dict(Tree()), to_dict(tree)
    assert changed_fields(old, new) == ["inner.mode", "train.epochs"]
    assert changed_fields(old, new, free=("train",)) == ["inner.mode"]


def test_load_json_failures_are_one_line(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe{}")
    for path, match in ((tmp_path / "bad.json", "not valid JSON"), (tmp_path / "latin.json", "not UTF-8"),
                        (tmp_path / "none.json", "does not exist"), (tmp_path, "is a folder")):
        with pytest.raises(ConfigError, match=match):
            load_json(path)
