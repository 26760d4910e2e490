"""GAN updates: a D step leaves G untouched and vice versa, both schemes, logged metrics, the weight average."""

import pytest
import torch

from latentworks.config import ConfigError, validate
from latentworks.models.dcgan import DCGAN
from latentworks.models.gan_updates import PairCritic, discriminator_step, generator_step
from latentworks.training.config import TrainConfig
from latentworks.training.module import StepContext

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


GAN_TRAIN = TrainConfig(lr=2e-4, betas=(0.5, 0.999))


def make_optimizers(model: DCGAN, train: TrainConfig = GAN_TRAIN):
    return model.configure_optimizers(train)


def context(model: DCGAN) -> StepContext:
    return StepContext(seed=0, rank=0, world_size=1, device=torch.device("cpu"),
                       optimizers=make_optimizers(model), wrap=lambda m: m)


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
    model = tiny_gan(d_norm=d_norm, scheme=scheme)
    opts = make_optimizers(model)
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
    model = tiny_gan(d_norm=d_norm, scheme=scheme)
    opts = make_optimizers(model)
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
    shared = make_optimizers(tiny_gan(scheme="notebook"))
    assert set(shared) == {"shared"}
    assert len(shared["shared"].param_groups[0]["params"]) == len(list(model.parameters()))
    with pytest.raises(ConfigError, match="scheme"):
        tiny_gan(scheme="wgan")


@pytest.mark.parametrize("scheme", ["default", "notebook"])
def test_training_step_logs_the_four_metrics_and_draws_noise_by_step(scheme):
    model = tiny_gan(scheme=scheme)
    ctx = context(model)
    images = (torch.rand(16, 1, 28, 28) * 255).to(torch.uint8)
    first = model.training_step((images,), ctx)
    ctx.step = 1
    out = model.training_step((images,), ctx)
    assert out.loss is None  # it stepped its own optimizers: nothing for the trainer to run backward on
    second = out.logs
    assert set(second) >= {"d_loss", "g_loss", "d_acc_real", "d_acc_fake", "d_real", "d_fake"}
    assert all(isinstance(v, float) for v in second.values())
    assert first.logs["d_loss"] != second["d_loss"] and second["d_loss"] > 0
    assert not torch.equal(torch.randn(4, generator=ctx.noise()), torch.randn(4, generator=context(model).noise()))


@pytest.mark.parametrize("scheme", ["default", "notebook"])
def test_training_step_folds_the_generator_into_its_average_and_nothing_else(scheme):
    model = tiny_gan(ema=0.9, scheme=scheme)
    images = (torch.rand(16, 1, 28, 28) * 255).to(torch.uint8)
    before = state(model.generator_ema)
    model.training_step((images,), context(model))
    assert int(model.ema_updates) == 1
    assert moved(before, state(model.generator_ema))
    # The warm-up decay at t = 0 is 1/10: the average moved a tenth of the way towards the live weights.
    for (name, avg), live in zip(model.generator_ema.named_parameters(), model.generator.parameters()):
        expected = 0.1 * before[name] + 0.9 * live.detach()
        assert torch.allclose(avg, expected, atol=1e-6), name
        assert avg.requires_grad is False


def test_d_lr_gives_the_discriminator_its_own_rate():
    opts = make_optimizers(tiny_gan(d_lr=4e-4), TrainConfig(lr=1e-4))
    assert opts["g"].param_groups[0]["lr"] == 1e-4 and opts["d"].param_groups[0]["lr"] == 4e-4
    with pytest.raises(ConfigError, match="shares one optimizer"):
        validate(DCGAN.Config(scheme="notebook", d_lr=4e-4))
    with pytest.raises(ConfigError, match="--d-lr -1.0: must be a positive"):
        validate(DCGAN.Config(d_lr=-1.0))


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
    ctx = context(model)
    images = (torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    accs = []
    for i in range(40):
        ctx.step = i
        accs.append(model.training_step((images,), ctx).logs["code_acc"])
    assert sum(accs[-5:]) / 5 > sum(accs[:5]) / 5 + 0.2  # the code head and G agree on the codes
    with pytest.raises(ConfigError, match="codes"):
        validate(DCGAN.Config(codes=3, scheme="notebook"))
