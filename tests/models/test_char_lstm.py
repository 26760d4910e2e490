"""CharLSTM: shapes, save/load round trip, sampling semantics shared with the NumPy sampler."""

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from latentworks.errors import LatentworksError
from latentworks.models.char_lstm import CharLSTM
from latentworks.models.io import load_model, save_model


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    config = CharLSTM.Config(vocab_size=11, **{"hidden": 16, "layers": 2, "embed_dim": 8, **kw})
    return CharLSTM(config).eval()


def test_forward_shapes_and_state_carry():
    model = _model()
    x = torch.randint(0, 11, (3, 7))
    logits, (h, c) = model(x)
    assert logits.shape == (3, 7, 11) and h.shape == c.shape == (2, 3, 16)
    # Running in two chunks with the state carried equals one pass.
    a, state = model(x[:, :4])
    b, _ = model(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([a, b], 1), logits)


def _has_bf16_units() -> bool:
    from latentworks.models.builders import check_bf16

    try:
        check_bf16(torch.device("cpu"))
    except LatentworksError:
        return False
    return True


# oneDNN has no bfloat16 LSTM for a CPU without bf16 units (it fails to build the primitive); the pipelines refuse
# --bf16 there first (tests/pipelines/test_charrnn.py checks the refusal).
@pytest.mark.skipif(not _has_bf16_units(), reason="this CPU has no bfloat16 units (AVX-512 BF16 or AMX)")
def test_bf16_products_keep_float32_weights_outputs_and_state_and_stay_near_float32():
    exact, fast = _model(), _model(bf16=True)
    x = torch.randint(0, 11, (3, 7))
    (want, _), (got, state) = exact(x), fast(x)
    assert got.dtype == torch.float32 and all(s.dtype == torch.float32 for s in state)
    assert all(p.dtype == torch.float32 for p in fast.parameters())
    assert not torch.equal(got, want)  # the products did run in bfloat16
    torch.testing.assert_close(got, want, atol=0.05, rtol=0.05)  # bfloat16 keeps about 3 significant digits
    fast.train()
    loss = torch.nn.functional.cross_entropy(fast(x)[0].flatten(0, 1), x.reshape(-1))
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in fast.parameters())


def test_carry_state_feeds_each_rows_last_state_into_its_next_window_unless_fresh():
    torch.manual_seed(0)
    cfg = CharLSTM.Config(vocab_size=11, hidden=8, layers=2)
    carried = CharLSTM(dataclasses.replace(cfg, carry_state=True))
    plain = CharLSTM(cfg)
    plain.load_state_dict(carried.state_dict())
    x, y = torch.randint(0, 11, (3, 5)), torch.randint(0, 11, (3, 5))
    first = carried.training_step((x, y, torch.ones(3, dtype=torch.bool)), None).loss
    # nothing carried yet: a zero state
    assert float(first.detach()) == float(plain.training_step((x, y), None).loss.detach())
    state = carried.carried_state()
    _, expected = plain(x)
    torch.testing.assert_close(state["h"], expected[0])
    torch.testing.assert_close(state["c"], expected[1])
    fresh = carried.training_step((x, y, torch.tensor([True, False, True])), None).loss
    logits, _ = plain(x, (expected[0] * torch.tensor([0.0, 1.0, 0.0])[None, :, None],
                          expected[1] * torch.tensor([0.0, 1.0, 0.0])[None, :, None]))
    torch.testing.assert_close(fresh, F.cross_entropy(logits.flatten(0, 1), y.reshape(-1)))
    restored = CharLSTM(dataclasses.replace(cfg, carry_state=True))
    restored.restore_carried_state(carried.carried_state())
    for key, value in carried.carried_state().items():
        torch.testing.assert_close(restored.carried_state()[key], value, rtol=0, atol=0)
    assert not plain.carried_state()  # a model trained on random windows carries nothing


def test_forget_gate_bias_is_one():
    params = dict(_model().lstm.named_parameters())
    for layer in range(2):
        assert torch.all(params[f"bias_ih_l{layer}"][16:32] == 1.0)
        assert torch.all(params[f"bias_hh_l{layer}"][16:32] == 0.0)


def test_save_load_round_trip(tmp_path):
    model = _model(dropout=0.1)
    save_model(model, tmp_path)
    again = load_model(tmp_path, expect="char_lstm")
    assert again.config == model.config
    x = torch.randint(0, 11, (2, 5))
    torch.testing.assert_close(again(x)[0], model(x)[0])


def test_temperature_zero_is_argmax_and_seed_reproducible():
    model = _model()
    prime = [1, 2, 3]
    greedy = model.sample(prime, 12, temperature=0.0)
    # Hand-rolled argmax decoding with the same warm-up.
    _, state = model(torch.tensor([prime[:-1]]))
    cur, manual = prime[-1], []
    for _ in range(12):
        logits, state = model(torch.tensor([[cur]]), state)
        cur = int(logits[0, -1].argmax())
        manual.append(cur)
    assert greedy == manual
    a = model.sample(prime, 30, 1.0, rng=np.random.default_rng(5))
    b = model.sample(prime, 30, 1.0, rng=np.random.default_rng(5))
    c = model.sample(prime, 30, 1.0, rng=np.random.default_rng(6))
    assert a == b and a != c
    assert model.sample(prime, 12, 1.0, top_k=1, rng=np.random.default_rng(1)) == greedy


def test_entropy_rises_with_temperature():
    model = _model()
    with torch.no_grad():
        model.head.weight.mul_(20)  # a peaked distribution, so temperature matters
    def distinct(t):
        return len(set(model.sample([0], 300, t, rng=np.random.default_rng(0))))
    assert distinct(0.2) <= distinct(1.0) <= distinct(3.0)
    assert distinct(3.0) > distinct(0.2)


def test_stream_loss_matches_manual_cross_entropy():
    model = _model()
    ids = torch.randint(0, 11, (200,))
    loss, acc = model.stream_loss(ids, streams=1, seq_len=50)
    logits, _ = model(ids[None, :-1])
    ref = torch.nn.functional.cross_entropy(logits[0], ids[1:]).item()
    assert math.isclose(loss, ref, rel_tol=1e-5) and 0 <= acc <= 1


@pytest.mark.parametrize("kw, match", [({"temperature": -1}, "temperature"), ({"top_k": 0}, "top_k")])
def test_bad_sampling_options(kw, match):
    with pytest.raises(LatentworksError, match=match):
        _model().sample([1], 5, **{"temperature": 1.0, **kw})
    with pytest.raises(LatentworksError, match="prime"):
        _model().sample([], 5)
