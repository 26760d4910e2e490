"""NumPy optimizers against hand-computed updates; clipping; state round trips."""

import math

import numpy as np
import pytest

from latentworks.errors import LatentworksError
from latentworks.training.numpy_optim import (
    SGD,
    Adagrad,
    Adam,
    RMSprop,
    clip_elementwise,
    clip_global_norm,
    make_optimizer,
)


def _run(opt, steps=2):
    p = {"w": np.array([1.0, -2.0])}
    grads = [{"w": np.array([0.5, -0.25])}, {"w": np.array([-1.0, 0.75])}]
    for g in grads[:steps]:
        opt.step(p, {"w": g["w"].copy()})
    return p["w"]


def test_sgd_and_momentum():
    # plain: p - lr*g1 - lr*g2
    np.testing.assert_allclose(_run(SGD(0.1)), [1.0 - 0.05 + 0.1, -2.0 + 0.025 - 0.075])
    # momentum 0.9 (torch): buf1 = g1; buf2 = 0.9*g1 + g2; p -= lr*buf each step
    buf2 = [0.9 * 0.5 - 1.0, 0.9 * -0.25 + 0.75]
    expected = [1.0 - 0.1 * 0.5 - 0.1 * buf2[0], -2.0 + 0.1 * 0.25 - 0.1 * buf2[1]]
    np.testing.assert_allclose(_run(SGD(0.1, momentum=0.9)), expected)


def test_rmsprop():
    # ms1 = 0.1*g1^2; ms2 = 0.9*ms1 + 0.1*g2^2; p -= lr*g/(sqrt(ms)+eps)
    lr, eps = 0.01, 1e-8
    g1, g2 = np.array([0.5, -0.25]), np.array([-1.0, 0.75])
    ms1 = 0.1 * g1**2
    ms2 = 0.9 * ms1 + 0.1 * g2**2
    expected = np.array([1.0, -2.0]) - lr * g1 / (np.sqrt(ms1) + eps) - lr * g2 / (np.sqrt(ms2) + eps)
    np.testing.assert_allclose(_run(RMSprop(lr)), expected)
    # first step by hand: sqrt(0.1*0.25) = 0.158113883; 0.01*0.5/0.158113883 = 0.0316227766 (eps shifts 2e-9)
    assert _run(RMSprop(lr), steps=1)[0] == pytest.approx(1.0 - 0.0316227766, abs=1e-8)


def test_adam_bias_correction():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    g1, g2 = np.array([0.5, -0.25]), np.array([-1.0, 0.75])
    # step 1: m_hat = g1, v_hat = g1^2 -> update is lr*sign(g1) (up to eps)
    np.testing.assert_allclose(_run(Adam(lr), steps=1), [1.0 - 0.1, -2.0 + 0.1], rtol=1e-7)
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
    m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
    p1 = np.array([1.0, -2.0]) - lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    p2 = p1 - lr * (m2 / (1 - b1**2)) / (np.sqrt(v2 / (1 - b2**2)) + eps)
    np.testing.assert_allclose(_run(Adam(lr)), p2)


def test_adagrad_min_char_rnn_rule():
    # mem1 = g1^2, mem2 = g1^2 + g2^2; p -= lr*g/sqrt(mem + 1e-8)
    w0 = 1.0 - 0.1 * 0.5 / math.sqrt(0.25 + 1e-8) - 0.1 * -1.0 / math.sqrt(0.25 + 1.0 + 1e-8)
    w1 = -2.0 - 0.1 * -0.25 / math.sqrt(0.0625 + 1e-8) - 0.1 * 0.75 / math.sqrt(0.0625 + 0.5625 + 1e-8)
    np.testing.assert_allclose(_run(Adagrad(0.1)), [w0, w1], rtol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adagrad"])
def test_state_dict_round_trip_continues_identically(name):
    rng = np.random.default_rng(0)
    params = {"a": rng.standard_normal((3, 2)), "b": rng.standard_normal(4)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(4)]
    opt = make_optimizer(name, 0.05)
    for g in grads[:2]:
        opt.step(params, g)
    saved_params = {k: v.copy() for k, v in params.items()}
    clone = make_optimizer(name, 0.05)
    clone.load_state_dict(opt.state_dict())
    assert clone.step_count == 2
    for g in grads[2:]:
        opt.step(params, g)
        clone.step(saved_params, g)
    for k in params:
        np.testing.assert_array_equal(params[k], saved_params[k])


def test_optimizer_errors():
    with pytest.raises(LatentworksError, match="unknown optimizer"):
        make_optimizer("lbfgs", 0.1)
    with pytest.raises(LatentworksError, match="learning rate"):
        Adam(0.0)


def test_float32_state_stays_float32():
    p = {"w": np.ones(3, np.float32)}
    opt = Adam(1e-3)
    opt.step(p, {"w": np.full(3, 0.5, np.float32)})
    assert p["w"].dtype == np.float32 and opt.state["exp_avg.w"].dtype == np.float32


def test_clip_elementwise_in_place():
    g = {"a": np.array([-7.0, -1.0, 0.0, 4.9, 12.0]), "b": np.array([[6.0]])}
    ref = g["a"]
    assert clip_elementwise(g, 5.0) is None
    assert ref is g["a"]
    np.testing.assert_array_equal(g["a"], [-5.0, -1.0, 0.0, 4.9, 5.0])
    np.testing.assert_array_equal(g["b"], [[5.0]])


def test_clip_global_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}  # joint norm 5
    assert clip_global_norm(g, 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(g["a"], [3.0, 0.0])  # below the limit: untouched
    assert clip_global_norm(g, 1.0) == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(g["a"], [3.0 * scale, 0.0])
    np.testing.assert_allclose(g["b"], [[0.0, 4.0 * scale]])
    total = np.sqrt(sum((v**2).sum() for v in g.values()))
    assert total == pytest.approx(1.0, abs=1e-6)
