"""NumPy char-RNN training loop: learning, determinism, exact resume, Ctrl-C, divergence, bad inputs."""

import json
import math
import os
import signal

import numpy as np
import pytest

from latentworks.config import ConfigError, to_dict, validate
from latentworks.data.text import Vocab
from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.models.io import load_model
from latentworks.models.numpy_char_rnn import NumpyCharConfig, NumpyRNN, sample
from latentworks.recipes.charrnn import recipe, resolve
from latentworks.training.checkpoint import load_checkpoint
from latentworks.training.numpy_loop import evaluate_numpy, train_numpy_char_rnn

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
VOCAB = Vocab.from_text(TEXT)
IDS = VOCAB.encode(TEXT)
HOME = {"model": "model.cell", "hidden": "model.hidden", "seq_len": "data.seq_len", "batch": "train.batch_size",
        "lr": "train.lr", "steps": "train.steps", "log_every": "train.log_every", "eval_every": "train.eval_every",
        "sample_every": "eval.sample_every", "checkpoint_every": "train.checkpoint_every",
        "sample_length": "eval.sample_length", "primes": "eval.primes", "seed": "train.seed",
        "optimizer": "train.optimizer", "clip": "train.clip"}


def _cfg(name="default", **kw):
    base = dict(model="rnn", hidden=24, seq_len=12, batch=6, lr=1e-2, steps=20, log_every=5, eval_every=10,
                sample_every=10, checkpoint_every=10, sample_length=20, primes=["the "])
    if name != "default":
        base = {k: v for k, v in base.items() if k in ("steps", "eval_every", "sample_every", "primes")}
    changes = {HOME[k]: v for k, v in {**base, **kw}.items()}
    return resolve(recipe(name, **{"train.progress": False, **changes}), VOCAB.size)


def train_numpy(ids, vocab, cfg, run_dir, resume=False):
    run_dir.mkdir(parents=True, exist_ok=True)
    return train_numpy_char_rnn(cfg, ids, vocab, run_dir, cfg.eval.primes, {"family": "charrnn", **to_dict(cfg)},
                                resume=resume)


def _params(run_dir):
    tensors, _ = load_checkpoint(run_dir / "checkpoints")
    return {k: v.numpy() for k, v in tensors.items()}


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_tiny_run_learns_repetitive_text(tmp_path, model):
    cfg = _cfg(model=model, hidden=32, seq_len=16, batch=8, steps=150, eval_every=50, sample_every=150)
    res = train_numpy(IDS, VOCAB, cfg, tmp_path)
    assert res["val_loss"] < 0.2 * math.log(VOCAB.size)
    assert res["steps"] == 150 and res["chars_per_sec"] > 0 and res["elapsed_s"] > 0
    assert res["train_smooth_loss"] < math.log(VOCAB.size)  # EMA 0.999 starts at ln V and moves slowly
    assert set(res["samples"]) == {"the "} and len(res["samples"]["the "]) == 20
    rows = _metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(5, 151, 5))
    assert [r["step"] for r in rows if "eval/val_loss" in r] == [50, 100, 150]
    model_ = load_model(tmp_path, expect=f"numpy_{model}")
    assert model_.config == cfg.model
    for k, v in res["model"].params.items():
        np.testing.assert_array_equal(model_.params[k], v)
    assert sample(model_, VOCAB, "the ", 20, 0.0) == sample(res["model"], VOCAB, "the ", 20, 0.0)


def test_same_seed_same_numbers_and_different_seed_differs(tmp_path):
    a = train_numpy(IDS, VOCAB, _cfg(), tmp_path / "a")
    b = train_numpy(IDS, VOCAB, _cfg(), tmp_path / "b")
    c = train_numpy(IDS, VOCAB, _cfg(seed=1), tmp_path / "c")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "chars_per_sec"} for r in rows]  # noqa: E731
    assert strip(_metrics(tmp_path / "a")) == strip(_metrics(tmp_path / "b"))
    assert a["samples"] == b["samples"] and a["val_loss"] == b["val_loss"]
    assert c["val_loss"] != a["val_loss"]


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_resume_is_exact(tmp_path, model):
    # 40 chars per stream, T 12: the data pointer wraps (and the state resets) inside the run.
    full = train_numpy(IDS, VOCAB, _cfg(model=model, steps=24, optimizer="adam"), tmp_path / "full")
    train_numpy(IDS, VOCAB, _cfg(model=model, steps=12), tmp_path / "half")
    resumed = train_numpy(IDS, VOCAB, _cfg(model=model, steps=24), tmp_path / "half", resume=True)
    a, b = _params(tmp_path / "full"), _params(tmp_path / "half")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert resumed["train_smooth_loss"] == full["train_smooth_loss"]
    assert resumed["val_loss"] == full["val_loss"] and resumed["samples"] == full["samples"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "chars_per_sec"} for r in rows]  # noqa: E731
    half_rows = strip(_metrics(tmp_path / "half"))
    # The first half also logged its own final step 12 (with a validation pass); all else is identical.
    assert [r for r in half_rows if r["step"] != 12] == strip(_metrics(tmp_path / "full"))


def test_ctrl_c_saves_and_resume_matches(tmp_path, monkeypatch):
    original = NumpyRNN.forward_backward
    calls = []

    def interrupting(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does, mid-step
        return original(self, *args, **kwargs)

    monkeypatch.setattr(NumpyRNN, "forward_backward", interrupting)
    with pytest.raises(TrainingInterrupted, match="interrupted at step 7; .*rerun with --resume"):
        train_numpy(IDS, VOCAB, _cfg(), tmp_path / "run")
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoints")
    assert meta["step"] == 7  # the step in flight finished before saving
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(NumpyRNN, "forward_backward", original)
    train_numpy(IDS, VOCAB, _cfg(), tmp_path / "run", resume=True)
    train_numpy(IDS, VOCAB, _cfg(), tmp_path / "ref")
    a, b = _params(tmp_path / "run"), _params(tmp_path / "ref")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_nan_stops_with_clear_error_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    original = NumpyRNN.forward_backward
    calls = []

    def poisoned(self, *args, **kwargs):
        calls.append(1)
        loss, grads, state, n = original(self, *args, **kwargs)
        return (float("nan") if len(calls) == 15 else loss), grads, state, n

    monkeypatch.setattr(NumpyRNN, "forward_backward", poisoned)
    with pytest.raises(LatentworksError, match=r"loss became nan at step 15; .*diverged.*kept in.*lower --lr"):
        train_numpy(IDS, VOCAB, _cfg(), tmp_path)
    tensors, meta = load_checkpoint(tmp_path / "checkpoints")
    assert meta["step"] == 10
    assert all(np.isfinite(v.numpy()).all() for v in tensors.values() if v.is_floating_point())


def test_huge_lr_diverges_cleanly(tmp_path):
    cfg = _cfg(model="lstm", optimizer="sgd", lr=1e30, clip="none", steps=30)
    with pytest.raises(LatentworksError, match="diverged"):
        train_numpy(IDS, VOCAB, cfg, tmp_path)
    params = {k: v for k, v in _params(tmp_path).items() if k.startswith("model/")}
    assert params and all(np.isfinite(p).all() for p in params.values())


def test_min_char_rnn_recipe_runs(tmp_path):
    cfg = _cfg("min-char-rnn", steps=10, eval_every=10, sample_every=10)
    t = cfg.train
    assert (cfg.model.hidden, cfg.data.seq_len, t.batch_size, t.optimizer, t.lr) == (100, 25, 1, "adagrad", 0.1)
    res = train_numpy(IDS, VOCAB, cfg, tmp_path)
    assert res["steps"] == 10 and np.isfinite(res["val_loss"])


def test_bad_inputs(tmp_path):
    with pytest.raises(LatentworksError, match="too short"):
        train_numpy(IDS[:60], VOCAB, _cfg(), tmp_path / "a")
    with pytest.raises(LatentworksError, match=r"'H'.*not in the training vocabulary"):
        train_numpy(IDS, VOCAB, _cfg(primes=["Harr"]), tmp_path / "b")
    with pytest.raises(LatentworksError, match="not found"):
        train_numpy(IDS, VOCAB, _cfg(), tmp_path / "c", resume=True)
    train_numpy(IDS, VOCAB, _cfg(steps=2), tmp_path / "d")
    with pytest.raises(LatentworksError, match="trained with --hidden 24, not 8"):
        train_numpy(IDS, VOCAB, _cfg(hidden=8), tmp_path / "d", resume=True)
    with pytest.raises(ConfigError, match="--clip 'value' is not one of"):
        validate(_cfg(clip="value"))


def test_evaluate_is_chunking_independent():
    model = NumpyRNN.init(NumpyCharConfig(hidden=16, vocab_size=VOCAB.size, dtype="float64"), np.random.default_rng(0))
    val = IDS[:301]
    # One stream: carrying the state makes the chunk length irrelevant.
    assert evaluate_numpy(model, val, 1, 7) == pytest.approx(evaluate_numpy(model, val, 1, 300), rel=1e-12)
