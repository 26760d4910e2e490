"""Tiny untrained runs of every family the explorer shows, written once per test session (no training)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from latentworks.config import to_dict
from latentworks.data.arithmetic import ArithmeticSpec
from latentworks.data.text import Vocab
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.io import save_model
from latentworks.runs import write_json

TINY = {"filters": 4, "max_filters": 8}


def _gen_config(kind: str, recipe: str, **changes) -> dict:
    from latentworks.recipes.generative import recipe as make

    cfg = make(recipe, kind=kind, **{"data.data_dir": "embedded", **changes})
    return {"family": "generative", **to_dict(cfg)}


def build_runs(root: Path) -> Path:
    """A study-like folder: generative/{vae,cvae,cgan,dcgan}, arithmetic/{text2text,img2text,text2img},
    charrnn/rnn."""
    from latentworks.models.compute_draw import ComputeDrawConfig, ComputeThenDraw
    from latentworks.models.conditional import CGAN, CVAE
    from latentworks.models.dcgan import DCGAN
    from latentworks.models.img2text import ImageToText, ImageToTextConfig
    from latentworks.models.io import model_class
    from latentworks.models.numpy_char_rnn import NumpyCharConfig, NumpyRNN
    from latentworks.models.seq2seq import TextToTextConfig
    from latentworks.models.vae import VAE

    torch.manual_seed(0)
    gen = root / "generative"
    save_model(VAE(VAE.Config(latent_dim=2, **TINY)), gen / "vae")
    write_json(gen / "vae" / "config.json", _gen_config("vae", "test", **{"model.latent_dim": 2}))
    save_model(CVAE(CVAE.Config(latent_dim=20, num_classes=10, **TINY)), gen / "cvae")
    write_json(gen / "cvae" / "config.json", _gen_config("cvae", "default", **{"model.latent_dim": 20}))
    save_model(CGAN(CGAN.Config(latent_dim=3, num_classes=10, **TINY)), gen / "cgan")
    save_model(DCGAN(DCGAN.Config(latent_dim=20, codes=3, **TINY)), gen / "dcgan")

    spec = ArithmeticSpec(max_int=9)
    extra = {"spec": asdict(spec)}
    sizes = {"shape": ArithmeticShape(vocab_size=spec.vocab_size, charset=spec.charset, query_len=spec.query_len,
                                      answer_len=spec.answer_len, layout=spec.layout)}
    t2t = model_class("text2text")(TextToTextConfig(hidden=8, **sizes))
    save_model(t2t, root / "arithmetic" / "text2text", extra={"task": "text2text", **extra})
    save_model(ImageToText(ImageToTextConfig(hidden=8, feature_dim=8, **sizes)), root / "arithmetic" / "img2text",
               extra={"task": "img2text", **extra})
    pen = ComputeThenDraw(ComputeDrawConfig(**sizes, hidden=8, pen_dim=4, pen_channels=4, style_dim=2))
    save_model(pen, root / "arithmetic" / "text2img", extra={"task": "text2img", **extra})

    vocab = Vocab.from_text("The quick brown fox jumps over the lazy dog.\n")
    model = NumpyRNN.init(NumpyCharConfig(hidden=16, vocab_size=vocab.size), np.random.default_rng(0))
    save_model(model, root / "charrnn" / "rnn", extra={"vocab": vocab.to_json()})
    write_json(root / "charrnn" / "rnn" / "vocab.json", vocab.to_json())
    return root


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> Path:
    return build_runs(tmp_path_factory.mktemp("explore-runs"))
