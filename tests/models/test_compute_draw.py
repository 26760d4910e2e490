import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.compute_draw import ComputeDrawConfig, ComputeThenDraw
from latentworks.models.io import load_model, save_model


def _small(**kw) -> ComputeThenDraw:
    torch.manual_seed(0)
    return ComputeThenDraw(ComputeDrawConfig(**{"hidden": 16, "pen_dim": 8, "pen_channels": 4, **kw}))


def _queries(n: int = 6) -> torch.Tensor:
    return torch.randint(0, 10, (n, 5), generator=torch.Generator().manual_seed(1))


def test_a_styled_pen_draws_the_same_answer_differently_and_repeats_from_a_seed():
    model = _small(style_dim=4).eval()
    x = _queries()
    first = model.generate(x, torch.Generator().manual_seed(0))
    again = model.generate(x, torch.Generator().manual_seed(0))
    other = model.generate(x, torch.Generator().manual_seed(1))
    assert first.shape == (6, 3, 28, 28) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    plain = _small().eval()  # without a style code the drawing is a function of the query alone
    assert torch.equal(plain.generate(x, torch.Generator().manual_seed(0)),
                       plain.generate(x, torch.Generator().manual_seed(1)))


def test_a_pen_without_style_keeps_the_weights_of_runs_saved_before_styles(tmp_path):
    keys = set(_small().state_dict())
    assert not any(k.startswith("style_encoder") for k in keys)
    assert _small().state_dict()["pen_in.1.weight"].shape == (4 * 2 * 7 * 7, 8)
    assert {k for k in _small(style_dim=3).state_dict() if k.startswith("style_encoder")}
    model = _small(style_dim=3).eval()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path, expect="text2img_draw")
    x = _queries()
    assert loaded.config == model.config
    assert torch.equal(loaded.generate(x, torch.Generator().manual_seed(5)),
                       model.generate(x, torch.Generator().manual_seed(5)))


def test_the_style_code_learns_two_ways_of_writing_one_character():
    """Half the targets are a bar on the left, half on the right. Without a style code the pen can only draw
    their average (two half-bright bars); with one, prior samples draw one bar or the other."""
    torch.manual_seed(0)
    left, right = torch.zeros(28, 28), torch.zeros(28, 28)
    left[4:24, 5:9] = 1
    right[4:24, 19:23] = 1
    chars = torch.full((64, 1), 1)
    targets = torch.stack([left, right] * 32)[:, None]

    def trained(style_dim: int) -> ComputeThenDraw:
        model = _small(style_dim=style_dim, shape=ArithmeticShape(answer_len=1))
        params = [p for n, p in model.named_parameters() if not n.startswith("compute")]
        opt = torch.optim.Adam(params, lr=1e-2)
        # 250 steps: after 150, on a Zen 3 CPU (other float bits than the Zen 4 this test was written on), the
        # bars of a third of the samples differed by less than the 0.5 below; after 250 most by about 0.69.
        for _ in range(250):
            opt.zero_grad()
            model.pen_loss(chars, targets).backward()
            opt.step()
        return model.eval()

    def bars(model: ComputeThenDraw, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            style = model.sample_style(chars[:32], torch.Generator().manual_seed(seed))
            drawn = torch.sigmoid(model.draw(chars[:32], style))[:, 0]
        return drawn[:, 4:24, 5:9].mean(dim=(1, 2)), drawn[:, 4:24, 19:23].mean(dim=(1, 2))

    l_plain, r_plain = bars(trained(0), 0)
    assert ((l_plain - 0.5).abs() < 0.2).all() and ((r_plain - 0.5).abs() < 0.2).all()
    l_style, r_style = bars(trained(2), 0)
    decided = (l_style - r_style).abs() > 0.5
    assert decided.float().mean() > 0.7
    assert 4 <= int((l_style > r_style).sum()) <= 28  # both ways of writing it turn up


def test_training_reaches_the_style_encoder_and_bad_settings_are_user_errors():
    model = _small(style_dim=4).train()
    x = _queries()
    y = torch.randint(0, 10, (6, 3))
    y_img = torch.rand(6, 3, 28, 28)
    loss = model.training_step((x, y, y_img), None).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert model.style_encoder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="style"):
        model.draw(y)
    with pytest.raises(LatentworksError, match="style_dim|style-dim"):
        _small(style_dim=-1)
    with pytest.raises(LatentworksError, match="style_temperature|style-temperature"):
        _small(style_dim=2, style_temperature=float("nan"))
