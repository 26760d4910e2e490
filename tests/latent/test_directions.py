import numpy as np
import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.latent import directions as dirs
from latentworks.latent.testing import ToyVAE


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def gan():
    from latentworks.models.dcgan import DCGAN

    torch.manual_seed(0)
    return DCGAN(DCGAN.Config(latent_dim=6, filters=4, max_filters=8)).eval()


def test_pca_finds_the_stretched_axes_and_their_share_of_the_variance():
    rng = np.random.default_rng(0)
    rot = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    z = torch.from_numpy((rng.normal(size=(4000, 4)) * [3.0, 2.0, 1.0, 0.5]) @ rot.T)
    p = dirs.pca(z, 2)
    assert torch.allclose(p.components.norm(dim=1), torch.ones(2, dtype=z.dtype))
    cosines = (p.components @ torch.from_numpy(rot[:, :2])).abs().diagonal()
    assert (cosines > 0.99).all()  # the two widest axes, widest first
    expected = np.array([9.0, 4.0]) / (9 + 4 + 1 + 0.25)
    np.testing.assert_allclose(p.ratio.numpy(), expected, atol=0.02)
    np.testing.assert_allclose(p.std.numpy(), [3.0, 2.0], rtol=0.05)


def test_ganspace_gives_unit_directions_whose_variance_shares_fall(gan):
    assert dirs.first_layer(gan) is not None  # GANSpace proper, not its fallback for dense-less generators
    found = dirs.principal_directions(gan, 4, seed=3)
    assert found.source == "ganspace" and found.note is None
    assert found.vectors.shape == (4, 6) and found.scale.shape == found.explained_variance.shape == (4,)
    np.testing.assert_allclose(np.linalg.norm(found.vectors, axis=1), 1.0, atol=1e-5)
    share = found.explained_variance
    assert (np.diff(share) <= 0).all() and 0 < share.sum() <= 1 and (found.scale > 0).all()
    again, other = dirs.principal_directions(gan, 4, seed=3), dirs.principal_directions(gan, 4, seed=4)
    np.testing.assert_array_equal(found.vectors, again.vectors)
    assert not np.allclose(found.vectors, other.vectors)
    assert len(dirs.principal_directions(gan, 50).vectors) == 6  # never more than the latent has dimensions
    with pytest.raises(LatentworksError, match="at least 1"):
        dirs.principal_directions(gan, 0)


def test_encoded_latents_give_their_principal_axes_and_an_encoder_without_data_says_so():
    vae = ToyVAE(ToyVAE.Config(latent_dim=3, image_size=8)).eval()
    z = torch.randn(500, 3, generator=torch.Generator().manual_seed(0)) * torch.tensor([0.1, 2.0, 0.5])
    found = dirs.principal_directions(vae, 2, encoded=z)
    assert found.source == "pca" and np.argmax(np.abs(found.vectors[0])) == 1
    assert found.explained_variance[0] > 0.9
    fallback = dirs.principal_directions(vae, 2)
    assert fallback.source == "ganspace" and "config.json" in fallback.note


def test_the_figure_has_a_row_per_direction(gan, tmp_path):
    found = dirs.principal_directions(gan, 3)
    path = dirs.directions_figure(gan, found, tmp_path / "d.png", steps=5)
    assert path.exists() and path.stat().st_size > 0
    with pytest.raises(LatentworksError, match="--steps"):
        dirs.directions_figure(gan, found, tmp_path / "e.png", steps=1)
