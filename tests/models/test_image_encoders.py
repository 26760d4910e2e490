import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.models.image_encoders import (
    ENCODER_KINDS,
    ConvLSTMEncoder,
    FlattenedPixels,
    PerStepCNN,
    build_image_encoder,
)


@pytest.mark.parametrize("kind", ENCODER_KINDS)
@pytest.mark.parametrize("shape", [(3, 5, 28, 28), (3, 5, 1, 28, 28)])
def test_every_kind_maps_sequences_to_per_step_features(kind, shape):
    torch.manual_seed(0)
    enc = build_image_encoder(kind, feature_dim=48, dropout=0.1)
    out = enc(torch.rand(shape))
    assert out.shape == (3, 5, enc.out_dim)
    assert enc.out_dim == 48
    assert torch.isfinite(out).all()
    out.sum().backward()  # differentiable end to end


def test_flatten_without_projection_keeps_784_pixels():
    enc = build_image_encoder("flatten", feature_dim=0)
    x = torch.rand(2, 4, 28, 28)
    assert enc.out_dim == 784
    assert torch.equal(enc(x), x.reshape(2, 4, 784))
    assert FlattenedPixels(None).out_dim == 784


def test_uint8_input_is_scaled():
    enc = build_image_encoder("flatten", feature_dim=None)
    x = torch.randint(0, 256, (1, 2, 28, 28), dtype=torch.uint8)
    assert torch.allclose(enc(x), x.float().reshape(1, 2, 784) / 255)


def test_per_step_cnn_treats_steps_independently():
    torch.manual_seed(0)
    enc = PerStepCNN(16, channels=(8, 16)).eval()
    x = torch.rand(2, 4, 28, 28)
    y = x.clone()
    y[:, 2] = torch.rand(2, 28, 28)
    a, b = enc(x), enc(y)
    assert torch.allclose(a[:, [0, 1, 3]], b[:, [0, 1, 3]], atol=1e-6)
    assert not torch.allclose(a[:, 2], b[:, 2])


def test_convlstm_is_causal_and_carries_state():
    torch.manual_seed(0)
    enc = ConvLSTMEncoder(16, stem_channels=4, hidden_channels=8).eval()
    x = torch.rand(2, 4, 28, 28)
    y = x.clone()
    y[:, 1] = torch.rand(2, 28, 28)
    a, b = enc(x), enc(y)
    assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6)  # the past does not see the future
    assert not torch.allclose(a[:, 3], b[:, 3])  # later steps remember the change


def test_unknown_kind_is_a_user_error():
    with pytest.raises(LatentworksError, match="unknown image encoder"):
        build_image_encoder("transformer", 32)
    with pytest.raises(ValueError):
        PerStepCNN(8)(torch.rand(2, 28, 28))
