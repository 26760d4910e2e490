"""Training loop for the NumPy char-RNN: B contiguous streams, truncated BPTT, exact resume.

NumPy needs its own loop (explicit forward/backward, NumPy optimizers) but nothing else of its own: it reads the
same ``train`` section as the torch trainer, keeps its books with the same :class:`~latentworks.training.loop.Loop`
(so its ``metrics.jsonl`` rows carry the trainer's keys: ``loss``, ``acc``, ``lr``, ``eval/val_loss``,
``eval/val_acc``), writes the one checkpoint format (``training/checkpoint.py``) and saves the model through
``models/io.py``.

Batching generalises min-char-rnn to B rows: the training ids are cut into B equal contiguous streams;
step k feeds the next T characters of every stream, carrying the hidden state; when a stream has no
T+1 characters left every pointer wraps to 0 and the state resets (min-char-rnn's ``p = 0; hprev = 0``).
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from latentworks.data.text import CharData, Vocab, require_length, split_corpus
from latentworks.errors import LatentworksError
from latentworks.models.numpy_char_rnn import MODELS, NumpyCharConfig, NumpyCharModel, sample
from latentworks.runs import RunDir
from latentworks.training import checkpoint as ckpt
from latentworks.training.config import TrainConfig
from latentworks.training.loop import Loop
from latentworks.training.numpy_optim import clip_elementwise, clip_global_norm, make_optimizer
from latentworks.training.optim import lr_factor


class CharRun(Protocol):
    """What the loop reads of a run config (recipes/charrnn.py's NumpyRun is one), typed here because the loop
    sits below the recipes and never imports them."""

    data: CharData
    model: NumpyCharConfig
    train: TrainConfig
    eval: Any  # val_batches, sample_every, print_samples, sample_length, temperatures

__all__ = ["evaluate_numpy", "train_numpy_char_rnn"]

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


def _save(loop: Loop, model: NumpyCharModel, opt, st: dict[str, Any]) -> None:
    """Checkpoint the model, the optimizer, the carried state, the data pointer and the generator; weights that
    are no longer finite are never saved."""
    if not all(np.isfinite(v).all() for v in model.params.values()):
        loop.diverged("the weights", float("nan"), loop.step)
    tensors = {f"model/{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.params.items()}
    tensors.update({f"optim/{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in opt.state_dict().items()})
    tensors.update({f"state/{i}": torch.from_numpy(np.ascontiguousarray(s)) for i, s in enumerate(st["state"])})
    meta = {k: v for k, v in st.items() if k not in ("state", "rng")}
    meta.update(loop.meta(), rng_state=st["rng"].bit_generator.state, cell=model.cell)
    loop.last_good = ckpt.write_checkpoint(loop.run.checkpoints, loop.step, tensors, meta)


def _sub(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v.numpy() for k, v in tensors.items() if k.startswith(prefix)}


# What the loop carries besides the weights, the optimizer and the state: the data pointer, min-char-rnn's
# smoothed loss and accuracy (EMAs 0.999 from ln V and 1/V), characters seen and time spent in steps.
_CARRIED = ("pos", "smooth", "acc", "chars", "train_s")


def _fresh(cfg: CharRun, vocab: Vocab, loop: Loop):
    rng = np.random.default_rng(cfg.train.seed)
    model = MODELS[cfg.model.cell].init(cfg.model, rng)
    opt = _optimizer(cfg)
    st = dict(pos=0, smooth=math.log(vocab.size), acc=1.0 / vocab.size, chars=0, train_s=0.0,
              state=model.zero_state(cfg.train.batch_size), rng=rng)
    _save(loop, model, opt, st)  # so a "last good checkpoint" always exists
    return model, opt, st


def _resume(cfg: CharRun, loop: Loop):
    tensors, meta = ckpt.load_checkpoint(loop.run.checkpoints)
    model = MODELS[meta.get("cell", cfg.model.cell)].from_state_dict(_sub(tensors, "model/"), cfg.model)
    opt = _optimizer(cfg)
    opt.load_state_dict(_sub(tensors, "optim/"))
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng_state"]
    st = {k: meta[k] for k in _CARRIED}
    st.update(state=tuple(np.array(tensors[f"state/{i}"].numpy()) for i in range(model.n_states)), rng=rng)
    loop.restore(meta)
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
    loop = Loop(t, RunDir(run_dir), run_config, t.steps)
    model, opt, st = _resume(cfg, loop) if loop.begin(resume) else _fresh(cfg, vocab, loop)
    base_lr = opt.lr
    bar = tqdm(total=t.steps, initial=loop.step, disable=not t.progress, unit="step", mininterval=0.5,
               desc=f"train {run_dir.name}", leave=False)
    val_loss, val_at, samples, samples_at = None, None, {}, None
    state, pos = st["state"], st["pos"]
    with loop.session(bar.write):
        try:
            while loop.step < t.steps:
                if loop.out_of_time():
                    loop.timed_out = True
                    bar.write(loop.time_up_message())
                    _save(loop, model, opt, st)
                    break
                step, t0 = loop.step + 1, time.perf_counter()
                if pos + T + 1 > data.shape[1]:
                    pos, state = 0, model.zero_state(B)
                opt.lr = base_lr * lr_factor(step - 1, t.steps, t)
                with np.errstate(all="ignore"):  # a blow-up is reported below as one clear error instead
                    loss, grads, new_state, n_correct = model.forward_backward(
                        data[:, pos : pos + T], data[:, pos + 1 : pos + T + 1], state, grad_scale)
                logs = {"loss": loss / (B * T), "acc": n_correct / (B * T), "lr": opt.lr}
                loop.check_finite(logs, step)  # before the update, so the weights stay finite
                if t.clip == "elementwise":
                    clip_elementwise(grads, t.clip_value)
                elif t.clip == "norm":
                    clip_global_norm(grads, t.clip_value)
                opt.step(model.params, grads)
                state, pos = new_state, pos + T
                st.update(pos=pos, state=state, chars=st["chars"] + B * T,
                          smooth=0.999 * st["smooth"] + 0.001 * loss / (B * T),
                          acc=0.999 * st["acc"] + 0.001 * n_correct / (B * T),
                          train_s=st["train_s"] + time.perf_counter() - t0)
                loop.step = step
                loop.accumulate(logs)
                bar.update(1)
                measured = {}
                if loop.due(t.eval_every):
                    val_loss, val_acc = evaluate_numpy(model, val_ids, B, T, ev.val_batches, return_accuracy=True)
                    measured, val_at = {"eval/val_loss": val_loss, "eval/val_acc": val_acc}, step
                if step % ev.sample_every == 0 or loop.last:
                    samples, samples_at = _samples(model, vocab, cfg, primes, step), step
                    _show_samples(samples, step, bar if t.progress and ev.print_samples else None, loop.board)
                regular = loop.regular_row()
                if regular or loop.last or measured:
                    row = {"step": step, **loop.averages(logs, regular),
                           "chars_per_sec": st["chars"] / max(st["train_s"], 1e-9), **measured}
                    loop.log(row)
                    bar.set_postfix(loss=f"{row['loss']:.3f}", val=f"{val_loss or float('nan'):.3f}")
                if loop.due(t.checkpoint_every) or loop.stop:
                    _save(loop, model, opt, st)
                if loop.stop:
                    raise loop.interrupted()
        finally:
            bar.close()
            loop.close()
    if val_at != loop.step:  # resumed at the last step, or stopped by the time limit: still report it
        val_loss = evaluate_numpy(model, val_ids, B, T, ev.val_batches)
    if samples_at != loop.step:
        samples = _samples(model, vocab, cfg, primes, loop.step)
    save_model(model, run_dir, extra={"vocab": vocab.to_json()})
    n = loop.step
    return {"model": model, "val_loss": val_loss, "chars_per_sec": st["chars"] / max(st["train_s"], 1e-9),
            "train_loss": _unbias(st["smooth"], math.log(vocab.size), n), "train_acc": _unbias(st["acc"],
                                                                                              1 / vocab.size, n),
            "train_smooth_loss": st["smooth"], "steps": n, "resumed_at_step": loop.resumed_at,
            "train_seconds": st["train_s"], "elapsed_s": loop.train_seconds,
            "samples": samples[str(ev.temperatures[0])], "samples_by_temperature": samples}


def _unbias(ema: float, start: float, step: int) -> float:
    w = 0.999**step  # the EMAs start at ln V and 1/V (min-char-rnn): remove that start exactly
    return (ema - w * start) / (1 - w)


def _show_samples(samples: dict[str, dict[str, str]], step: int, bar: Any, board: Any) -> None:
    for temp, by_prime in samples.items() if bar is not None else ():
        for p, text in by_prime.items():
            bar.write(f"--- step {step} T={temp} {p!r}: {p + text}")
    for temp, by_prime in samples.items() if board is not None else ():
        board.add_text(f"samples/T={temp}", "\n\n".join(p + text for p, text in by_prime.items()), step)
