"""Optimizers and gradient clipping over ``dict[str, np.ndarray]`` parameters, updated in place.

Update rules follow PyTorch's definitions (so a torch port reproduces them) except Adagrad, which follows
min-char-rnn (``eps`` inside the square root). ``state_dict()`` is a flat dict of numpy arrays (including
``step`` as a 1-element int64 array) so it can be written with ``safetensors.numpy.save_file``.
"""

from __future__ import annotations

import numpy as np

from latentworks.errors import LatentworksError

__all__ = ["SGD", "Adagrad", "Adam", "NumpyOptimizer", "RMSprop", "clip_elementwise", "clip_global_norm",
           "make_optimizer"]

Params = dict[str, np.ndarray]


class NumpyOptimizer:
    """Base: per-parameter state buffers named ``<buffer>.<param>`` plus a step counter."""

    buffers: tuple[str, ...] = ()

    def __init__(self, lr: float):
        if not lr > 0:
            raise LatentworksError(f"learning rate must be > 0, got {lr}; pass e.g. --lr 1e-3")
        self.lr = float(lr)
        self.step_count = 0
        self.state: dict[str, np.ndarray] = {}

    def _buf(self, name: str, key: str, like: np.ndarray) -> np.ndarray:
        full = f"{name}.{key}"
        if full not in self.state:
            self.state[full] = np.zeros_like(like)
        return self.state[full]

    def step(self, params: Params, grads: Params) -> None:
        """Apply one update to every parameter that has a gradient."""
        self.step_count += 1
        for key, g in grads.items():
            self._update(key, params[key], g)

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {k: v.copy() for k, v in self.state.items()}
        out["step"] = np.array([self.step_count], dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.step_count = int(np.asarray(state["step"]).reshape(-1)[0])
        self.state = {k: np.array(v) for k, v in state.items() if k != "step"}


class SGD(NumpyOptimizer):
    """``buf = momentum*buf + g; p -= lr*buf`` (torch convention; plain SGD when momentum is 0)."""

    def __init__(self, lr: float, momentum: float = 0.0):
        super().__init__(lr)
        self.momentum = float(momentum)

    def _update(self, key, p, g):
        if self.momentum:
            buf = self._buf("momentum", key, p)
            buf *= self.momentum
            buf += g
            g = buf
        p -= self.lr * g


class RMSprop(NumpyOptimizer):
    """``ms = decay*ms + (1-decay)*g^2; p -= lr*g/(sqrt(ms)+eps)``.

    ``decay`` defaults to 0.9 (Hinton's lecture and Keras); torch's ``alpha`` default is 0.99.
    """

    def __init__(self, lr: float, decay: float = 0.9, eps: float = 1e-8):
        super().__init__(lr)
        self.decay, self.eps = float(decay), float(eps)

    def _update(self, key, p, g):
        ms = self._buf("square_avg", key, p)
        ms *= self.decay
        ms += (1.0 - self.decay) * g * g
        p -= self.lr * g / (np.sqrt(ms) + self.eps)


class Adam(NumpyOptimizer):
    """Adam with bias correction: ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` (torch's formula)."""

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(lr)
        self.b1, self.b2 = (float(b) for b in betas)
        self.eps = float(eps)

    def _update(self, key, p, g):
        m, v = self._buf("exp_avg", key, p), self._buf("exp_avg_sq", key, p)
        m *= self.b1
        m += (1.0 - self.b1) * g
        v *= self.b2
        v += (1.0 - self.b2) * g * g
        t = self.step_count
        m_hat = m / (1.0 - self.b1**t)
        v_hat = v / (1.0 - self.b2**t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Adagrad(NumpyOptimizer):
    """min-char-rnn's Adagrad: ``mem += g^2; p -= lr*g/sqrt(mem+eps)``."""

    def __init__(self, lr: float, eps: float = 1e-8):
        super().__init__(lr)
        self.eps = float(eps)

    def _update(self, key, p, g):
        mem = self._buf("sum", key, p)
        mem += g * g
        p -= self.lr * g / np.sqrt(mem + self.eps)


OPTIMIZERS: dict[str, type[NumpyOptimizer]] = {
    "sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adagrad": Adagrad,
}


def make_optimizer(name: str, lr: float, **kwargs) -> NumpyOptimizer:
    """Optimizer by name (``sgd``, ``rmsprop``, ``adam``, ``adagrad``)."""
    if name not in OPTIMIZERS:
        raise LatentworksError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](lr, **kwargs)


def clip_elementwise(grads: Params, limit: float = 5.0) -> None:
    """Clip every gradient entry to ``[-limit, limit]`` in place (min-char-rnn's exploding-gradient guard)."""
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


def clip_global_norm(grads: Params, max_norm: float) -> float:
    """Rescale all gradients in place so their joint L2 norm is at most ``max_norm``; return the norm before.

    Same rule as ``torch.nn.utils.clip_grad_norm_`` (scale ``max_norm / (norm + 1e-6)`` when above).
    """
    norm = float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads.values())))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads.values():
            g *= scale
    return norm
