import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.io import load_model, save_model
from latentworks.models.text2img import TextToImage, text2img_loss


def _small(**kw):
    base = dict(
        shape=ArithmeticShape(vocab_size=13, query_len=5, answer_len=3), hidden=16, map_channels=8, deconv_channels=4,
    )
    base.update(kw)
    return TextToImage(TextToImage.Config(**base))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"embed_dim": 8, "bidirectional": True, "enc_layers": 2, "dropout": 0.1},
        {"cell": "gru", "batchnorm": False, "deconv_kernel": 3},
        {"cell": "rnn", "dec_layers": 2, "enc_layers": 3, "bidirectional": True},
    ],
)
def test_logits_shape_and_generate_range(kw):
    torch.manual_seed(0)
    model = _small(**kw)
    x = torch.randint(0, 13, (4, 5))
    logits = model(x)
    assert logits.shape == (4, 3, 28, 28)
    img = model.generate(x)
    assert img.shape == (4, 3, 28, 28)
    assert img.min() >= 0 and img.max() <= 1
    assert model.training  # generate restores the mode


def test_one_hot_input_equals_indices():
    torch.manual_seed(0)
    model = _small().eval()
    x = torch.randint(0, 13, (2, 5))
    onehot = torch.nn.functional.one_hot(x, 13).float()
    assert torch.allclose(model(x), model(onehot))


def test_wrong_query_length_is_a_user_error():
    with pytest.raises(LatentworksError, match="query indices"):
        _small()(torch.zeros(2, 7, dtype=torch.long))


def test_notebook_recipe_is_course_faithful():
    from latentworks.config import ConfigError
    from latentworks.recipes.arithmetic import recipe

    run = recipe("course", task="text2img")
    config, train = run.model, run.train
    assert (config.embed_dim, config.cell, config.hidden, config.enc_layers) == (0, "lstm", 256, 1)
    assert not config.bidirectional and config.shape == ArithmeticShape(vocab_size=13, query_len=5, answer_len=3)
    assert (config.loss, train.lr, train.batch_size, train.epochs) == ("mse", 1e-3, 8, 20)  # the course copy's
    assert TextToImage(config)(torch.randint(0, 13, (2, 5))).shape == (2, 3, 28, 28)
    with pytest.raises(ConfigError):
        recipe("fancy", task="text2img")


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = _small(embed_dim=8, bidirectional=True).eval()
    x = torch.randint(0, 13, (3, 5))
    save_model(model, tmp_path)
    loaded = load_model(tmp_path, expect="text2img")
    assert loaded.config == model.config
    assert torch.allclose(loaded(x), model(x))
    with pytest.raises(LatentworksError):
        load_model(tmp_path, expect="digit_reader")


def test_bad_config_is_a_user_error():
    with pytest.raises(LatentworksError, match="cell"):
        _small(cell="transformer")
    with pytest.raises(LatentworksError, match="--deconv-kernel 5"):
        _small(deconv_kernel=5)


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_text2img_loss_with_and_without_the_char_head(loss):
    torch.manual_seed(0)
    x = torch.randint(0, 13, (4, 5))
    y = torch.randint(0, 13, (4, 3))
    target = torch.randint(0, 256, (4, 3, 28, 28), dtype=torch.uint8)
    plain = _small()
    value, logs = text2img_loss(plain, x, y, target, loss)
    assert plain.char_head is None and set(logs) == {"image_loss"}
    assert plain.forward_with_chars(x)[1] is None
    aux = _small(aux_char_weight=0.5)
    images, chars = aux.forward_with_chars(x)
    assert images.shape == (4, 3, 28, 28) and chars.shape == (4, 3, 13)
    value, logs = text2img_loss(aux, x, y, target, loss)
    assert set(logs) == {"image_loss", "char_loss"}
    assert value.item() == pytest.approx(logs["image_loss"] + 0.5 * logs["char_loss"], rel=1e-5)
    value.backward()
    assert aux.char_head.weight.grad is not None and aux.embedding is None
    with pytest.raises(LatentworksError, match="loss"):
        text2img_loss(aux, x, y, target, "l1")


def test_char_head_survives_save_load(tmp_path):
    torch.manual_seed(0)
    model = _small(aux_char_weight=0.1).eval()
    x = torch.randint(0, 13, (2, 5))
    save_model(model, tmp_path)
    loaded = load_model(tmp_path, expect="text2img")
    assert torch.allclose(loaded.forward_with_chars(x)[1], model.forward_with_chars(x)[1])
