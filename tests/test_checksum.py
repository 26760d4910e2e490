"""model.json and config.json carry a checksum: a hand-edited file is a one-line error, an old one still loads."""

from __future__ import annotations

import json

import pytest
import torch

from latentworks.checksum import KEY
from latentworks.config import load_json
from latentworks.errors import LatentworksError
from latentworks.models.io import load_model, model_class, save_model
from latentworks.recipes import arithmetic
from latentworks.runs import RunDir, read_json


def _saved(tmp_path):
    cfg = arithmetic.recipe("columns", task="text2text", **{"data.max_int": 9, "model.hidden": 8})
    torch.manual_seed(0)
    model = model_class(cfg.kind)(cfg.model)
    save_model(model, tmp_path, extra={"task": "text2text", "spec": {"max_int": 9, "ops": "+-"}})
    return model


@pytest.mark.parametrize("edit", [("spec", "max_int", 99), ("spec", "ops", "+-*"), ("config", "hidden", 9)])
def test_a_model_json_edited_by_hand_is_refused_in_one_line(tmp_path, edit):
    _saved(tmp_path)
    info = json.loads((tmp_path / "model.json").read_text())
    assert info[KEY].startswith("sha256:")
    section, field, value = edit
    info[section][field] = value
    (tmp_path / "model.json").write_text(json.dumps(info, indent=2))
    with pytest.raises(LatentworksError, match="checksum does not match") as err:
        load_model(tmp_path)
    assert "\n" not in str(err.value)


def test_a_model_json_without_a_checksum_still_loads(tmp_path):
    model = _saved(tmp_path)
    info = json.loads((tmp_path / "model.json").read_text())
    del info[KEY]
    (tmp_path / "model.json").write_text(json.dumps(info))
    back = load_model(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), model.state_dict().values()))


def test_config_json_is_checked_by_both_readers(tmp_path):
    RunDir(tmp_path, create=False).write_config({"family": "arithmetic", "train": {"epochs": 3}})
    assert read_json(tmp_path / "config.json") == load_json(tmp_path / "config.json") == {
        "family": "arithmetic", "train": {"epochs": 3}}
    tree = json.loads((tmp_path / "config.json").read_text())
    tree["train"]["epochs"] = 30
    (tmp_path / "config.json").write_text(json.dumps(tree))
    for reader in (read_json, load_json):
        with pytest.raises(LatentworksError, match="changed after latentworks wrote it"):
            reader(tmp_path / "config.json")
