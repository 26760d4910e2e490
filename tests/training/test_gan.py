"""GAN updates: a D step leaves G untouched and vice versa, both schemes, logged metrics, the weight average."""

from types import SimpleNamespace

import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.models.dcgan import DCGAN
from latentworks.training.gan import (
    PairCritic,
    discriminator_step,
    generator_step,
    make_optimizers,
    make_step_fn,
)

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def grad_enabled():
    """Gradients on, whatever an earlier test left in torch's global grad mode."""
    with torch.enable_grad():
        yield


def tiny_gan(**kw) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(
        DCGAN.Config(image_size=28, channels=1, latent_dim=8, filters=4, max_filters=8, **kw)
    ).train()


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def moved(a, b):
    return any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


def real_batch(n=16):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("scheme,d_norm", [("default", None), ("notebook", None), ("default", "spectral")])
def test_discriminator_step_leaves_generator_untouched(scheme, d_norm):
    model = tiny_gan(d_norm=d_norm)
    opts = make_optimizers(model, scheme)
    opt_d = opts.get("d", opts.get("shared"))
    fake = model.generator(torch.randn(16, 8))
    g_before, d_before = state(model.generator), state(model.discriminator)
    logs = discriminator_step(
        PairCritic(model.discriminator), opt_d, real_batch(), fake, pooled=scheme == "notebook"
    )
    assert same(g_before, state(model.generator))
    assert moved(d_before, state(model.discriminator))
    assert set(logs) >= {"d_loss", "d_acc_real", "d_acc_fake"}
    assert 0 <= logs["d_acc_real"] <= 1 and 0 <= logs["d_acc_fake"] <= 1


@pytest.mark.parametrize("scheme,d_norm", [("default", None), ("notebook", None), ("default", "spectral")])
def test_generator_step_leaves_discriminator_untouched(scheme, d_norm):
    model = tiny_gan(d_norm=d_norm)
    opts = make_optimizers(model, scheme)
    opt_g = opts.get("g", opts.get("shared"))
    # Give D stale gradients, as after a D step: the G step must neither apply nor add to them.
    discriminator_step(
        PairCritic(model.discriminator),
        opts.get("d", opt_g),
        real_batch(),
        model.generator(torch.randn(16, 8)).detach(),
    )
    d_before, g_before = state(model.discriminator), state(model.generator)
    logs = generator_step(model.discriminator, opt_g, model.generator(torch.randn(16, 8)))
    assert same(d_before, state(model.discriminator))  # weights AND buffers (batch-norm or power-iteration)
    assert moved(g_before, state(model.generator))
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert logs["g_loss"] > 0


def test_default_optimizers_are_separate_adams_notebook_shares_one():
    model = tiny_gan()
    opts = make_optimizers(model)
    assert set(opts) == {"g", "d"}
    for opt in opts.values():
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
    shared = make_optimizers(model, "notebook")
    assert set(shared) == {"shared"}
    assert len(shared["shared"].param_groups[0]["params"]) == len(list(model.parameters()))
    with pytest.raises(LatentworksError, match="scheme"):
        make_optimizers(model, "wgan")


def fake_trainer(model, scheme="default"):
    return SimpleNamespace(
        raw_model=model,
        model=model,
        optimizers=make_optimizers(model, scheme),
        device=torch.device("cpu"),
        step=0,
        steps_per_epoch=100,
        cfg=SimpleNamespace(log_every=2, seed=0),
    )


@pytest.mark.parametrize("scheme", ["default", "notebook"])
def test_step_fn_logs_the_four_metrics(scheme):
    model = tiny_gan()
    trainer = fake_trainer(model, scheme)
    images = (torch.rand(16, 1, 28, 28) * 255).to(torch.uint8)
    step = make_step_fn(scheme)
    first = step(trainer, (images,))
    trainer.step = 1
    second = step(trainer, (images,))  # a log step: the mean of steps 1 and 2
    assert set(second) >= {"d_loss", "g_loss", "d_acc_real", "d_acc_fake", "lr"}
    assert all(isinstance(v, float) for v in second.values())
    trainer.step = 2
    third = step(trainer, (images,))  # a fresh window
    assert first["d_loss"] != second["d_loss"] and third["d_loss"] > 0


@pytest.mark.parametrize("scheme", ["default", "notebook"])
def test_step_fn_folds_the_generator_into_its_average_and_nothing_else(scheme):
    model = tiny_gan(ema=0.9)
    trainer = fake_trainer(model, scheme)
    images = (torch.rand(16, 1, 28, 28) * 255).to(torch.uint8)
    before = state(model.generator_ema)
    make_step_fn(scheme)(trainer, (images,))
    assert int(model.ema_updates) == 1
    assert moved(before, state(model.generator_ema))
    # The warm-up decay at t = 0 is 1/10: the average moved a tenth of the way towards the live weights.
    for (name, avg), live in zip(model.generator_ema.named_parameters(), model.generator.parameters()):
        expected = 0.1 * before[name] + 0.9 * live.detach()
        assert torch.allclose(avg, expected, atol=1e-6), name
        assert avg.requires_grad is False


def test_d_lr_gives_the_discriminator_its_own_rate():
    opts = make_optimizers(tiny_gan(), lr=1e-4, d_lr=4e-4)
    assert opts["g"].param_groups[0]["lr"] == 1e-4 and opts["d"].param_groups[0]["lr"] == 4e-4
    with pytest.raises(LatentworksError, match="shares one optimizer"):
        make_optimizers(tiny_gan(), "notebook", lr=1e-4, d_lr=4e-4)
    with pytest.raises(LatentworksError, match="--d-lr must be positive"):
        make_optimizers(tiny_gan(), lr=1e-4, d_lr=-1.0)


def test_codes_add_the_code_loss_to_both_updates_and_each_step_still_moves_one_network():
    model = tiny_gan(codes=4)
    opts = make_optimizers(model)
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    codes = z[:, :4].argmax(1)
    fake = model.generator(z)  # (its batch norm's running statistics move here, before the snapshot)
    g_before, d_before = state(model.generator), state(model.discriminator)
    logs = discriminator_step(PairCritic(model.discriminator), opts["d"], real_batch(), fake, fake_codes=codes)
    assert same(g_before, state(model.generator)) and moved(d_before, state(model.discriminator))
    assert 0 <= logs["code_acc"] <= 1
    assert model.discriminator.code_head.weight.grad is not None  # D learns to name the codes
    plain = discriminator_step(PairCritic(model.discriminator), opts["d"], real_batch(), model.generator(z))
    assert "code_acc" not in plain
    fake = model.generator(z)
    d_before, g_before = state(model.discriminator), state(model.generator)
    with_code = generator_step(model.discriminator, opts["g"], fake, fake_codes=codes)
    assert same(d_before, state(model.discriminator)) and moved(g_before, state(model.generator))
    assert with_code["g_loss"] > 0


def test_codes_learn_to_be_recognised_and_the_notebook_scheme_refuses_them():
    model = tiny_gan(codes=3)
    trainer = fake_trainer(model)
    images = (torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    step = make_step_fn()
    accs = []
    for i in range(40):
        trainer.step = i
        accs.append(step(trainer, (images,))["code_acc"])
    assert sum(accs[-5:]) / 5 > sum(accs[:5]) / 5 + 0.2  # the code head and G agree on the codes
    with pytest.raises(LatentworksError, match="codes"):
        make_optimizers(model, "notebook")
