"""Conv / transposed-conv builders: shapes for every size and channel count, presets, options, bad input."""

import pytest
import torch
from torch import nn

from latentworks.data.images import check_image_size
from latentworks.errors import LatentworksError
from latentworks.models.builders import (
    check_bf16,
    conv_stack,
    deconv_stack,
    level_filters,
)
from latentworks.recipes.generative import NOTEBOOK_STACK

torch.set_num_threads(1)
# The course's stack, as the notebook recipe names it (the decoder's activation is a model field).
NOTEBOOK = {k: v for k, v in NOTEBOOK_STACK.items() if k != "dec_activation"}
STYLES = {"default": {}, "notebook": NOTEBOOK}


@pytest.mark.parametrize("preset", ["default", "notebook"])
@pytest.mark.parametrize("size", [28, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_stack_shapes_every_size_and_channel_count(preset, size, channels):
    enc = conv_stack(size, channels, 5, **{**STYLES[preset], "filters": 4, "max_filters": 8})
    dec = deconv_stack(size, channels, 6, "sigmoid", **{**STYLES[preset], "filters": 4, "max_filters": 8})
    x = torch.rand(2, channels, size, size)
    assert enc(x).shape == (2, 5)
    assert enc.features(x).shape == (2, enc.feature_dim)
    y = dec(torch.randn(2, 6)).detach()
    assert y.shape == (2, channels, size, size)
    assert float(y.min()) >= 0 and float(y.max()) <= 1


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_odd_sizes_round_trip_at_28(depth):
    dec = deconv_stack(28, 1, 3, depth=depth, filters=4)
    assert dec(torch.randn(1, 3)).shape == (1, 1, 28, 28)
    assert conv_stack(28, 1, 2, depth=depth, filters=4).sizes[-1] == [14, 7, 3][depth - 1]


def test_channel_doubling_per_level():
    assert level_filters(32, 256, 4, "default") == [32, 64, 128, 256]
    assert level_filters(32, 256, 6, "default") == [32, 64, 128, 256, 256, 256]
    enc = conv_stack(64, 3, 1, depth=4, filters=32, max_filters=256)
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    dec = deconv_stack(64, 3, 10, depth=4, filters=32, max_filters=256)
    ups = [m for m in dec.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [128, 64, 32, 3]
    assert dec.start_channels == 256 and dec.start == 4


def test_notebook_preset_is_the_course_stack_at_64():
    enc = conv_stack(64, 3, 32, "sigmoid", **NOTEBOOK)
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 and all(
        c.out_channels == 128 and c.kernel_size == (3, 3) and c.stride == (2, 2) for c in convs
    )
    assert enc.sizes == [64, 32, 16, 8, 4, 2] and enc.feature_dim == 2 * 2 * 128
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.LeakyReLU, nn.Dropout)) for m in enc.modules())
    assert isinstance(enc.out_act, nn.Sigmoid)
    dec = deconv_stack(64, 3, 32, "tanh", **NOTEBOOK)
    assert dec.dense.out_features == 4 * 4 * 64 and len(dec.pre) == 0
    ups = [m for m in dec.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 4 and all(u.out_channels == 128 for u in ups)
    last = [m for m in dec.body if isinstance(m, nn.Conv2d) and not isinstance(m, nn.ConvTranspose2d)]
    assert len(last) == 1 and last[0].out_channels == 3 and last[0].kernel_size == (3, 3)
    assert NOTEBOOK_STACK["init"] == "xavier"


def test_options_norm_dropout_activation():
    enc = conv_stack(32, 1, 1, norm="none", dropout=0.3, activation="relu", filters=4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in enc.modules())
    assert sum(isinstance(m, nn.Dropout) for m in enc.modules()) == 3
    assert any(isinstance(m, nn.ReLU) for m in enc.modules())
    enc = conv_stack(32, 1, 1, filters=4)  # default: BN on every level but the first, LeakyReLU
    assert sum(isinstance(m, nn.BatchNorm2d) for m in enc.modules()) == 2
    assert any(isinstance(m, nn.LeakyReLU) for m in enc.modules())


def test_init_normal_and_xavier():
    torch.manual_seed(0)
    w = conv_stack(64, 3, 1, init="normal", filters=32).body[0].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.004
    w = conv_stack(64, 3, 1, init="xavier", filters=32).body[0].weight.detach()
    fan_in, fan_out = 3 * 16, 32 * 16
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert float(w.abs().max()) <= bound + 1e-6 and float(w.abs().max()) > 0.8 * bound


@pytest.mark.parametrize("size", [0, 30, 100, 2048])
def test_unsupported_sizes_are_one_line_errors(size):
    with pytest.raises(LatentworksError, match="not supported") as err:
        check_image_size(size)
    assert "\n" not in str(err.value)


def test_bad_options_are_errors():
    with pytest.raises(LatentworksError, match="too deep"):
        conv_stack(8, 1, 1, depth=4)
    with pytest.raises(LatentworksError, match="norm"):
        conv_stack(32, 1, 1, norm="layer")
    with pytest.raises(LatentworksError, match="dropout"):
        conv_stack(32, 1, 1, dropout=1.0)


def test_spectral_norm_bounds_every_encoder_layer_and_decoders_refuse_it():
    net = conv_stack(28, 1, 1, depth=3, filters=8, norm="spectral")
    net.train()
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        for _ in range(30):  # one power iteration per forward
            net(x)
    layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(layers) == 4 and not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.02)
        original = m.parametrizations.weight.original.detach().flatten(1)
        assert abs(float(torch.linalg.matrix_norm(original, ord=2)) - 1.0) > 0.1  # N(0, 0.02) init: far from 1
    with pytest.raises(LatentworksError, match="--d-norm spectral"):
        deconv_stack(28, 1, 8, depth=3, filters=8, norm="spectral")


def test_bf16_stacks_compute_in_bfloat16_and_hand_back_float32():
    """The same weights, with and without --bf16: float32 outputs and gradients either way, close but not equal."""
    torch.manual_seed(0)
    exact = (conv_stack(32, 3, 1), deconv_stack(32, 3, 8, "tanh"))
    fast = (conv_stack(32, 3, 1, bf16=True), deconv_stack(32, 3, 8, "tanh", bf16=True))
    for a, b in zip(exact, fast):
        b.load_state_dict(a.state_dict())
    x, z = torch.rand(4, 3, 32, 32) * 2 - 1, torch.randn(4, 8)
    for net, (want, got) in {"conv": (exact[0](x), fast[0](x)), "deconv": (exact[1](z), fast[1](z))}.items():
        assert got.dtype == torch.float32 and got.shape == want.shape, net
        assert not torch.equal(got, want), net  # the products did run in bfloat16
        torch.testing.assert_close(got, want, atol=0.05, rtol=0.05)
    fast[0](fast[1](z)).sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for net in fast for p in net.parameters())


def test_a_generative_config_s_bf16_reaches_both_stacks():
    from latentworks.models.dcgan import DCGAN

    gan = DCGAN(DCGAN.Config(bf16=True))
    assert gan.generator.net.bf16 and gan.discriminator.net.bf16
    assert not DCGAN(DCGAN.Config()).generator.net.bf16


@pytest.mark.parametrize("units", [(), ("_is_avx512_bf16_supported",), ("_is_amx_tile_supported",)])
def test_bf16_is_refused_on_a_cpu_without_bfloat16_units(monkeypatch, units):
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda probe=probe: probe in units, raising=False)
    if units:
        check_bf16(torch.device("cpu"))
    else:
        with pytest.raises(LatentworksError, match="no bfloat16 units.*pass --no-bf16"):
            check_bf16(torch.device("cpu"))
