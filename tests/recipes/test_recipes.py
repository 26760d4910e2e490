"""Every named recipe is a complete, valid run config that builds its model; recipes round-trip through JSON."""

import json

import pytest
import torch

from latentworks.config import ConfigError, to_dict, validate
from latentworks.models.io import model_class
from latentworks.recipes import arithmetic, charrnn, generative


@pytest.mark.parametrize("task, name", list(arithmetic.RECIPES))
def test_arithmetic_recipes_validate_build_and_round_trip(task, name):
    cfg = validate(arithmetic.recipe(name, task=task))
    assert cfg.model.shape.answer_len == cfg.data.spec().answer_len  # the data decides the model's sizes
    model = model_class(cfg.kind)(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0 and hasattr(model, "training_step")
    back = arithmetic.from_json(json.loads(json.dumps({"family": "arithmetic", **to_dict(cfg)})))
    assert back == cfg


@pytest.mark.parametrize("name, kind", [(n, k) for n, by_kind in generative.RECIPES.items() for k in by_kind])
def test_generative_recipes_validate_build_and_round_trip(name, kind):
    cfg = validate(generative.resolve(generative.recipe(name, kind=kind)))
    assert cfg.model.image_size == cfg.data.size
    generative.MODELS[kind](cfg.model)
    assert generative.from_json(json.loads(json.dumps(to_dict(cfg)))) == cfg


@pytest.mark.parametrize("name", list(charrnn.RECIPES))
def test_charrnn_recipes_validate_and_round_trip(name):
    cfg = validate(charrnn.resolve(charrnn.recipe(name), vocab_size=40))
    assert cfg.backend == charrnn.RECIPES[name][0] and cfg.train.steps >= 1
    assert charrnn.from_json(json.loads(json.dumps(to_dict(cfg)))) == cfg


def test_the_course_settings_are_the_course_s():
    gan = generative.recipe("notebook", kind="dcgan")
    assert (gan.model.latent_dim, gan.model.filters, gan.model.kernel, gan.model.init) == (256, 128, 3, "xavier")
    assert gan.model.scheme == "notebook" and gan.train.batch_size == 64 and gan.train.betas == (0.5, 0.999)
    assert generative.recipe("notebook", kind="vae").train.batch_size == 8
    t2t = arithmetic.recipe("course", task="text2text")
    assert (t2t.model.hidden, t2t.model.decoder, t2t.train.batch_size, t2t.train.epochs) == (256, "repeat", 8, 20)
    mcr = charrnn.recipe("min-char-rnn")
    assert (mcr.model.hidden, mcr.data.seq_len, mcr.train.batch_size, mcr.train.optimizer) == (100, 25, 1, "adagrad")


def test_selectors_and_recipes_are_checked():
    with pytest.raises(ConfigError, match="--model 'vqvae' is not a choice"):
        generative.recipe("default", kind="vqvae")
    with pytest.raises(ConfigError, match="not a cae recipe"):
        generative.recipe("full", kind="cae")
    with pytest.raises(ConfigError, match="trains the numpy backend, not torch"):
        charrnn.recipe("min-char-rnn", backend="torch")
    torch.manual_seed(0)
