"""From-scratch NumPy character RNNs (vanilla tanh RNN and LSTM) with explicit BPTT.

Two models in one file, and 380 lines, on purpose: the course teaches the RNN and the LSTM side by side, and
their hand-written forward and backward passes share the config, the state handling and the loss; split, a
reader would have to hold two files open to follow one derivation.

Conventions (shared with any PyTorch port):

* Row vectors: a batch of hidden states is ``(B, H)``; ``h_t = tanh(Wxh[x_t] + h_{t-1} @ Whh + bh)``.
  ``Wxh`` is ``(V, H)`` so the input projection is a row lookup (same as ``one_hot(x) @ Wxh``, but free).
* LSTM gates are fused in one ``(·, 4H)`` matrix in torch order ``i, f, g, o``; torch's ``weight_ih_l0``
  is ``Wx.T``, ``weight_hh_l0`` is ``Wh.T`` and ``b_ih + b_hh`` is ``b``.
* ``forward_backward`` returns the loss **summed** over all ``B*T`` predictions (nats) and gradients of
  that sum times ``grad_scale``; the trainer passes ``1/(B*T)`` for the mean per-character loss (easiest to
  tune, batch-size independent) or ``1`` to reproduce min-char-rnn (sum over T, B = 1).
* The state is a tuple of ``(B, H)`` arrays: ``(h,)`` for the RNN, ``(h, c)`` for the LSTM. The caller
  carries it across chunks (truncated BPTT).
* Saved like every other model (``models/io.py``: ``model.json`` + ``model.safetensors``), kinds
  ``numpy_rnn`` and ``numpy_lstm``; ``config`` is the run's ``model`` section (:class:`NumpyCharConfig`).

One file past ~350 lines: both cells with their hand-written backward passes, and the sampler the torch LSTM
reuses, read best beside the conventions above.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Literal

import numpy as np

from latentworks.config import Derived, flag_alias, require
from latentworks.data.text import Vocab
from latentworks.errors import LatentworksError
from latentworks.registry import register_model

__all__ = ["MODELS", "CharShape", "NumpyCharConfig", "NumpyCharModel", "NumpyLSTM", "NumpyRNN", "next_char_probs",
           "sample", "stream"]


@dataclass
class CharShape:
    """What sizes every character model, NumPy or torch: the corpus's characters and the hidden width."""

    vocab_size: Derived[int] = 65
    hidden: int = 256  # hidden units (per layer)


@dataclass
class NumpyCharConfig(CharShape):
    """The ``model`` section of a NumPy char-RNN run."""

    cell: Annotated[Literal["rnn", "lstm"], flag_alias("--model")] = "rnn"  # vanilla tanh RNN or LSTM
    init: Literal["default", "min_char_rnn"] = "default"  # min_char_rnn: N(0, 1)·0.01 weights (Karpathy's gist)
    dtype: Literal["float32", "float64"] = "float32"
    loss_reduction: Literal["mean", "sum"] = "mean"  # gradients of the mean per-character loss, or of the sum

    def check(self) -> None:
        require(self.hidden >= 1, "hidden", self.hidden, "must be at least 1")
        require(self.cell in ("rnn", "lstm"), "cell", self.cell, "must be rnn or lstm")

State = tuple[np.ndarray, ...]


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes the draw uniform over orthogonal matrices


def _xavier(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no exp, so no overflow warnings for large |x|


class NumpyCharModel:
    """Shared parameter handling, output layer, loss and state helpers."""

    cell = ""
    n_states = 1
    param_names: tuple[str, ...] = ()
    Config = NumpyCharConfig

    def __init__(self, config: NumpyCharConfig, params: dict[str, np.ndarray] | None = None):
        """A model of ``config``'s shape; zero weights unless ``params`` are given (see :meth:`init`). The config
        is the run's ``model`` section itself, so ``model.json`` records every field the run trained with."""
        self.config = config if config.cell == self.cell else replace(config, cell=self.cell)
        shapes = self._shapes(config.vocab_size, config.hidden)
        self.params = params if params is not None else {k: np.zeros(s, config.dtype) for k, s in shapes.items()}
        self.dtype = self.params["Why"].dtype

    @classmethod
    def init(cls, config: NumpyCharConfig, rng: np.random.Generator) -> NumpyCharModel:
        """New model of ``config``. ``init='min_char_rnn'``: every weight N(0,1)*0.01, zero biases (Karpathy's
        gist); ``'default'``: Xavier input/output weights, orthogonal recurrent blocks (+ LSTM forget bias 1)."""
        if config.init not in ("default", "min_char_rnn"):
            raise LatentworksError(f"unknown init scheme {config.init!r}; use 'default' or 'min_char_rnn'")
        params = cls._init_params(config.vocab_size, config.hidden, rng, config.init)
        return cls(config, {k: np.ascontiguousarray(v, dtype=config.dtype) for k, v in params.items()})

    @classmethod
    def _init_params(cls, V: int, H: int, rng: np.random.Generator, scheme: str) -> dict[str, np.ndarray]:
        raise NotImplementedError

    @classmethod
    def _shapes(cls, V: int, H: int) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray], config: NumpyCharConfig) -> NumpyCharModel:
        """The model of ``config`` holding the arrays of ``state`` (a checkpoint's), which must fit it."""
        if set(state) != set(cls.param_names):
            raise LatentworksError(
                f"checkpoint holds {sorted(state)}, not the {cls.cell} parameters {sorted(cls.param_names)}; "
                "load it with the model kind it was trained with"
            )
        shapes = cls._shapes(config.vocab_size, config.hidden)
        if any(np.shape(v) != shapes[k] for k, v in state.items()):
            raise LatentworksError(f"checkpoint arrays {sorted((k, np.shape(v)) for k, v in state.items())} do not "
                                   f"fit --hidden {config.hidden} and {config.vocab_size} characters; load it with "
                                   "the settings it was trained with")
        return cls(config, {k: np.array(v, dtype=config.dtype) for k, v in state.items()})

    def to_state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    # The models/io.py convention: the same two calls as a torch module.
    def state_dict(self) -> dict[str, np.ndarray]:
        return self.to_state_dict()

    def load_state_dict(self, state: dict, strict: bool = True) -> tuple[list[str], list[str]]:
        missing = sorted(set(self.param_names) - set(state))
        unexpected = sorted(set(state) - set(self.param_names))
        for k in set(self.param_names) & set(state):
            v = state[k]
            array = v.numpy() if hasattr(v, "numpy") else np.asarray(v)
            if array.shape != self.params[k].shape:
                unexpected.append(k)
                continue
            self.params[k] = np.ascontiguousarray(array, dtype=self.dtype)
        return missing, unexpected

    def zero_state(self, batch: int) -> State:
        return tuple(np.zeros((batch, self.config.hidden), self.dtype) for _ in range(self.n_states))

    def logits_from_state(self, state: State) -> np.ndarray:
        return state[0] @ self.params["Why"] + self.params["by"]

    def _output(self, hs: np.ndarray, y: np.ndarray, grad_scale: float | None):
        """Softmax cross-entropy over all (T*B, V) rows at once; returns loss, n_correct, dlogits."""
        logits = hs.reshape(-1, self.config.hidden) @ self.params["Why"] + self.params["by"]
        y = y.reshape(-1)
        rows = np.arange(y.size)
        n_correct = int((logits.argmax(axis=1) == y).sum())
        logits -= logits.max(axis=1, keepdims=True)
        target = logits[rows, y].astype(np.float64)  # log-softmax form: no log(0) if p underflows
        np.exp(logits, out=logits)
        sums = logits.sum(axis=1)
        loss = float(np.log(sums, dtype=np.float64).sum() - target.sum())
        if grad_scale is None:
            return loss, n_correct, None
        logits *= (grad_scale / sums)[:, None].astype(self.dtype)
        logits[rows, y] -= self.dtype.type(grad_scale)
        return loss, n_correct, logits

    def _check(self, x: np.ndarray, y: np.ndarray | None, state: State | None) -> tuple:
        x = np.asarray(x)
        if x.ndim != 2 or (y is not None and np.shape(y) != x.shape):
            raise LatentworksError(f"inputs must be (B, T) id arrays with matching targets, got {x.shape}")
        # Time-major copies make every per-step slice contiguous.
        x_tm = np.ascontiguousarray(x.T)
        y_tm = None if y is None else np.ascontiguousarray(np.asarray(y).T)
        return x_tm, y_tm, self.zero_state(x.shape[0]) if state is None else state

    def _input_grad(self, x_tm: np.ndarray, dz: np.ndarray) -> np.ndarray:
        # one_hot.T @ dz: BLAS beats np.add.at scatter by ~4x for typical B*T, V.
        one_hot = np.zeros((x_tm.size, self.config.vocab_size), self.dtype)
        one_hot[np.arange(x_tm.size), x_tm.reshape(-1)] = 1
        return one_hot.T @ dz.reshape(x_tm.size, -1)

    def forward_backward(self, x_ids: np.ndarray, y_ids: np.ndarray, state: State | None = None,
                         grad_scale: float = 1.0) -> tuple[float, dict[str, np.ndarray], State, int]:
        """Full BPTT over a (B, T) chunk: ``(loss_sum_nats, grads, last_state, n_correct)``."""
        x_tm, y_tm, state = self._check(x_ids, y_ids, state)
        hs, cache, last = self._forward(x_tm, state)
        loss, n_correct, dlogits = self._output(hs, y_tm, grad_scale)
        grads = {"Why": hs.reshape(-1, self.config.hidden).T @ dlogits, "by": dlogits.sum(axis=0)}
        dhs = (dlogits @ self.params["Why"].T).reshape(hs.shape)
        grads.update(self._backward(x_tm, state, hs, cache, dhs))
        return loss, grads, last, n_correct

    def forward_loss(self, x_ids: np.ndarray, y_ids: np.ndarray,
                     state: State | None = None) -> tuple[float, State, int]:
        """Loss only, no backward pass: ``(loss_sum_nats, last_state, n_correct)``."""
        x_tm, y_tm, state = self._check(x_ids, y_ids, state)
        hs, _, last = self._forward(x_tm, state)
        loss, n_correct, _ = self._output(hs, y_tm, None)
        return loss, last, n_correct

    def step_state(self, ids: np.ndarray, state: State) -> State:
        """Advance the state by one input character per batch row (used for sampling)."""
        _, _, last = self._forward(np.asarray(ids).reshape(1, -1), state)
        return last


@register_model("numpy_rnn", family="charrnn", title="NumPy RNN", capabilities=("generate",), step_seconds=0.005)
class NumpyRNN(NumpyCharModel):
    """Vanilla tanh RNN: ``h_t = tanh(Wxh[x_t] + h_{t-1} Whh + bh)``, ``logits = h_t Why + by``."""

    cell = "rnn"
    param_names = ("Wxh", "Whh", "bh", "Why", "by")

    @classmethod
    def _shapes(cls, V, H):
        return {"Wxh": (V, H), "Whh": (H, H), "bh": (H,), "Why": (H, V), "by": (V,)}

    @classmethod
    def _init_params(cls, V, H, rng, scheme):
        if scheme == "min_char_rnn":
            shapes = {"Wxh": (V, H), "Whh": (H, H), "Why": (H, V)}
            p = {k: rng.standard_normal(s) * 0.01 for k, s in shapes.items()}
        else:
            p = {"Wxh": _xavier(rng, V, H), "Whh": _orthogonal(rng, H), "Why": _xavier(rng, H, V)}
        return {**p, "bh": np.zeros(H), "by": np.zeros(V)}

    def _forward(self, x_tm, state):
        P = self.params
        hs = P["Wxh"][x_tm]  # (T, B, H) input projections for all steps at once
        hs += P["bh"]
        h = state[0]
        for t in range(hs.shape[0]):
            h = np.tanh(hs[t] + h @ P["Whh"], out=hs[t])
        return hs, None, (h.copy(),)

    def _backward(self, x_tm, state, hs, cache, dhs):
        Whh_T = self.params["Whh"].T
        da = dhs  # reused in place: becomes d(pre-activation)
        dh_next = np.zeros_like(state[0])
        for t in range(hs.shape[0] - 1, -1, -1):
            da[t] += dh_next
            da[t] *= 1.0 - hs[t] * hs[t]
            dh_next = da[t] @ Whh_T
        H = self.config.hidden
        h_prev = np.concatenate([state[0][None], hs[:-1]]).reshape(-1, H)
        flat = da.reshape(-1, H)
        return {"Wxh": self._input_grad(x_tm, da), "Whh": h_prev.T @ flat, "bh": flat.sum(axis=0)}


@register_model("numpy_lstm", family="charrnn", title="NumPy LSTM", capabilities=("generate",),
                step_seconds=0.005)
class NumpyLSTM(NumpyCharModel):
    """LSTM with fused gates ``z = Wx[x_t] + h_{t-1} Wh + b`` split as ``i, f, g, o``."""

    cell = "lstm"
    n_states = 2
    param_names = ("Wx", "Wh", "b", "Why", "by")

    @classmethod
    def _shapes(cls, V, H):
        return {"Wx": (V, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,), "Why": (H, V), "by": (V,)}

    @classmethod
    def _init_params(cls, V, H, rng, scheme):
        if scheme == "min_char_rnn":
            shapes = {"Wx": (V, 4 * H), "Wh": (H, 4 * H), "Why": (H, V)}
            p = {k: rng.standard_normal(s) * 0.01 for k, s in shapes.items()}
            return {**p, "b": np.zeros(4 * H), "by": np.zeros(V)}
        b = np.zeros(4 * H)
        b[H:2 * H] = 1.0  # forget-gate bias 1: remember by default (Jozefowicz et al. 2015)
        Wh = np.concatenate([_orthogonal(rng, H) for _ in range(4)], axis=1)
        return {"Wx": _xavier(rng, V, 4 * H), "Wh": Wh, "Why": _xavier(rng, H, V), "b": b, "by": np.zeros(V)}

    def _forward(self, x_tm, state):
        P, H = self.params, self.config.hidden
        gates = P["Wx"][x_tm]  # (T, B, 4H) input projections for all steps, overwritten with activations
        gates += P["b"]
        hs, cs, tcs = (np.empty(gates.shape[:2] + (H,), self.dtype) for _ in range(3))
        h, c = state
        for t in range(gates.shape[0]):
            z = gates[t]
            z += h @ P["Wh"]  # the only matmul per step: all four gates at once
            z[:, :2 * H] = _sigmoid(z[:, :2 * H])
            np.tanh(z[:, 2 * H:3 * H], out=z[:, 2 * H:3 * H])
            z[:, 3 * H:] = _sigmoid(z[:, 3 * H:])
            c = np.multiply(z[:, H:2 * H], c, out=cs[t])
            c += z[:, :H] * z[:, 2 * H:3 * H]
            h = np.multiply(z[:, 3 * H:], np.tanh(c, out=tcs[t]), out=hs[t])
        return hs, (gates, cs, tcs), (h.copy(), c.copy())

    def _backward(self, x_tm, state, hs, cache, dhs):
        gates, cs, tcs = cache
        H, Wh_T = self.config.hidden, self.params["Wh"].T
        dz = np.empty_like(gates)
        dh_next, dc = np.zeros_like(state[0]), np.zeros_like(state[1])
        # Per-step small ops measured faster here than precomputing (T, B, 4H) factor arrays: the
        # step's working set stays in cache. The matmuls dominate either way.
        for t in range(gates.shape[0] - 1, -1, -1):
            i, f, g, o = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
            c_prev, tc = (cs[t - 1] if t > 0 else state[1]), tcs[t]
            dh = dhs[t]
            dh += dh_next
            dc += dh * o * (1.0 - tc * tc)
            dz[t, :, :H] = dc * g * i * (1.0 - i)
            dz[t, :, H:2 * H] = dc * c_prev * f * (1.0 - f)
            dz[t, :, 2 * H:3 * H] = dc * i * (1.0 - g * g)
            dz[t, :, 3 * H:] = dh * tc * o * (1.0 - o)
            dc *= f
            dh_next = dz[t] @ Wh_T
        h_prev = np.concatenate([state[0][None], hs[:-1]]).reshape(-1, H)
        flat = dz.reshape(-1, 4 * H)
        return {"Wx": self._input_grad(x_tm, dz), "Wh": h_prev.T @ flat, "b": flat.sum(axis=0)}


MODELS: dict[str, type[NumpyCharModel]] = {"rnn": NumpyRNN, "lstm": NumpyLSTM}


def check_sampling_options(temperature: float, top_k: int | None) -> None:
    if temperature < 0 or not np.isfinite(temperature):
        raise LatentworksError(f"temperature must be >= 0, got {temperature}; use e.g. 0.8 (0 = greedy)")
    if top_k is not None and top_k < 1:
        raise LatentworksError(f"top_k must be >= 1, got {top_k}; use e.g. 5 or leave it unset")


def pick_next(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One character id from ``logits``: the ``top_k`` best kept, softmax at ``temperature`` (0: argmax)."""
    logits = logits.astype(np.float64)
    if top_k is not None and top_k < logits.size:
        cut = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits >= cut, logits, -np.inf)
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits / temperature
    p = np.exp(z - z.max())
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), logits.size - 1))


def next_char_probs(model: NumpyCharModel, state: State, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``logits / temperature`` for each batch row; temperature 0 gives the argmax one-hot."""
    logits = model.logits_from_state(state).astype(np.float64)
    if temperature == 0:
        return np.eye(logits.shape[-1])[logits.argmax(axis=-1)]
    z = logits / temperature
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def stream(model: NumpyCharModel, prime_ids: np.ndarray | list[int], length: int, temperature: float = 1.0,
           top_k: int | None = None, rng: np.random.Generator | None = None) -> Iterator[int]:
    """Warm the state up on ``prime_ids`` then yield ``length`` generated ids one at a time, the state carried
    from each to the next (the options are checked at once, before the first id is asked for)."""
    ids = [int(i) for i in prime_ids]
    if not ids:
        raise LatentworksError("sampling needs a non-empty prime string; pass e.g. --prime 'The '")
    check_sampling_options(temperature, top_k)
    rng = np.random.default_rng() if rng is None else rng

    def generate() -> Iterator[int]:
        state = model.zero_state(1)
        for i in ids[:-1]:
            state = model.step_state(np.array([i]), state)
        cur = ids[-1]
        for _ in range(length):
            state = model.step_state(np.array([cur]), state)
            cur = pick_next(model.logits_from_state(state)[0], temperature, top_k, rng)
            yield cur

    return generate()


def sample(model: NumpyCharModel, vocab: Vocab, prime: str, length: int, temperature: float = 1.0,
           top_k: int | None = None, rng: np.random.Generator | None = None) -> str:
    """Warm the state up on ``prime`` then generate ``length`` characters (returned without the prime).

    ``temperature == 0`` is exact argmax (greedy); ``top_k`` keeps only the k most likely characters.
    """
    if not prime:
        raise LatentworksError("sampling needs a non-empty prime string; pass e.g. --prime 'The '")
    check_sampling_options(temperature, top_k)
    ids = vocab.encode(prime)  # raises naming any characters outside the training vocabulary
    return vocab.decode(list(stream(model, ids, length, temperature, top_k, rng)))
