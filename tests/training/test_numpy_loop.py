"""NumPy char-RNN training loop: learning, determinism, exact resume, Ctrl-C, divergence, bad inputs."""

import json
import math
import os
import signal

import numpy as np
import pytest
from safetensors.numpy import load_file

from latentworks.data.text import Vocab
from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.models.numpy_char_rnn import NumpyRNN, sample
from latentworks.training.numpy_loop import (
    NumpyCharRNNConfig,
    evaluate_numpy,
    load_numpy_char_rnn,
    train_numpy_char_rnn,
)

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
VOCAB = Vocab.from_text(TEXT)
IDS = VOCAB.encode(TEXT)


def _cfg(**kw):
    base = dict(model="rnn", hidden=24, seq_len=12, batch=6, lr=1e-2, steps=20, log_every=5, eval_every=10,
                sample_every=10, checkpoint_every=10, sample_length=20, primes=["the "])
    return NumpyCharRNNConfig(**{**base, **kw})


def _params(run_dir):
    return {k: v for k, v in load_file(str(run_dir / "checkpoints" / "last.safetensors")).items()}


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_tiny_run_learns_repetitive_text(tmp_path, model):
    cfg = _cfg(model=model, hidden=32, seq_len=16, batch=8, steps=150, eval_every=50, sample_every=150)
    res = train_numpy_char_rnn(IDS, VOCAB, cfg, tmp_path, progress=False)
    assert res["val_loss"] < 0.2 * math.log(VOCAB.size)
    assert res["steps"] == 150 and res["chars_per_sec"] > 0 and res["elapsed_s"] > 0
    assert res["train_smooth_loss"] < math.log(VOCAB.size)  # EMA 0.999 starts at ln V and moves slowly
    assert set(res["samples"]) == {"the "} and len(res["samples"]["the "]) == 20
    rows = _metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(5, 151, 5))
    assert [r["step"] for r in rows if "val_loss" in r] == [50, 100, 150]
    model_, vocab, cfg2 = load_numpy_char_rnn(tmp_path)
    assert vocab == VOCAB and cfg2 == cfg
    assert sample(model_, vocab, "the ", 20, 0.0) == sample(model_, vocab, "the ", 20, 0.0)


def test_same_seed_same_numbers_and_different_seed_differs(tmp_path):
    a = train_numpy_char_rnn(IDS, VOCAB, _cfg(), tmp_path / "a", progress=False)
    b = train_numpy_char_rnn(IDS, VOCAB, _cfg(), tmp_path / "b", progress=False)
    c = train_numpy_char_rnn(IDS, VOCAB, _cfg(seed=1), tmp_path / "c", progress=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "chars_per_sec"} for r in rows]  # noqa: E731
    assert strip(_metrics(tmp_path / "a")) == strip(_metrics(tmp_path / "b"))
    assert a["samples"] == b["samples"] and a["val_loss"] == b["val_loss"]
    assert c["val_loss"] != a["val_loss"]


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_resume_is_exact(tmp_path, model):
    # 40 chars per stream, T 12: the data pointer wraps (and the state resets) inside the run.
    full = train_numpy_char_rnn(IDS, VOCAB, _cfg(model=model, steps=24, optimizer="adam"), tmp_path / "full",
                                progress=False)
    train_numpy_char_rnn(IDS, VOCAB, _cfg(model=model, steps=12), tmp_path / "half", progress=False)
    resumed = train_numpy_char_rnn(IDS, VOCAB, _cfg(model=model, steps=24), tmp_path / "half",
                                   progress=False, resume=True)
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
    with pytest.raises(TrainingInterrupted, match="resume with --resume"):
        train_numpy_char_rnn(IDS, VOCAB, _cfg(), tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    assert meta["step"] == 7  # the step in flight finished before saving
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(NumpyRNN, "forward_backward", original)
    train_numpy_char_rnn(IDS, VOCAB, _cfg(), tmp_path / "run", progress=False, resume=True)
    train_numpy_char_rnn(IDS, VOCAB, _cfg(), tmp_path / "ref", progress=False)
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
    with pytest.raises(LatentworksError, match=r"diverged at step 15.*lower --lr.*last.safetensors"):
        train_numpy_char_rnn(IDS, VOCAB, _cfg(), tmp_path, progress=False)
    model, _, _ = load_numpy_char_rnn(tmp_path)
    assert json.loads((tmp_path / "checkpoints" / "last.json").read_text())["step"] == 10
    assert all(np.isfinite(p).all() for p in model.params.values())


def test_huge_lr_diverges_cleanly(tmp_path):
    cfg = _cfg(model="lstm", optimizer="sgd", lr=1e30, clip="none", steps=30)
    with pytest.raises(LatentworksError, match="diverged"):
        train_numpy_char_rnn(IDS, VOCAB, cfg, tmp_path, progress=False)
    model, _, _ = load_numpy_char_rnn(tmp_path)
    assert all(np.isfinite(p).all() for p in model.params.values())


def test_min_char_rnn_preset_runs(tmp_path):
    cfg = NumpyCharRNNConfig.min_char_rnn(steps=10, eval_every=10, sample_every=10, primes=["the "])
    assert (cfg.hidden, cfg.seq_len, cfg.batch, cfg.optimizer, cfg.lr) == (100, 25, 1, "adagrad", 0.1)
    res = train_numpy_char_rnn(IDS, VOCAB, cfg, tmp_path, progress=False)
    assert res["steps"] == 10 and np.isfinite(res["val_loss"])


def test_bad_inputs(tmp_path):
    with pytest.raises(LatentworksError, match="too short"):
        train_numpy_char_rnn(IDS[:60], VOCAB, _cfg(), tmp_path / "a", progress=False)
    with pytest.raises(LatentworksError, match=r"'H'.*not in the training vocabulary"):
        train_numpy_char_rnn(IDS, VOCAB, _cfg(primes=["Harr"]), tmp_path / "b", progress=False)
    with pytest.raises(LatentworksError, match="no checkpoint"):
        train_numpy_char_rnn(IDS, VOCAB, _cfg(), tmp_path / "c", progress=False, resume=True)
    train_numpy_char_rnn(IDS, VOCAB, _cfg(steps=2), tmp_path / "d", progress=False)
    with pytest.raises(LatentworksError, match="different config"):
        train_numpy_char_rnn(IDS, VOCAB, _cfg(hidden=8), tmp_path / "d", progress=False, resume=True)
    with pytest.raises(LatentworksError, match="clip must be"):
        train_numpy_char_rnn(IDS, VOCAB, _cfg(clip="value"), tmp_path / "e", progress=False)


def test_evaluate_is_chunking_independent():
    model = NumpyRNN.init(VOCAB.size, 16, np.random.default_rng(0), np.float64)
    val = IDS[:301]
    # One stream: carrying the state makes the chunk length irrelevant.
    assert evaluate_numpy(model, val, 1, 7) == pytest.approx(evaluate_numpy(model, val, 1, 300), rel=1e-12)
