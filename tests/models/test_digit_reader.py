import json

import numpy as np
import pytest
import torch

from latentworks.config import override
from latentworks.data.glyphs import operator_glyph_pool
from latentworks.data.mnist import MnistData, MnistSplit
from latentworks.errors import LatentworksError
from latentworks.models.digit_reader import DigitReader, random_affine
from latentworks.models.io import load_model, save_model
from latentworks.pipelines import digit_reader as pipeline
from latentworks.recipes.digit_reader import from_json as reader_from_json
from latentworks.recipes.digit_reader import recipe as reader_recipe
from latentworks.runs import read_json
from latentworks.training.trainer import Trainer

SMALL = DigitReader.Config(channels=(8, 16), feature_dim=32, dropout=0.1)


def _synthetic(n, seed):
    """Ten easy classes: a bright 6×6 square at one of ten positions, with noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.rand(n, 28, 28, generator=g) * 0.2
    for k in range(n):
        r, c = divmod(int(labels[k]), 5)
        images[k, 4 + 12 * r:10 + 12 * r, 2 + 5 * c:8 + 5 * c] += 0.8
    return (images.clamp(0, 1) * 255).to(torch.uint8), labels


def test_shapes_of_forward_features_predict():
    torch.manual_seed(0)
    model = DigitReader(SMALL)
    as_uint8 = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    for x in (torch.rand(5, 28, 28), torch.rand(5, 1, 28, 28), as_uint8):
        assert model(x).shape == (5, 10)
        assert model.features(x).shape == (5, 32)
    labels, conf = model.predict(torch.rand(7, 28, 28), batch_size=3)
    assert labels.shape == (7,) and labels.dtype == torch.long
    assert conf.shape == (7,) and (conf > 0).all() and (conf <= 1).all()
    assert model.embed_images(torch.rand(7, 28, 28), batch_size=4).shape == (7, 32)
    assert model.training  # predict/embed_images restore the mode
    with pytest.raises(ValueError):
        model(torch.rand(2, 3, 28, 28))


def test_default_config_builds():
    model = DigitReader()
    assert model.predict(torch.rand(2, 28, 28))[0].shape == (2,)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = DigitReader(SMALL).eval()
    x = torch.rand(4, 28, 28)
    save_model(model, tmp_path)
    loaded = load_model(tmp_path, expect="digit_reader")
    assert loaded.config == model.config
    assert torch.allclose(loaded(x), model(x), atol=1e-6)


def test_random_affine_is_reproducible_and_identity_when_disabled():
    x = torch.rand(6, 28, 28)
    a = random_affine(x, torch.Generator().manual_seed(1))
    b = random_affine(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.allclose(a, x)
    same = random_affine(x.unsqueeze(1), torch.Generator().manual_seed(1), max_shift=0, max_rotate_deg=0,
                         scale_range=(1.0, 1.0), max_shear=0)
    assert torch.allclose(same.squeeze(1), x, atol=1e-5)


def test_learns_a_tiny_problem_with_the_trainer(tmp_path):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = _synthetic(320, seed=0)
    xt, yt = _synthetic(200, seed=1)
    model = DigitReader(SMALL)
    cfg = reader_recipe("default", **{"train.epochs": 3, "train.progress": False, "train.batch_size": 32,
                                      "train.checkpoint_every": 10**6}).train
    Trainer(model, (x, y), cfg, tmp_path / "run", transform=pipeline.augment_batch).fit()
    assert pipeline.accuracy(model, xt, yt) > 0.5  # chance is 0.1


def test_pipeline_writes_model_and_results(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    x, y = _synthetic(300, seed=0)
    xt, yt = _synthetic(100, seed=1)
    fake = MnistData(train=MnistSplit(x.numpy(), y.numpy().astype(np.int64)),
                     test=MnistSplit(xt.numpy(), yt.numpy().astype(np.int64)), source="synthetic")
    monkeypatch.setattr(pipeline, "load_mnist", lambda name, data_dir=None: fake)
    out = tmp_path / "reader"
    cfg = reader_recipe("quick", **{"data.limit": 200, "model": SMALL, "train.epochs": 2, "train.progress": False,
                                    "train.batch_size": 32})
    metrics = pipeline.train_digit_reader(cfg, out)
    assert metrics["n_train"] == 200 and metrics["n_test"] == 100
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["train_seconds"] > 0
    assert 0.0 <= metrics["average_digit_accuracy"] <= 1.0
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == "digit_reader"
    assert reader_from_json(read_json(out / "config.json")) == cfg  # the run says how it trained
    assert results["test"]["accuracy"] == pytest.approx(metrics["test_accuracy"])
    loaded = load_model(out, expect="digit_reader")
    assert pipeline.accuracy(loaded, xt, yt) == pytest.approx(metrics["test_accuracy"])


def test_read_glyphs_spaces_and_signs_without_a_trained_reader():
    torch.manual_seed(0)
    reader = DigitReader(SMALL)
    minus = torch.from_numpy(operator_glyph_pool("-", 4, rng=7)).float() / 255
    plus = torch.from_numpy(operator_glyph_pool("+", 4, rng=8, layout="v21")).float() / 255
    blank = torch.zeros(4, 28, 28)
    images = torch.stack([minus, blank, plus], dim=1)  # 4 strings "- +"
    assert pipeline.read_glyphs(reader, images, "0123456789+- ") == ["- +"] * 4
    # Characters missing from the charset are never produced.
    out = pipeline.read_glyphs(reader, images, "0123456789")
    assert all(len(s) == 3 and s.isdigit() for s in out)
    # A blurry "average" minus, as a text-to-image model draws it, is still a minus.
    average = torch.from_numpy(operator_glyph_pool("-", 64, rng=9)).float().mean(0) / 255
    assert pipeline.read_glyphs(reader, average.expand(1, 1, 28, 28), "0123456789- ") == ["-"]
    digits = _synthetic(5, seed=3)[0].reshape(1, 5, 28, 28)  # uint8 input works
    assert pipeline.read_glyphs(reader, digits, "0123456789+- ")[0].isdigit()
    with pytest.raises(LatentworksError):
        pipeline.read_glyphs(reader, torch.zeros(2, 3, 14, 14), "0123456789")


def test_find_or_train_reader_trains_once_then_loads(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    x, y = _synthetic(100, seed=0)
    fake = MnistData(train=MnistSplit(x.numpy(), y.numpy().astype(np.int64)),
                     test=MnistSplit(x.numpy(), y.numpy().astype(np.int64)), source="embedded (synthetic)")
    monkeypatch.setattr(pipeline, "load_mnist", lambda name, data_dir=None, **kw: fake)
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENTWORKS_READER", raising=False)
    monkeypatch.setattr(pipeline, "PACKAGED_READER", tmp_path / "no-packaged-reader")
    original = pipeline.train_digit_reader
    calls = []

    def small_train(cfg, out):
        calls.append(cfg.recipe)
        return original(override(cfg, {"data.limit": 64, "train.epochs": 1, "model": SMALL}), out)

    monkeypatch.setattr(pipeline, "train_digit_reader", small_train)
    first = pipeline.find_or_train_reader(None, progress=False)
    assert calls == ["quick"]  # only the embedded sample: the quick recipe
    assert first.run_dir == tmp_path / "cache" / "digit_reader_quick"
    again = pipeline.find_or_train_reader(None, progress=False)
    assert calls == ["quick"]  # cached, not retrained
    probe = torch.rand(3, 28, 28)
    assert torch.equal(first(probe), again(probe)) and not again.training
    monkeypatch.setenv("LATENTWORKS_READER", str(first.run_dir))
    assert pipeline.find_or_train_reader(None).run_dir == first.run_dir
    assert pipeline.find_or_train_reader(first.run_dir).run_dir == first.run_dir
    with pytest.raises(LatentworksError):
        pipeline.find_or_train_reader(tmp_path / "nowhere")


def test_packaged_reader_is_found_first_and_reads_mnist_test(monkeypatch):
    from latentworks.data.mnist import load_mnist

    monkeypatch.delenv("LATENTWORKS_READER", raising=False)
    reader = pipeline.find_or_train_reader(None, data_dir="embedded", progress=False)
    assert reader.run_dir == pipeline.PACKAGED_READER
    test = load_mnist("mnist", data_dir="embedded").test
    labels, _ = reader.predict(torch.from_numpy(test.images.copy()))
    assert (labels.numpy() == test.labels).mean() > 0.98
