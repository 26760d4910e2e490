"""VAE maths: closed-form KL vs Monte Carlo, ELBO / IW bounds, the course's loss weighting, the interface."""

import math

import pytest
import torch
import torch.nn.functional as F

from latentworks.errors import LatentworksError
from latentworks.models.cae import CAE
from latentworks.models.vae import VAE

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def grad_enabled():
    """Gradients on, whatever an earlier test left in torch's global grad mode."""
    with torch.enable_grad():
        yield


def tiny_vae(**kw) -> VAE:
    torch.manual_seed(0)
    return VAE(VAE.Config(image_size=28, channels=1, latent_dim=4, filters=4, max_filters=8, **kw))


def binary_images(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 28, 28, generator=g) < 0.2).float()


def test_closed_form_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g) * 0.5
    closed = VAE.kl_divergence(mu, logvar)
    std = (0.5 * logvar).exp()
    z = mu + std * torch.randn(200_000, 3, 5, generator=g)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    mc = (log_q - log_p).mean(0)
    assert torch.allclose(closed, mc, atol=0.03), (closed, mc)
    assert torch.all(closed >= 0)


def test_importance_weighted_bound_beats_elbo_and_tightens_with_k():
    model = tiny_vae().eval()
    x = binary_images(32)
    elbo = model.elbo(x, k=50, generator=torch.Generator().manual_seed(0)).mean()
    bounds = {k: -model.iw_nll(x, k, generator=torch.Generator().manual_seed(k)).mean() for k in (1, 10, 100)}
    assert abs(float(bounds[1] - elbo)) < 0.02 * abs(float(elbo))  # k = 1 is an unbiased ELBO estimate
    assert bounds[10] > elbo and bounds[100] > bounds[10] > bounds[1]


def test_iw_nll_is_chunked_without_changing_the_estimate_much():
    model = tiny_vae().eval()
    x = binary_images(4)
    a = model.iw_nll(x, 64, generator=torch.Generator().manual_seed(0), chunk=7)
    b = model.iw_nll(x, 64, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4,) and torch.allclose(a, b, rtol=0.01)


def test_elbo_loss_and_notebook_loss_weighting():
    x = binary_images(8)
    model = tiny_vae(beta=2.0).train()
    torch.manual_seed(5)
    loss, logs = model(x)
    torch.manual_seed(5)
    mu, logvar = model.encode_dist(x)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    logits = model.decode_logits(z)
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = VAE.kl_divergence(mu, logvar)
    assert torch.allclose(loss, (bce + 2.0 * kl).mean(), rtol=1e-5)
    assert logs["kl"] == pytest.approx(float(kl.detach().mean()), rel=1e-5)

    nb = tiny_vae(loss="notebook").train()
    torch.manual_seed(5)
    loss, _ = nb(x)
    torch.manual_seed(5)
    mu, logvar = nb.encode_dist(x)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    expected = (
        F.binary_cross_entropy_with_logits(nb.decode_logits(z), x) + VAE.kl_divergence(mu, logvar).sum() / 784
    )
    assert torch.allclose(loss, expected, rtol=1e-5)


def test_gaussian_likelihood_is_a_normal_density():
    model = tiny_vae(likelihood="gaussian", decoder_std=0.3)
    x, logits = torch.rand(2, 1, 28, 28), torch.randn(2, 1, 28, 28)
    expected = torch.distributions.Normal(torch.sigmoid(logits), 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(model.log_likelihood(x, logits), expected, rtol=1e-5)


def test_interface_decode_encode_reconstruct_sample():
    model = tiny_vae().eval()
    assert model.conditional is False and model.num_classes == 0
    z = model.sample_latent(6, torch.Generator().manual_seed(0), truncate=2.0, scale=0.5)
    assert z.shape == (6, 4) and float(z.abs().max()) <= 1.0
    with torch.no_grad():
        images = model.decode(z)
        assert images.shape == (6, 1, 28, 28) and float(images.min()) >= 0 and float(images.max()) <= 1
        assert torch.equal(model.encode(images), model.encode_dist(images)[0])
        assert model.reconstruct((images * 255).to(torch.uint8)).shape == images.shape
    with pytest.raises(LatentworksError, match="latent"):
        model.decode(torch.zeros(2, 5))
    with pytest.raises(LatentworksError, match="--size 28"):
        model.encode(torch.zeros(2, 1, 32, 32))


def test_cae_sampler_follows_its_code_statistics():
    torch.manual_seed(0)
    cae = CAE(CAE.Config(image_size=28, channels=1, latent_dim=3, filters=4)).train()
    x = torch.rand(64, 1, 28, 28)
    loss, logs = cae(x)
    assert loss.ndim == 0 and "recon_mse" in logs
    assert float(cae.code_count) == 1 and not torch.equal(cae.code_std, torch.ones(3))
    z = cae.sample_latent(4000, torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), cae.code_mean, atol=0.1 * float(cae.code_std.max()) + 1e-3)
    with torch.no_grad():
        assert cae.eval().reconstruct(x[:2]).shape == (2, 1, 28, 28)


def test_bad_vae_options_are_errors():
    with pytest.raises(LatentworksError, match="likelihood"):
        tiny_vae(likelihood="poisson")
    with pytest.raises(LatentworksError, match="loss"):
        tiny_vae(loss="bce")
    assert math.isclose(tiny_vae().config.decoder_std, 2**-0.5)


def test_free_bits_leave_small_kl_unpenalised_and_the_logged_elbo_true():
    torch.manual_seed(0)
    model = tiny_vae()
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(1)
    plain_loss, plain = model(x)
    model.config.free_bits = 1e3  # far above any dimension's KL: the KL term is a constant
    torch.manual_seed(1)
    free_loss, free = model(x)
    assert free["elbo"] == plain["elbo"] and free["kl"] == plain["kl"]  # the measure does not change
    dims = model.config.latent_dim
    assert free_loss.item() == pytest.approx(free["recon_nll"] + 1e3 * dims, rel=1e-5)
    mu, logvar = model.encode_dist(x)
    loss, _ = model(x)
    loss.backward()
    assert model.mu_head.weight.grad.abs().sum() > 0  # only through the reconstruction now
    assert plain_loss.item() < free_loss.item()


def test_the_fitted_prior_samples_where_the_training_codes_lie():
    model = tiny_vae(prior="fitted").eval()
    before = model.sample_latent(4, torch.Generator().manual_seed(0))
    assert torch.equal(before, tiny_vae().sample_latent(4, torch.Generator().manual_seed(0)))  # N(0, I) until fitted
    images = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    images[:150] *= 0.2  # two kinds of image: codes with a mean and a spread of their own, far from N(0, I)
    model.after_training((images * 255).to(torch.uint8))
    with torch.no_grad():
        codes = model.encode((images * 255).to(torch.uint8))
    z = model.sample_latent(20_000, torch.Generator().manual_seed(0))
    spread = codes.std(0)
    assert torch.allclose(z.mean(0), codes.mean(0), atol=float(0.05 * spread.max()))
    assert torch.allclose(torch.cov(z.T), torch.cov(codes.T), atol=float(0.05 * spread.max() ** 2), rtol=0.05)
    assert float((spread - 1).abs().max()) > 0.2  # the trained-from-scratch codes are not N(0, I): the fit moved
    small = model.sample_latent(1000, torch.Generator().manual_seed(0), truncate=1.0, scale=0.5)
    assert float(((small - model.prior_mean) @ torch.linalg.inv(model.prior_chol).T).abs().max()) <= 0.5 + 1e-4


def test_the_standard_prior_is_untouched_and_the_fitted_one_is_refused_where_it_cannot_work():
    model = tiny_vae()
    model.after_training(torch.rand(8, 1, 28, 28))  # nothing to fit
    assert not any("prior" in name for name in model.state_dict())
    with pytest.raises(LatentworksError, match="at least 2 training images"):
        tiny_vae(prior="fitted").after_training(torch.rand(1, 1, 28, 28))
    with pytest.raises(LatentworksError, match="--prior 'gmm'"):
        tiny_vae(prior="gmm")
    with pytest.raises(LatentworksError, match="unconditional"):
        tiny_vae(prior="fitted", num_classes=10)
