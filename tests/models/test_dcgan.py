"""DCGAN the model: decode / discriminate interface, presets, and the generator's weight average."""

import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.models.dcgan import DCGAN
from latentworks.models.io import load_model, save_model

torch.set_num_threads(1)


def tiny_gan(**kw) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(
        DCGAN.Config(image_size=28, channels=1, latent_dim=8, filters=4, max_filters=8, **kw)
    ).train()


def test_interface_decode_in_unit_range_and_discriminate():
    model = tiny_gan().eval()
    assert model.conditional is False and model.num_classes == 0
    z = model.sample_latent(5, torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = model.decode(z)
        assert x.shape == (5, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
        assert model.discriminate(x).shape == (5,)
    with pytest.raises(LatentworksError, match="latent"):
        model.decode(torch.zeros(5, 9))


def test_notebook_recipe_gan_uses_course_latent_and_filters():
    from latentworks.recipes.generative import recipe, resolve

    cfg = resolve(recipe("notebook", kind="dcgan", **{"data.size": 64, "data.channels": 3}))
    model = DCGAN(cfg.model)
    assert model.config.latent_dim == 256 and model.config.filters == 128 and model.config.norm == "none"
    assert model.config.style == "notebook" and model.config.scheme == "notebook"
    assert set(model.configure_optimizers(cfg.train)) == {"shared"}
    with torch.no_grad():
        assert model.eval().decode(model.sample_latent(2)).shape == (2, 3, 64, 64)


def test_without_ema_decode_uses_the_live_generator():
    model = tiny_gan().eval()
    assert model.generator_ema is None and model.sampler() is model.generator


def test_ema_decode_samples_from_the_average_with_its_own_batch_norm_statistics():
    model = tiny_gan(ema=0.99).eval()
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(0.5)  # the live generator moves; the average has not been updated yet
    z = model.sample_latent(4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert model.sampler() is model.generator_ema
        averaged = model.decode(z)
        live = (model.generator(z) + 1) / 2
        assert not torch.allclose(averaged, live)
        model.update_ema()
        after = model.decode(z)
    assert not torch.allclose(after, averaged)  # the moved average decodes differently
    norms = [m for m in model.generator_ema.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.momentum == 0.1 for m in norms) and model.training is False


def test_ema_average_round_trips_through_save_and_load(tmp_path):
    model = tiny_gan(ema=0.9)
    with torch.no_grad():
        for p in model.generator.parameters():
            p.mul_(1.1)
    model.update_ema()
    save_model(model, tmp_path / "gan")
    loaded = load_model(tmp_path / "gan", expect="dcgan").eval()
    z = model.sample_latent(3, torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert int(loaded.ema_updates) == 1
        assert torch.equal(loaded.decode(z), model.eval().decode(z))


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_ema_decay_out_of_range_is_a_one_line_error(decay):
    with pytest.raises(LatentworksError, match="ema must be in"):
        tiny_gan(ema=decay)


def test_sample_average_off_decodes_from_the_live_generator():
    model = tiny_gan(ema=0.9).eval()
    model.sample_average = False
    z = model.sample_latent(3, torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert model.sampler() is model.generator
        assert torch.equal(model.decode(z), (model.generator(z) + 1) / 2)


def test_spectral_discriminator_keeps_the_generators_norm_and_round_trips(tmp_path):
    model = tiny_gan(d_norm="spectral")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.generator.modules())  # G keeps --norm
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        model.discriminate(x)  # a power iteration moves the stored singular vectors
    save_model(model, tmp_path / "gan")
    loaded = load_model(tmp_path / "gan", expect="dcgan").eval()
    with torch.no_grad():
        assert torch.equal(loaded.discriminate(x), model.eval().discriminate(x))


def test_codes_come_from_the_latent_and_change_the_image():
    model = tiny_gan(codes=4).eval()
    z = model.sample_latent(6, torch.Generator().manual_seed(2))
    swapped = z.clone()
    swapped[:, :4] = z[:, :4].flip(1)  # the same numbers, another argmax → another code for most rows
    codes, codes_swapped = z[:, :4].argmax(1), swapped[:, :4].argmax(1)
    with torch.no_grad():
        a, b = model.decode(z), model.decode(z)
        c = model.decode(swapped)
        logits, code_logits = model.discriminator(a * 2 - 1, with_codes=True)
    assert torch.equal(a, b)  # a function of z: the latent tools work unchanged
    differ = (a - c).flatten(1).abs().amax(1) > 0
    assert torch.equal(differ, codes != codes_swapped)
    assert logits.shape == (6,) and code_logits.shape == (6, 4)
    with pytest.raises(LatentworksError, match="code head"):
        tiny_gan().discriminator(a, with_codes=True)


@pytest.mark.parametrize("bad", [{"codes": 1}, {"codes": 9}, {"codes": -2}, {"codes": 4, "num_classes": 10}])
def test_bad_codes_are_one_line_errors(bad):
    with pytest.raises(LatentworksError, match="codes"):
        tiny_gan(**bad)


def test_codes_round_trip(tmp_path):
    model = tiny_gan(codes=3, ema=0.9).eval()
    save_model(model, tmp_path / "run")
    loaded = load_model(tmp_path / "run", expect="dcgan").eval()
    z = model.sample_latent(4, torch.Generator().manual_seed(0))
    assert loaded.config.codes == 3
    with torch.no_grad():
        assert torch.equal(model.decode(z), loaded.decode(z))
