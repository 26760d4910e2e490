"""DiffAugment: each transformation does what it says, per image, reproducibly, and lets gradients through;
a GAN with ``augment`` shows D augmented reals and fakes and G still learns through the augmented fakes."""

import pytest
import torch

from latentworks.config import ConfigError
from latentworks.models.dcgan import DCGAN
from latentworks.models.diff_augment import diff_augment, parse_policy
from latentworks.training.config import TrainConfig
from latentworks.training.module import StepContext

torch.set_num_threads(1)


def noise(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def dot_images(n: int = 8, size: int = 32) -> torch.Tensor:
    """-1 everywhere but one +1 pixel in the middle of each image."""
    x = -torch.ones(n, 1, size, size)
    x[:, :, size // 2, size // 2] = 1
    return x


def test_policies_parse_and_unknown_names_are_refused():
    assert parse_policy("none") == () and parse_policy("") == ()
    assert parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        parse_policy("translation,flip")


def test_an_empty_policy_returns_the_images_themselves():
    x = torch.rand(2, 3, 8, 8)
    assert diff_augment(x, (), noise()) is x


def test_translation_moves_each_image_by_at_most_an_eighth_independently():
    x = dot_images()
    y = diff_augment(x, ("translation",), noise())
    centre = torch.tensor([16, 16])
    positions = [(img[0] == 1).nonzero()[0] - centre for img in y]  # the dot, still whole, somewhere
    assert all(int((img[0] == 1).sum()) == 1 for img in y)  # 1/8 of 32 = 4 px: the dot never leaves the frame
    assert all(int(p.abs().max()) <= 4 for p in positions)
    assert len({tuple(p.tolist()) for p in positions}) > 1  # drawn per image, not once for the batch
    # The pixels shifted in from outside the frame are zero, the padding value (mid-grey in [-1, 1]).
    shifted = [img for img, p in zip(y, positions) if int(p[0]) > 0]
    assert shifted and all(float(img[0, 0].abs().max()) == 0 for img in shifted)


def test_cutout_zeroes_one_square_of_at_most_half_the_side():
    x = torch.ones(16, 3, 32, 32)
    y = diff_augment(x, ("cutout",), noise())
    holes = y[:, 0] == 0
    assert torch.equal(holes.unsqueeze(1).expand_as(y), y == 0)  # the same hole in every channel
    for hole in holes:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 0 < len(rows) <= 16 and 0 < len(cols) <= 16
        assert int(hole.sum()) == len(rows) * len(cols)  # a rectangle: the square, clipped by the frame


def test_color_changes_brightness_saturation_and_contrast_per_image():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    y = diff_augment(x, ("color",), noise())
    shift = (y - x).mean(dim=(1, 2, 3))
    assert shift.std() > 0.05  # each image its own brightness
    grey = torch.rand(4, 1, 16, 16) * 2 - 1  # one channel: saturation has nothing to act on, contrast does
    assert not torch.allclose(diff_augment(grey, ("color",), noise()), grey)


def test_same_generator_same_augmentation_and_gradients_reach_the_input():
    x = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    policy = parse_policy("color,translation,cutout")
    a, b = diff_augment(x, policy, noise(3)), diff_augment(x, policy, noise(3))
    assert torch.equal(a, b) and not torch.equal(a, diff_augment(x, policy, noise(4)))
    a.square().sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    x.grad = None
    diff_augment(x, ("cutout",), noise(3)).sum().backward()
    assert 0 < float((x.grad == 0).float().mean()) <= 0.25  # the cut-out pixels get no gradient, the rest 1
    assert set(x.grad.unique().tolist()) == {0.0, 1.0}


def test_a_gan_with_augment_shows_d_augmented_images_and_bad_policies_are_one_line_errors():
    torch.manual_seed(0)
    config = DCGAN.Config(image_size=28, channels=1, latent_dim=8, filters=4, max_filters=8)
    plain = DCGAN(config).train()
    torch.manual_seed(0)
    augmented = DCGAN(DCGAN.Config(image_size=28, channels=1, latent_dim=8, filters=4, max_filters=8,
                                   augment="translation,cutout")).train()
    images = (torch.rand(16, 1, 28, 28, generator=noise()) * 255).to(torch.uint8)
    logs = {}
    for name, model in (("plain", plain), ("augmented", augmented)):
        ctx = StepContext(seed=0, rank=0, world_size=1, device=torch.device("cpu"), wrap=lambda m: m,
                          optimizers=model.configure_optimizers(TrainConfig(lr=2e-4, betas=(0.5, 0.999))))
        before = {k: v.clone() for k, v in model.generator.state_dict().items()}
        logs[name] = model.training_step((images,), ctx).logs
        assert any(not torch.equal(before[k], v) for k, v in model.generator.state_dict().items()
                   if v.is_floating_point())  # G learned through the augmented fakes
    assert logs["plain"]["d_loss"] != logs["augmented"]["d_loss"]  # D saw other images from the same weights
    with pytest.raises(ConfigError, match="--augment 'flip'"):
        DCGAN.Config(augment="flip").check()
