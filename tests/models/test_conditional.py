"""CVAE and cGAN: labels reach the decoder and the encoder / discriminator, and are required and checked."""

import pytest
import torch
from torch import nn

from latentworks.errors import LatentworksError
from latentworks.models.conditional import CGAN, CVAE, class_labels
from latentworks.models.gan_updates import PairCritic, discriminator_step
from latentworks.training.config import TrainConfig

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def grad_enabled():
    """Gradients on, whatever an earlier test left in torch's global grad mode."""
    with torch.enable_grad():
        yield


SMALL = dict(image_size=28, channels=1, latent_dim=6, filters=4, max_filters=8)


def first_conv(module) -> nn.Conv2d:
    return next(m for m in module.modules() if isinstance(m, nn.Conv2d))


def test_cvae_conditions_encoder_and_decoder():
    torch.manual_seed(0)
    model = CVAE(CVAE.Config(**SMALL)).eval()
    assert model.conditional and model.num_classes == 10 and model.kind == "cvae"
    assert first_conv(model.encoder).in_channels == 1 + 10  # one-hot label maps as extra channels
    assert model.decoder.dense.in_features == 6 + 10  # one-hot concatenated to z
    z = model.sample_latent(3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model.decode(z, torch.tensor([1, 1, 1])), model.decode(z, torch.tensor([7, 7, 7]))
        assert a.shape == (3, 1, 28, 28) and not torch.allclose(a, b)
        assert torch.equal(model.decode(z, 4), model.decode(z, torch.tensor([4, 4, 4])))
        x = torch.rand(3, 1, 28, 28)
        y = torch.tensor([0, 5, 9])
        assert model.encode(x, y).shape == (3, 6) and model.reconstruct(x, y).shape == x.shape
        assert model.elbo(x, 2, y).shape == (3,) and model.iw_nll(x, 5, y).shape == (3,)
    loss, logs = model.train()(x, y)
    assert loss.ndim == 0 and "kl" in logs


def test_cgan_discriminator_sees_labels_both_ways():
    torch.manual_seed(0)
    model = CGAN(CGAN.Config(**SMALL)).train()
    assert model.config.d_cond == "both"
    assert first_conv(model.discriminator).in_channels == 1 + 10
    assert model.discriminator.project.weight.shape == (10, model.discriminator.net.feature_dim)
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(
            model.discriminate(x, torch.zeros(4, dtype=torch.long)),
            model.discriminate(x, torch.full((4,), 3)),
        )
    proj = CGAN(CGAN.Config(**SMALL, d_cond="projection"))
    assert first_conv(proj.discriminator).in_channels == 1
    opt = model.configure_optimizers(TrainConfig(lr=2e-4, betas=(0.5, 0.999)))["d"]
    fake = model.generator(torch.randn(4, 6), torch.tensor([0, 1, 2, 3]))
    logs = discriminator_step(
        PairCritic(model.discriminator),
        opt,
        x * 2 - 1,
        fake,
        torch.tensor([3, 2, 1, 0]),
        torch.tensor([0, 1, 2, 3]),
    )
    assert "d_acc_real" in logs


def test_embedding_label_code():
    model = CGAN(CGAN.Config(**SMALL, cond_embed="embedding", embed_dim=5))
    assert model.generator.net.dense.in_features == 6 + 5
    with torch.no_grad():
        assert model.eval().decode(torch.zeros(2, 6), torch.tensor([0, 9])).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("cls", [CVAE, CGAN])
def test_labels_are_required_and_range_checked(cls):
    model = cls(cls.Config(**SMALL)).eval()
    z = torch.zeros(2, 6)
    with pytest.raises(LatentworksError, match="conditional"):
        model.decode(z)
    with pytest.raises(LatentworksError, match=r"0\.\.9"):
        model.decode(z, torch.tensor([0, 10]))
    with pytest.raises(LatentworksError, match="labels for"):
        model.decode(z, torch.tensor([0, 1, 2]))
    with pytest.raises(LatentworksError, match="at least 2 classes"):
        cls(cls.Config(**{**SMALL, "num_classes": 1}))


def test_class_labels_cycle():
    assert class_labels(12, 10).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
