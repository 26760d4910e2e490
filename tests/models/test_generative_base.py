import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.models.generative_base import GenOptions, ZCondition, label_maps, sample_normal


def test_sample_normal_truncation_scale_and_seed():
    a = sample_normal(500, 8, torch.Generator().manual_seed(3), truncate=1.0)
    b = sample_normal(500, 8, torch.Generator().manual_seed(3), truncate=1.0)
    assert torch.equal(a, b) and float(a.abs().max()) <= 1.0
    assert float(a.std()) < 0.7  # a truncated normal is narrower
    c = sample_normal(500, 8, torch.Generator().manual_seed(3), scale=0.17)
    d = sample_normal(500, 8, torch.Generator().manual_seed(3))
    assert torch.allclose(c, d * 0.17)
    with pytest.raises(LatentworksError):
        sample_normal(2, 2, truncate=0)
    with pytest.raises(LatentworksError, match="scale"):
        sample_normal(2, 2, scale=float("nan"))


def test_gen_options_hold_concrete_numbers_and_check_them():
    c = GenOptions(image_size=64, channels=3, latent_dim=8)
    assert None not in (c.filters, c.max_filters, c.kernel, c.norm, c.init)
    assert c.encoder_stack().filters == c.filters and c.decoder_stack().activation == c.dec_activation
    assert c.encoder_stack(norm="spectral").norm == "spectral"
    for bad in ({"latent_dim": 0}, {"latent_dim": 8, "channels": 0}, {"latent_dim": 8, "dropout": 1.5},
                {"latent_dim": 8, "image_size": 30}):
        with pytest.raises(LatentworksError):
            GenOptions(**bad).check()


def test_label_codes_join_z_and_images():
    z, labels = torch.zeros(3, 4), torch.tensor([0, 2, 1])
    coded = ZCondition(3)(z, labels)
    assert coded.shape == (3, 7) and torch.equal(coded[:, 4:], torch.eye(3)[labels])
    assert ZCondition(0)(z) is z
    assert ZCondition(3, "embedding", embed_dim=5)(z, labels).shape == (3, 9)
    maps = label_maps(torch.zeros(3, 1, 5, 5), labels, 3)
    assert maps.shape == (3, 4, 5, 5)
    assert torch.equal(maps[:, 1:, 2, 2], torch.eye(3)[labels])  # one constant map per class
