"""Training loop for the NumPy char-RNN: B contiguous streams, truncated BPTT, exact resume.

NumPy needs its own loop (explicit forward/backward, NumPy optimizers) but nothing else of its own: it reads the
same ``train`` section as the torch trainer, writes the one checkpoint format (``training/checkpoint.py``) and
saves the model through ``models/io.py``.

Batching generalises min-char-rnn to B rows: the training ids are cut into B equal contiguous streams;
step k feeds the next T characters of every stream, carrying the hidden state; when a stream has no
T+1 characters left every pointer wraps to 0 and the state resets (min-char-rnn's ``p = 0; hprev = 0``).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from latentworks.data.text import CharData, Vocab, require_length, split_corpus
from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.models.numpy_char_rnn import MODELS, NumpyCharConfig, NumpyCharModel, sample
from latentworks.runs import RunDir, check_resume, write_json
from latentworks.training import checkpoint as ckpt
from latentworks.training.config import TrainConfig
from latentworks.training.numpy_optim import clip_elementwise, clip_global_norm, make_optimizer
from latentworks.training.optim import lr_factor
from latentworks.training.trainer import STOP_SIGNALS, open_tensorboard, resume_free


class CharRun(Protocol):
    """What the loop reads of a run config (recipes/charrnn.py's NumpyRun is one), typed here because the loop
    sits below the recipes and never imports them."""

    data: CharData
    model: NumpyCharConfig
    train: TrainConfig
    eval: Any  # val_batches, sample_every, print_samples, sample_length, temperatures

__all__ = ["evaluate_numpy", "train_numpy_char_rnn"]

# A finite loss this large means exploded weights (p(target) < e^-1000), not a hard batch: stop as for NaN.
_DIVERGED_NATS = 1000.0
_VAL_TOO_SHORT = "validation split has < 2 characters; use a longer corpus or raise --val-fraction"


def _streams(ids: np.ndarray, n: int) -> np.ndarray:
    length = len(ids) // n
    return np.ascontiguousarray(ids[: n * length].reshape(n, length))


def evaluate_numpy(model: NumpyCharModel, val_ids: np.ndarray, batch: int, seq_len: int,
                   max_chunks: int | None = None,
                   return_accuracy: bool = False) -> float | tuple[float, float]:
    """Mean nats/char over ``val_ids`` run as (up to) ``batch`` streams, state carried, no gradients.

    ``return_accuracy=True`` returns ``(loss, next-character accuracy)``.
    """
    if len(val_ids) < 2:
        raise LatentworksError(_VAL_TOO_SHORT)
    n = max(1, min(batch, (len(val_ids) - 1) // seq_len))
    data = _streams(val_ids, n)
    state, total, count, correct = model.zero_state(n), 0.0, 0, 0
    for k, p in enumerate(range(0, data.shape[1] - 1, seq_len)):
        if max_chunks is not None and k >= max_chunks:
            break
        e = min(p + seq_len, data.shape[1] - 1)
        loss, state, n_correct = model.forward_loss(data[:, p:e], data[:, p + 1 : e + 1], state)
        total, count, correct = total + loss, count + n * (e - p), correct + n_correct
    return (total / count, correct / count) if return_accuracy else total / count


def _optimizer(cfg: CharRun):
    t = cfg.train
    extra = {"momentum": t.momentum} if t.optimizer == "sgd" else {"betas": t.betas} if t.optimizer == "adam" else {}
    return make_optimizer(t.optimizer, t.lr, **extra)


def _samples(model, vocab, cfg: CharRun, primes: list[str], step: int) -> dict[str, dict[str, str]]:
    # A fresh generator per (seed, step) makes samples a pure function of the weights and the step, so a
    # resumed run prints exactly what an uninterrupted one would, whatever the sampling cadence.
    rng = np.random.default_rng([cfg.train.seed, step])
    return {str(t): {p: sample(model, vocab, p, cfg.eval.sample_length, t, rng=rng) for p in primes}
            for t in cfg.eval.temperatures}


def _diverged(step: int, what: str, ck_dir: Path) -> str:
    return (f"training diverged at step {step} ({what}); lower --lr or clip gradients; "
            f"last good checkpoint kept in {ck_dir}")


def _save(ck_dir: Path, model: NumpyCharModel, opt, st: dict[str, Any], run_config: dict) -> None:
    tensors = {f"model/{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.params.items()}
    tensors.update({f"optim/{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in opt.state_dict().items()})
    tensors.update({f"state/{i}": torch.from_numpy(np.ascontiguousarray(s)) for i, s in enumerate(st["state"])})
    meta = {k: v for k, v in st.items() if k not in ("state", "rng")}
    meta.update(rng_state=st["rng"].bit_generator.state, config=run_config, cell=model.cell)
    ckpt.write_checkpoint(ck_dir, st["step"], tensors, meta)


def _sub(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v.numpy() for k, v in tensors.items() if k.startswith(prefix)}


def _fresh(cfg: CharRun, vocab: Vocab, run_dir: Path, ck_dir: Path, run_config: dict):
    rng = np.random.default_rng(cfg.train.seed)
    m = cfg.model
    model = MODELS[m.cell].init(vocab.size, m.hidden, rng, m.dtype, m.init)
    opt = _optimizer(cfg)
    st = dict(step=0, pos=0, smooth=math.log(vocab.size), acc=1.0 / vocab.size, chars=0, train_s=0.0,
              wall_s=0.0, state=model.zero_state(cfg.train.batch_size), rng=rng)
    (run_dir / "metrics.jsonl").write_text("")
    (run_dir / "results.json").unlink(missing_ok=True)  # a stale result must not pass for this run's
    write_json(run_dir / "config.json", run_config)
    _save(ck_dir, model, opt, st, run_config)  # so a "last good checkpoint" always exists
    return model, opt, st


def _resume(cfg: CharRun, run_dir: Path, ck_dir: Path, run_config: dict):
    check_resume(run_dir, run_config, resume_free(cfg.train))
    tensors, meta = ckpt.load_checkpoint(ck_dir)
    model = MODELS[meta.get("cell", cfg.model.cell)].from_state_dict(_sub(tensors, "model/"))
    opt = _optimizer(cfg)
    opt.load_state_dict(_sub(tensors, "optim/"))
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng_state"]
    st = {k: meta[k] for k in ("step", "pos", "smooth", "acc", "chars", "train_s", "wall_s")}
    st.update(state=tuple(np.array(tensors[f"state/{i}"].numpy()) for i in range(model.n_states)), rng=rng)
    write_json(run_dir / "config.json", run_config)  # logging and length changes are recorded
    # Drop log lines written after the checkpoint (and any a crash tore), so the log has no duplicate steps.
    rows = [r for r in RunDir(run_dir, create=False).read_metrics() if r.get("step", 0) <= st["step"]]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return model, opt, st


def blas_threads(threads: int | None):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    # The matmuls are small ((B, H) x (H, 4H)); on a busy 2-core machine OpenBLAS's default threading ran them
    # ~25x slower than one thread.
    return threadpool_limits(limits=threads or 1, user_api="blas")


def train_numpy_char_rnn(cfg: CharRun, text_ids: np.ndarray, vocab: Vocab, run_dir: str | Path,
                         primes: list[str], run_config: dict[str, Any], resume: bool = False) -> dict[str, Any]:
    """Train into ``run_dir`` (checkpoints, ``metrics.jsonl``, ``model.json`` + ``model.safetensors``).

    ``resume=True`` continues from the newest intact checkpoint with identical numbers to an uninterrupted run.
    """
    with blas_threads(cfg.train.threads):
        return _train(cfg, np.asarray(text_ids, dtype=np.int32), vocab, Path(run_dir), primes, run_config, resume)


def _train(cfg: CharRun, text_ids: np.ndarray, vocab: Vocab, run_dir: Path, primes: list[str],
           run_config: dict[str, Any], resume: bool) -> dict[str, Any]:
    from latentworks.models.io import save_model

    t, ev = cfg.train, cfg.eval
    if text_ids.size and (text_ids.min() < 0 or text_ids.max() >= vocab.size):
        raise LatentworksError("text ids fall outside the vocabulary; encode the text with the same Vocab")
    for p in primes:
        vocab.encode(p)  # fail now, not after training, on a prime with unseen characters
    train_ids, val_ids = split_corpus(text_ids, cfg.data.val_fraction)
    B, T = t.batch_size, cfg.data.seq_len
    require_length(train_ids, T, "training", batch=B)
    if len(val_ids) < 2:
        raise LatentworksError(_VAL_TOO_SHORT)
    data = _streams(train_ids, B)
    grad_scale = 1.0 / (B * T) if cfg.model.loss_reduction == "mean" else 1.0
    ck_dir = run_dir / "checkpoints"
    metrics_path = run_dir / "metrics.jsonl"
    if resume and not any(ck_dir.glob("step-*.safetensors")):
        check_resume(run_dir, run_config, resume_free(cfg.train))
        print(f"latentworks: {run_dir} has no checkpoint yet; starting it from the beginning", file=sys.stderr)
        resume = False
    resumed_at = None
    if resume:
        model, opt, st = _resume(cfg, run_dir, ck_dir, run_config)
        resumed_at = st["step"]
    else:
        model, opt, st = _fresh(cfg, vocab, run_dir, ck_dir, run_config)
    base_lr = opt.lr
    stop: list[bool] = []
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C or SIGTERM only sets a flag, checked between steps, so a checkpoint never holds a half-done update.
        old_handler = {signum: signal.signal(signum, lambda *_: stop.append(True)) for signum in STOP_SIGNALS}
    bar = tqdm(total=t.steps, initial=st["step"], disable=not t.progress, unit="step", mininterval=0.5,
               desc=f"train {run_dir.name}", leave=False)
    board = open_tensorboard(run_dir) if t.tensorboard else None
    wall0, wall_base, val_loss, samples = time.perf_counter(), st["wall_s"], None, {}
    state, pos, saved_step = st["state"], st["pos"], st["step"]
    try:
        with open(metrics_path, "a") as mf:
            for step in range(st["step"] + 1, t.steps + 1):
                t0 = time.perf_counter()
                if pos + T + 1 > data.shape[1]:
                    pos, state = 0, model.zero_state(B)
                opt.lr = base_lr * lr_factor(step - 1, t.steps, t)
                with np.errstate(all="ignore"):  # a blow-up is reported below as one clear error instead
                    loss, grads, new_state, n_correct = model.forward_backward(
                        data[:, pos : pos + T], data[:, pos + 1 : pos + T + 1], state, grad_scale)
                if not loss / (B * T) < _DIVERGED_NATS:  # also catches NaN
                    raise LatentworksError(_diverged(step, f"loss {loss / (B * T):.3g} nats/char", ck_dir))
                if t.clip == "elementwise":
                    clip_elementwise(grads, t.clip_value)
                elif t.clip == "norm":
                    clip_global_norm(grads, t.clip_value)
                opt.step(model.params, grads)
                state, pos = new_state, pos + T
                st.update(step=step, pos=pos, state=state, chars=st["chars"] + B * T,
                          smooth=0.999 * st["smooth"] + 0.001 * loss / (B * T),
                          acc=0.999 * st["acc"] + 0.001 * n_correct / (B * T),
                          train_s=st["train_s"] + time.perf_counter() - t0)
                bar.update(1)
                measured = None
                final = step == t.steps or (t.time_limit_s is not None and
                                            wall_base + time.perf_counter() - wall0 >= t.time_limit_s)
                if (t.eval_every and step % t.eval_every == 0) or final:
                    measured = val_loss = evaluate_numpy(model, val_ids, B, T, ev.val_batches)
                if step % ev.sample_every == 0 or final:
                    samples = _samples(model, vocab, cfg, primes, step)
                    for temp, by_prime in samples.items() if t.progress and ev.print_samples else ():
                        for p, text in by_prime.items():
                            bar.write(f"--- step {step} T={temp} {p!r}: {p + text}")
                    for temp, by_prime in samples.items() if board is not None else ():
                        board.add_text(f"samples/T={temp}", "\n\n".join(p + text for p, text in by_prime.items()),
                                       step)
                if step % t.log_every == 0 or measured is not None:
                    row = {"step": step, "smooth_loss": st["smooth"], "acc_ema": st["acc"],
                           "chars_per_sec": st["chars"] / max(st["train_s"], 1e-9)}
                    if measured is not None:
                        row["val_loss"] = measured
                    mf.write(json.dumps(row) + "\n")
                    mf.flush()
                    for key, value in row.items() if board is not None else ():
                        if key != "step":
                            board.add_scalar(key, value, step)
                    bar.set_postfix(loss=f"{st['smooth']:.3f}", val=f"{val_loss or float('nan'):.3f}")
                if (t.checkpoint_every and step % t.checkpoint_every == 0) or final or stop:
                    if not all(np.isfinite(v).all() for v in model.params.values()):
                        raise LatentworksError(_diverged(step, "non-finite weights", ck_dir))
                    st["wall_s"] = wall_base + time.perf_counter() - wall0
                    _save(ck_dir, model, opt, st, run_config)
                    saved_step = step
                if stop:
                    raise KeyboardInterrupt
                if final:
                    break
    except KeyboardInterrupt:
        if saved_step != st["step"]:
            st["wall_s"] = wall_base + time.perf_counter() - wall0
            _save(ck_dir, model, opt, st, run_config)
        raise TrainingInterrupted(f"training interrupted at step {st['step']}; checkpoint saved in {ck_dir}; "
                                  "resume with --resume") from None
    finally:
        bar.close()
        if board is not None:
            board.close()
        for signum, previous in (old_handler or {}).items():
            signal.signal(signum, previous)
    if val_loss is None:  # e.g. resumed at the final step: still report it
        val_loss = evaluate_numpy(model, val_ids, B, T, ev.val_batches)
    if not samples:
        samples = _samples(model, vocab, cfg, primes, st["step"])
    save_model(model, run_dir, extra={"vocab": vocab.to_json()})
    return {"model": model, "resumed_at": resumed_at, "val_loss": val_loss, "train_smooth_loss": st["smooth"],
            "acc_ema": st["acc"],
            "chars_per_sec": st["chars"] / max(st["train_s"], 1e-9), "steps": st["step"],
            "elapsed_s": wall_base + time.perf_counter() - wall0,
            "samples": samples[str(ev.temperatures[0])], "samples_by_temperature": samples}
