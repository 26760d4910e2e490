"""The arithmetic shape is one nested field of every arithmetic model config, filled from the data; model.json and
config.json files that hold it flat (written before 0.3) still load, to the same model."""

import dataclasses
import json

import pytest
import torch

from latentworks.config import to_dict
from latentworks.models.arithmetic_shape import SHAPE_FIELDS, ArithmeticShape, nest_shape
from latentworks.models.io import load_model, model_class, save_model
from latentworks.recipes import arithmetic


@pytest.mark.parametrize("task, name", list(arithmetic.RECIPES))
def test_every_arithmetic_model_config_has_the_shape_once_filled_from_the_data(task, name):
    cfg = arithmetic.recipe(name, task=task, **{"data.max_int": 199, "data.layout": "v21", "data.ops": "+-*"}
                            if name != "automaton" else {"data.max_int": 199, "data.layout": "v21"})
    spec = cfg.data.spec()
    assert cfg.model.shape == ArithmeticShape(spec.vocab_size, spec.charset, spec.query_len, spec.answer_len,
                                              spec.layout)
    assert not set(SHAPE_FIELDS) & {f.name for f in dataclasses.fields(cfg.model)}


def _flat(config: dict) -> dict:
    """A model config as a model.json before 0.3 held it."""
    return {**{k: v for k, v in config.items() if k != "shape"}, **config["shape"]}


@pytest.mark.parametrize("task, name", [("text2text", "columns"), ("img2text", "glyph-columns")])
def test_a_run_folder_written_before_the_shape_nested_loads_to_the_same_model(task, name, tmp_path):
    cfg = arithmetic.recipe(name, task=task, **{"data.max_int": 9, "model.hidden": 8})
    torch.manual_seed(0)
    model = model_class(cfg.kind)(cfg.model)
    save_model(model, tmp_path)
    info = json.loads((tmp_path / "model.json").read_text())
    info["config"] = _flat(info["config"])
    del info["checksum"]  # a model.json before 0.3 had no checksum either
    if task == "img2text":  # this model's config kept only the charset then
        del info["config"]["vocab_size"]
    (tmp_path / "model.json").write_text(json.dumps(info))
    back = load_model(tmp_path)
    assert back.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), model.state_dict().values()))
    saved = {"family": "arithmetic", **to_dict(cfg)}
    saved["model"] = _flat(saved["model"])
    assert arithmetic.from_json(json.loads(json.dumps(saved))) == cfg


def test_flat_changes_reach_the_nested_shape(tmp_path):
    cfg = arithmetic.recipe("automaton", **{"data.max_int": 9})
    save_model(model_class(cfg.kind)(cfg.model), tmp_path)
    wide = load_model(tmp_path, changes={"query_len": 23, "answer_len": 12})
    assert (wide.config.shape.query_len, wide.config.shape.answer_len) == (23, 12)
    assert nest_shape({"hidden": 8}) == {"hidden": 8}
