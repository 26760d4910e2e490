"""NumPy char-RNN: gradients (finite differences and torch autograd), state carrying, sampling."""

import numpy as np
import pytest
import torch

from latentworks.data.text import Vocab
from latentworks.errors import LatentworksError
from latentworks.models.numpy_char_rnn import (
    NumpyCharConfig,
    NumpyLSTM,
    NumpyRNN,
    next_char_probs,
    pick_next,
    sample,
)

V, H, B, T = 7, 5, 3, 4


def _config(vocab, hidden, dtype="float64", **kw):
    return NumpyCharConfig(vocab_size=vocab, hidden=hidden, dtype=dtype, **kw)


def _setup(cls, seed=0):
    rng = np.random.default_rng(seed)
    model = cls.init(_config(V, H), rng)
    for p in model.params.values():  # larger, non-symmetric weights so every gradient path is exercised
        p += rng.standard_normal(p.shape) * 0.4
    x, y = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    state = tuple(rng.standard_normal((B, H)) * 0.5 for _ in range(model.n_states))
    return model, x, y, state, rng


def _rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


@pytest.mark.parametrize("cls", [NumpyRNN, NumpyLSTM])
def test_gradients_match_central_differences(cls):
    model, x, y, state, rng = _setup(cls)
    loss, grads, _, _ = model.forward_backward(x, y, state, grad_scale=1.0)
    assert np.isclose(loss, model.forward_loss(x, y, state)[0])
    for name, p in model.params.items():
        flat = p.reshape(-1)
        idx = rng.choice(flat.size, size=min(10, flat.size), replace=False)
        numeric = []
        for i in idx:
            orig = flat[i]
            flat[i] = orig + 1e-5
            plus = model.forward_loss(x, y, state)[0]
            flat[i] = orig - 1e-5
            minus = model.forward_loss(x, y, state)[0]
            flat[i] = orig
            numeric.append((plus - minus) / 2e-5)
        assert _rel_err(grads[name].reshape(-1)[idx], np.array(numeric)) <= 1e-6, name


def _torch_reference(model, x, y, state):
    """Independent torch forward (row-vector convention, gates i, f, g, o) returning loss, grads, last h."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    s = [torch.tensor(v) for v in state]
    logits = []
    for t in range(x.shape[1]):
        xt = torch.tensor(x[:, t])
        if isinstance(model, NumpyRNN):
            s[0] = torch.tanh(P["Wxh"][xt] + s[0] @ P["Whh"] + P["bh"])
        else:
            i, f, g, o = (P["Wx"][xt] + s[0] @ P["Wh"] + P["b"]).chunk(4, dim=1)
            s[1] = torch.sigmoid(f) * s[1] + torch.sigmoid(i) * torch.tanh(g)
            s[0] = torch.sigmoid(o) * torch.tanh(s[1])
        logits.append(s[0] @ P["Why"] + P["by"])
    logits = torch.stack(logits, dim=1).reshape(-1, model.config.vocab_size)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y).reshape(-1), reduction="sum")
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in P.items()}, [v.detach().numpy() for v in s]


@pytest.mark.parametrize("cls", [NumpyRNN, NumpyLSTM])
def test_gradients_match_torch_autograd(cls):
    model, x, y, state, _ = _setup(cls, seed=1)
    loss, grads, last, n_correct = model.forward_backward(x, y, state, grad_scale=1.0)
    ref_loss, ref_grads, ref_last = _torch_reference(model, x, y, state)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name in model.params:
        assert _rel_err(grads[name], ref_grads[name]) <= 1e-6, name
    for mine, ref in zip(last, ref_last):
        np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
    assert 0 <= n_correct <= B * T


def test_lstm_layout_matches_torch_nn_lstm():
    model, x, y, state, _ = _setup(NumpyLSTM, seed=2)
    lstm = torch.nn.LSTM(V, H, batch_first=True).double()
    with torch.no_grad():  # the documented mapping: weight_ih = Wx.T, weight_hh = Wh.T, b_ih + b_hh = b
        lstm.weight_ih_l0.copy_(torch.tensor(model.params["Wx"].T))
        lstm.weight_hh_l0.copy_(torch.tensor(model.params["Wh"].T))
        lstm.bias_ih_l0.copy_(torch.tensor(model.params["b"]))
        lstm.bias_hh_l0.zero_()
        one_hot = torch.nn.functional.one_hot(torch.tensor(x), V).double()
        _, (h, c) = lstm(one_hot, tuple(torch.tensor(s)[None] for s in state))
    last = model.forward_loss(x, y, state)[1]
    np.testing.assert_allclose(last[0], h[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(last[1], c[0].numpy(), atol=1e-12)


@pytest.mark.parametrize("cls", [NumpyRNN, NumpyLSTM])
def test_grad_scale_and_state_carrying(cls):
    model, x, y, state, _ = _setup(cls, seed=3)
    loss, g_sum, _, _ = model.forward_backward(x, y, state, grad_scale=1.0)
    _, g_mean, _, _ = model.forward_backward(x, y, state, grad_scale=1.0 / (B * T))
    for k in g_sum:
        np.testing.assert_allclose(g_mean[k] * B * T, g_sum[k], rtol=1e-10, atol=1e-14)
    # Two chunks with the state carried give the same loss as one long chunk.
    l1, s1, _ = model.forward_loss(x[:, :2], y[:, :2], state)
    l2, s2, _ = model.forward_loss(x[:, 2:], y[:, 2:], s1)
    assert l1 + l2 == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("cls", [NumpyRNN, NumpyLSTM])
def test_float32_and_state_dict_round_trip(cls):
    rng = np.random.default_rng(0)
    model = cls.init(_config(V, 16, "float32"), rng)
    x = rng.integers(0, V, (4, 6))
    loss, grads, last, _ = model.forward_backward(x, x, None, grad_scale=1 / 24)
    assert all(g.dtype == np.float32 for g in grads.values()) and last[0].dtype == np.float32
    assert loss == pytest.approx(24 * np.log(V), rel=0.05)  # near-uniform predictions at init
    clone = cls.from_state_dict(model.to_state_dict(), model.config)
    assert clone.forward_loss(x, x)[0] == model.forward_loss(x, x)[0]
    other = NumpyLSTM if cls is NumpyRNN else NumpyRNN
    with pytest.raises(LatentworksError, match="model kind"):
        other.from_state_dict(model.to_state_dict(), model.config)


def test_min_char_rnn_init_and_lstm_forget_bias():
    rng = np.random.default_rng(0)
    small = NumpyRNN.init(_config(65, 100, init="min_char_rnn"), rng)
    assert abs(small.params["Whh"].std() - 0.01) < 1e-3 and not small.params["bh"].any()
    lstm = NumpyLSTM.init(_config(10, 8, "float32"), rng)
    assert (lstm.params["b"][8:16] == 1).all() and not lstm.params["b"][:8].any()
    with pytest.raises(LatentworksError, match="init scheme"):
        NumpyRNN.init(_config(10, 8, init="he"), rng)


@pytest.fixture
def trained():
    vocab = Vocab.from_text("abcdefgh ")
    model = NumpyLSTM.init(_config(vocab.size, 16), np.random.default_rng(0))
    for p in model.params.values():
        p *= 4.0  # sharper, state-dependent distributions
    return model, vocab


def test_temperature_zero_is_the_argmax_path(trained):
    model, vocab = trained
    out = sample(model, vocab, "abc", 30, temperature=0.0, rng=np.random.default_rng(1))
    state = model.zero_state(1)
    for ch in "ab":
        state = model.step_state(vocab.encode(ch), state)
    cur, greedy = vocab.encode("c")[0], []
    for _ in range(30):
        state = model.step_state(np.array([cur]), state)
        cur = int(np.argmax(model.logits_from_state(state)[0]))
        greedy.append(cur)
    assert out == vocab.decode(greedy)
    assert out == sample(model, vocab, "abc", 30, temperature=1.0, top_k=1, rng=np.random.default_rng(5))


def test_entropy_rises_with_temperature_and_top_k_restricts(trained):
    model, vocab = trained
    state = model.step_state(vocab.encode("abcdefgh"), model.zero_state(8))

    def entropy(t):
        p = next_char_probs(model, state, t)
        return float(-(p * np.log(p)).sum(axis=1).mean())

    ents = [entropy(t) for t in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(ents, ents[1:])) and ents[-1] <= np.log(vocab.size)
    logits = np.array([0.1, 2.0, -1.0, 1.5, 0.3, 1.9])
    rng = np.random.default_rng(0)
    drawn = {pick_next(logits, 5.0, 3, rng) for _ in range(300)}
    assert drawn == {1, 3, 5}


def test_sampling_is_seeded_and_validates_inputs(trained):
    model, vocab = trained
    a = sample(model, vocab, "ab", 50, 0.8, rng=np.random.default_rng(7))
    b = sample(model, vocab, "ab", 50, 0.8, rng=np.random.default_rng(7))
    c = sample(model, vocab, "ab", 50, 0.8, rng=np.random.default_rng(8))
    assert a == b and a != c and len(a) == 50 and set(a) <= set(vocab.chars)
    with pytest.raises(LatentworksError, match=r"'Z'.*not in the training vocabulary"):
        sample(model, vocab, "aZ", 5)
    for kwargs in ({"prime": ""}, {"prime": "a", "temperature": -1.0}, {"prime": "a", "top_k": 0}):
        with pytest.raises(LatentworksError):
            sample(model, vocab, length=5, **kwargs)
