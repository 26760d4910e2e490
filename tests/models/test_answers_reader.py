"""Image->text from answers alone: the glyph CNN's symbols, and that the query text is never looked at."""

import torch

from latentworks.data.arithmetic import ArithmeticSpec
from latentworks.data.arithmetic_dataset import build_text_dataset
from latentworks.models.answers_reader import AnswersReader
from latentworks.recipes.arithmetic import recipe


def _model(**changes) -> AnswersReader:
    cfg = recipe("glyph-answers", task="img2text", **{"data.max_int": 9, "model.hidden": 32, **changes})
    torch.manual_seed(0)
    return AnswersReader(cfg.model)


def test_each_glyph_is_read_into_a_distribution_over_symbols():
    m = _model(**{"model.symbols": 12})
    images = torch.rand(3, 5, 28, 28)
    read = m.symbols(images)
    assert read.shape == (3, 5, 12) and torch.allclose(read.sum(-1), torch.ones(3, 5))
    assert m.forward(images).shape == (3, m.config.shape.answer_len, m.config.shape.vocab_size)
    assert m.symbol_of(images[0]).shape == (5, 12)


def test_the_training_step_never_reads_the_query_text():
    spec = ArithmeticSpec(max_int=9, ops="+-")
    data = build_text_dataset(spec)
    y = torch.as_tensor(data.y[:8])
    images = torch.rand(8, spec.query_len, 28, 28)
    m = _model().eval()
    with torch.no_grad():
        true_text = m.training_step((images, y, torch.as_tensor(data.x[:8])), None).loss
        other_text = m.training_step((images, y, torch.as_tensor(data.x[8:16])), None).loss
        no_text = m.training_step((images, y), None).loss
    assert true_text == other_text == no_text


def test_the_answer_loss_alone_trains_the_glyph_cnn():
    m = _model()
    images = torch.rand(4, 5, 28, 28)
    y = torch.as_tensor(build_text_dataset(ArithmeticSpec(max_int=9, ops="+-")).y[:4])
    m.train().training_step((images, y), None).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.glyphs.parameters() if p.requires_grad)
