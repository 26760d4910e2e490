"""The autoregressive decoder head: causal masks, a sampler that agrees with the likelihood, and the VAE with it."""

import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.models.io import load_model, save_model
from latentworks.models.pixel_head import PixelHead
from latentworks.models.vae import VAE

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def grad_enabled():
    with torch.enable_grad():
        yield


def random_head(channels=6, layers=3, seed=0) -> PixelHead:
    torch.manual_seed(seed)
    head = PixelHead(channels, layers)
    for p in head.parameters():  # large weights so every allowed connection matters
        p.data.normal_(0, 0.5)
    return head


@pytest.mark.parametrize("layers", [1, 3])
def test_logits_depend_only_on_earlier_pixels(layers):
    head = random_head(layers=layers)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(1, 1, 9, 9, generator=g) < 0.5).float()
    features = torch.randn(1, 6, 9, 9, generator=g)
    for i, j in [(0, 0), (4, 4), (4, 8), (8, 0)]:
        xx = x.clone().requires_grad_(True)
        head(xx, features)[0, 0, i, j].backward()
        grad = xx.grad.flatten().abs()
        at = i * 9 + j
        assert float(grad[at:].sum()) == 0.0  # the pixel itself and everything after it are invisible
        if at > 0:
            assert float(grad[:at].sum()) > 0  # and some earlier pixel is seen


def test_row_cropped_sampler_equals_full_passes():
    head = random_head(layers=3)
    g = torch.Generator().manual_seed(1)
    features = torch.randn(3, 6, 12, 12, generator=g)
    uniform = torch.rand(1, 1, 12, 12, generator=g)
    fast = head.sample(features, uniform)
    slow = torch.zeros_like(fast)
    with torch.no_grad():
        for i in range(12):
            for j in range(12):
                p = torch.sigmoid(head(slow, features)[:, 0, i, j])
                slow[:, 0, i, j] = (uniform[0, 0, i, j] < p).float()
    assert torch.equal(fast, slow)
    assert 0 < float(fast.mean()) < 1


def test_sampled_pixels_follow_the_teacher_forced_probabilities():
    """Drawing many images and scoring them: the empirical pixel rate matches the model's mean probability."""
    head = random_head(channels=4, layers=2, seed=3)
    features = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(2)).expand(4000, -1, -1, -1)
    uniform = torch.rand(4000, 1, 6, 6, generator=torch.Generator().manual_seed(5))
    x = head.sample(features, uniform)
    with torch.no_grad():
        p = torch.sigmoid(head(x, features))
    # E[x_ij] = E[p(x_ij = 1 | x_<ij)] under the model; independent draws make the two averages agree.
    assert torch.allclose(x.mean(0), p.mean(0), atol=0.04)


def pixel_vae(**kw) -> VAE:
    torch.manual_seed(0)
    options = {"pixel_layers": 2, "pixel_channels": 4, **kw}
    return VAE(VAE.Config(image_size=28, latent_dim=4, filters=4, max_filters=8, **options))


def test_pixel_vae_bounds_decode_and_round_trip(tmp_path):
    model = pixel_vae().eval()
    x = (torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    loss, parts = model.train()(x)
    loss.backward()
    assert model.pixel_head.first.weight.grad.abs().sum() > 0
    model.eval()
    elbo = model.elbo(x, k=20, generator=torch.Generator().manual_seed(0)).mean()
    iw = -model.iw_nll(x, 50, generator=torch.Generator().manual_seed(1)).mean()
    assert iw > elbo
    z = torch.randn(3, 4)
    images = model.decode(z)
    assert images.shape == (3, 1, 28, 28) and set(images.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(images, model.decode(z))  # a fixed uniform field: decoding is deterministic
    with pytest.raises(LatentworksError, match="need the images"):
        model.decode_logits(z)
    save_model(model, tmp_path / "run")
    again = load_model(tmp_path / "run", expect="vae")
    assert torch.equal(again.decode(z), images)
    assert torch.allclose(again.elbo(x, generator=torch.Generator().manual_seed(0)),
                          model.elbo(x, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("kw", [dict(channels=3), dict(likelihood="gaussian"), dict(pixel_channels=0)])
def test_pixel_vae_refuses_what_it_cannot_model(kw):
    with pytest.raises(LatentworksError, match="pixel"):
        pixel_vae(**kw)
