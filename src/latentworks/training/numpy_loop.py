"""Training loop for the NumPy char-RNN: B contiguous streams, truncated BPTT, exact resume.

Batching generalises min-char-rnn to B rows: the training ids are cut into B equal contiguous streams;
step k feeds the next T characters of every stream, carrying the hidden state; when a stream has no
T+1 characters left every pointer wraps to 0 and the state resets (min-char-rnn's ``p = 0; hprev = 0``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from latentworks.data.text import Vocab, require_length, split_corpus
from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.models.numpy_char_rnn import MODELS, NumpyCharModel, sample
from latentworks.training.numpy_optim import clip_elementwise, clip_global_norm, make_optimizer

__all__ = ["NumpyCharRNNConfig", "evaluate_numpy", "load_numpy_char_rnn", "train_numpy_char_rnn",
           "write_results"]

# Fields that may differ between a checkpoint and a resumed run without changing the numbers.
_RESUME_FREE = {"steps", "blas_threads", "time_limit_s"}
# A finite loss this large means exploded weights (p(target) < e^-1000), not a hard batch: stop as for NaN.
_DIVERGED_NATS = 1000.0
_VAL_TOO_SHORT = "validation split has < 2 characters; use a longer corpus or raise val_fraction"


@dataclass
class NumpyCharRNNConfig:
    """Hyper-parameters. ``grad_reduction``: 'mean' = gradients of the mean per-character loss (batch-size
    independent, easiest to tune); 'sum' = gradients of the summed loss (min-char-rnn). ``clip``:
    'elementwise' (to +-clip_value), 'norm' (global L2 norm clip_value) or 'none'."""

    model: str = "rnn"
    hidden: int = 256
    seq_len: int = 25
    batch: int = 32
    optimizer: str = "adam"
    lr: float = 2e-3
    steps: int = 2000
    clip: str = "elementwise"
    clip_value: float = 5.0
    grad_reduction: str = "mean"
    init: str = "default"
    seed: int = 0
    dtype: str = "float32"
    val_fraction: float = 0.1
    log_every: int = 100
    eval_every: int = 500
    val_batches: int | None = None  # max T-chunks per validation pass; None = the whole split
    sample_every: int = 500
    sample_length: int = 200
    checkpoint_every: int = 500
    primes: list[str] = field(default_factory=lambda: ["The ", "Harr"])
    temperatures: list[float] = field(default_factory=lambda: [0.8])
    # BLAS threads while training. The matmuls are small ((B, H) x (H, 4H)); on a busy 2-core machine
    # OpenBLAS's default threading ran them ~25x slower than 1 thread. None = library default.
    blas_threads: int | None = 1
    # Stop early (as if ``steps`` were reached: eval, samples, checkpoint) after this much wall time.
    time_limit_s: float | None = None

    @classmethod
    def min_char_rnn(cls, **overrides) -> NumpyCharRNNConfig:
        """Karpathy's min-char-rnn: H 100, T 25, B 1, Adagrad 0.1, clip +-5, N(0,1)*0.01, summed loss."""
        base = dict(model="rnn", hidden=100, seq_len=25, batch=1, optimizer="adagrad", lr=0.1,
                    clip="elementwise", clip_value=5.0, grad_reduction="sum", init="min_char_rnn")
        return cls(**{**base, **overrides})

    def validate(self) -> None:
        checks = [
            (self.model in MODELS, f"model must be one of {sorted(MODELS)}"),
            (self.clip in ("elementwise", "norm", "none"), "clip must be 'elementwise', 'norm' or 'none'"),
            (self.grad_reduction in ("mean", "sum"), "grad_reduction must be 'mean' or 'sum'"),
            (self.dtype in ("float32", "float64"), "dtype must be 'float32' or 'float64'"),
            (min(self.hidden, self.seq_len, self.batch, self.sample_length) >= 1, "sizes must be >= 1"),
            (self.steps >= 0, "steps must be >= 0"),
            (min(self.log_every, self.eval_every, self.sample_every, self.checkpoint_every) >= 1,
             "log/eval/sample/checkpoint intervals must be >= 1"),
            (bool(self.temperatures) and min(self.temperatures) >= 0, "temperatures must be a list of >= 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise LatentworksError(f"invalid char-RNN config: {msg}; fix the option")


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


def _paths(out_dir: Path) -> tuple[Path, Path]:
    ck = Path(out_dir) / "checkpoints"
    return ck / "last.safetensors", ck / "last.json"


def _save(out_dir: Path, model, opt, cfg, vocab, st: dict) -> None:
    """Write tensors then metadata, each atomically (tmp + os.replace); both carry the step to pair them."""
    st_path, js_path = _paths(out_dir)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.params.items()}
    tensors.update({f"optim.{k}": v for k, v in opt.state_dict().items()})
    tensors.update({f"state.{i}": np.ascontiguousarray(s) for i, s in enumerate(st["state"])})
    save_file(tensors, str(st_path) + ".tmp", metadata={"step": str(st["step"])})
    os.replace(str(st_path) + ".tmp", st_path)
    meta = {k: v for k, v in st.items() if k not in ("state", "rng")}
    meta.update(format="latentworks.numpy_char_rnn/1", model_kind=model.kind, config=asdict(cfg),
                vocab=vocab.to_json(), rng_state=st["rng"].bit_generator.state)
    tmp = js_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, js_path)


def _load(out_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    st_path, js_path = _paths(out_dir)
    if not (st_path.is_file() and js_path.is_file()):
        raise LatentworksError(f"no checkpoint at {st_path.parent}; train first (or drop --resume)")
    meta, tensors = json.loads(js_path.read_text()), load_file(str(st_path))
    with safe_open(str(st_path), "np") as fh:  # the header's step pairs the two files
        tensor_step = (fh.metadata() or {}).get("step")
    if tensor_step != str(meta["step"]):
        raise LatentworksError(f"checkpoint files in {st_path.parent} are from different steps; start afresh")
    return meta, tensors


def _sub(tensors: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_numpy_char_rnn(run_dir: str | Path) -> tuple[NumpyCharModel, Vocab, NumpyCharRNNConfig]:
    """Model, vocabulary and config from ``run_dir/checkpoints/last.*`` (for sampling)."""
    meta, tensors = _load(Path(run_dir))
    model = MODELS[meta["model_kind"]].from_state_dict(_sub(tensors, "model."))
    return model, Vocab.from_json(meta["vocab"]), NumpyCharRNNConfig(**meta["config"])


def write_results(out_dir: Path, results: dict, cfg, *, kind: str = "charrnn/numpy", config=None,
                  extra: dict | None = None) -> dict:
    """``results.json`` through the run-folder helper: config, metrics, seed, versions and git commit."""
    from latentworks.runs import RunDir

    return RunDir(out_dir).write_results(kind=kind, config=asdict(cfg) if config is None else config,
                                         metrics=results, seed=cfg.seed, extra=extra)


def _samples(model, vocab, cfg, step: int) -> dict[str, dict[str, str]]:
    # A fresh generator per (seed, step) makes samples a pure function of the weights and the step, so a
    # resumed run prints exactly what an uninterrupted one would, whatever the sampling cadence.
    rng = np.random.default_rng([cfg.seed, step])
    return {str(t): {p: sample(model, vocab, p, cfg.sample_length, t, rng=rng) for p in cfg.primes}
            for t in cfg.temperatures}


def _diverged(step: int, what: str, ck_path: Path) -> str:
    return (f"training diverged at step {step} ({what}); lower --lr or clip gradients; "
            f"last good checkpoint kept at {ck_path}")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint we resume from, so the log has no duplicate steps."""
    if path.is_file():
        keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
        path.write_text("".join(ln + "\n" for ln in keep))


def _fresh(vocab: Vocab, cfg: NumpyCharRNNConfig, out_dir: Path):
    rng = np.random.default_rng(cfg.seed)
    model = MODELS[cfg.model].init(vocab.size, cfg.hidden, rng, cfg.dtype, cfg.init)
    opt = make_optimizer(cfg.optimizer, cfg.lr)
    st = dict(step=0, pos=0, smooth=math.log(vocab.size), acc=1.0 / vocab.size, chars=0, train_s=0.0,
              wall_s=0.0, state=model.zero_state(cfg.batch), rng=rng)
    (out_dir / "metrics.jsonl").write_text("")
    (out_dir / "results.json").unlink(missing_ok=True)  # a stale result must not pass for this run's
    _save(out_dir, model, opt, cfg, vocab, st)  # so a "last good checkpoint" always exists
    return model, opt, st


def _resume(vocab: Vocab, cfg: NumpyCharRNNConfig, out_dir: Path):
    meta, tensors = _load(out_dir)
    diff = [f.name for f in fields(cfg) if f.name not in _RESUME_FREE
            and meta["config"].get(f.name) != getattr(cfg, f.name)]
    if diff or meta["vocab"] != vocab.to_json():
        raise LatentworksError(f"--resume with a different config/vocab ({diff or 'vocab'}); keep the "
                               "original options (only steps may change) or start a new run folder")
    model = MODELS[cfg.model].from_state_dict(_sub(tensors, "model."))
    opt = make_optimizer(cfg.optimizer, cfg.lr)
    opt.load_state_dict(_sub(tensors, "optim."))
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng_state"]
    st = {k: meta[k] for k in ("step", "pos", "smooth", "acc", "chars", "train_s", "wall_s")}
    st.update(state=tuple(tensors[f"state.{i}"] for i in range(model.n_states)), rng=rng)
    _truncate_metrics(out_dir / "metrics.jsonl", st["step"])
    return model, opt, st


def _blas_limit(threads: int | None):
    try:
        # A declared dependency (pyproject); if an install lacks it anyway, train with BLAS unpinned.
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas") if threads else contextlib.nullcontext()


def train_numpy_char_rnn(text_ids: np.ndarray, vocab: Vocab, cfg: NumpyCharRNNConfig, out_dir: Path,
                         progress: bool = True, resume: bool = False) -> dict:
    """Train, checkpoint to ``out_dir/checkpoints`` and log ``out_dir/metrics.jsonl``; return results.

    ``resume=True`` continues from the checkpoint with identical numbers to an uninterrupted run.
    """
    cfg.validate()
    with _blas_limit(cfg.blas_threads):
        return _train(text_ids, vocab, cfg, Path(out_dir), progress, resume)


def _train(text_ids: np.ndarray, vocab: Vocab, cfg: NumpyCharRNNConfig, out_dir: Path, progress: bool,
           resume: bool) -> dict:
    text_ids = np.asarray(text_ids, dtype=np.int32)
    if text_ids.size and (text_ids.min() < 0 or text_ids.max() >= vocab.size):
        raise LatentworksError("text ids fall outside the vocabulary; encode the text with the same Vocab")
    for p in cfg.primes:
        vocab.encode(p)  # fail now, not after training, on a prime with unseen characters
    train_ids, val_ids = split_corpus(text_ids, cfg.val_fraction)
    require_length(train_ids, cfg.seq_len, "training", batch=cfg.batch)
    if cfg.val_fraction > 0 and len(val_ids) < 2:
        raise LatentworksError(_VAL_TOO_SHORT)
    data, (B, T) = _streams(train_ids, cfg.batch), (cfg.batch, cfg.seq_len)
    grad_scale = 1.0 / (B * T) if cfg.grad_reduction == "mean" else 1.0
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path, ck_path = out_dir / "metrics.jsonl", _paths(out_dir)[0]
    model, opt, st = (_resume if resume else _fresh)(vocab, cfg, out_dir)
    stop = []
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C only sets a flag, checked between steps, so a checkpoint never holds a half-done update.
        old_handler = signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    bar = tqdm(total=cfg.steps, initial=st["step"], disable=not progress, unit="step", mininterval=0.5)
    wall0, wall_base, val_loss, samples = time.perf_counter(), st["wall_s"], None, {}
    state, pos, saved_step = st["state"], st["pos"], st["step"]
    try:
        with open(metrics_path, "a") as mf:
            for step in range(st["step"] + 1, cfg.steps + 1):
                t0 = time.perf_counter()
                if pos + T + 1 > data.shape[1]:
                    pos, state = 0, model.zero_state(B)
                with np.errstate(all="ignore"):  # a blow-up is reported below as one clear error instead
                    loss, grads, new_state, n_correct = model.forward_backward(
                        data[:, pos : pos + T], data[:, pos + 1 : pos + T + 1], state, grad_scale)
                if not loss / (B * T) < _DIVERGED_NATS:  # also catches NaN
                    raise LatentworksError(_diverged(step, f"loss {loss / (B * T):.3g} nats/char", ck_path))
                if cfg.clip == "elementwise":
                    clip_elementwise(grads, cfg.clip_value)
                elif cfg.clip == "norm":
                    clip_global_norm(grads, cfg.clip_value)
                opt.step(model.params, grads)
                state, pos = new_state, pos + T
                st.update(step=step, pos=pos, state=state, chars=st["chars"] + B * T,
                          smooth=0.999 * st["smooth"] + 0.001 * loss / (B * T),
                          acc=0.999 * st["acc"] + 0.001 * n_correct / (B * T),
                          train_s=st["train_s"] + time.perf_counter() - t0)
                bar.update(1)
                measured = None
                final = step == cfg.steps or (cfg.time_limit_s is not None and
                                              wall_base + time.perf_counter() - wall0 >= cfg.time_limit_s)
                if cfg.val_fraction > 0 and (step % cfg.eval_every == 0 or final):
                    measured = val_loss = evaluate_numpy(model, val_ids, B, T, cfg.val_batches)
                if step % cfg.sample_every == 0 or final:
                    samples = _samples(model, vocab, cfg, step)
                    for t, by_prime in samples.items() if progress else ():
                        for p, text in by_prime.items():
                            bar.write(f"--- step {step} T={t} {p!r}: {p + text}")
                if step % cfg.log_every == 0 or measured is not None:
                    row = {"step": step, "smooth_loss": st["smooth"], "acc_ema": st["acc"],
                           "chars_per_sec": st["chars"] / max(st["train_s"], 1e-9)}
                    if measured is not None:
                        row["val_loss"] = measured
                    mf.write(json.dumps(row) + "\n")
                    mf.flush()
                    bar.set_postfix(loss=f"{st['smooth']:.3f}", val=f"{val_loss or float('nan'):.3f}")
                if step % cfg.checkpoint_every == 0 or final or stop:
                    if not all(np.isfinite(v).all() for v in model.params.values()):
                        raise LatentworksError(_diverged(step, "non-finite weights", ck_path))
                    st["wall_s"] = wall_base + time.perf_counter() - wall0
                    _save(out_dir, model, opt, cfg, vocab, st)
                    saved_step = step
                if stop:
                    raise KeyboardInterrupt
                if final:
                    break
    except KeyboardInterrupt:
        if saved_step != st["step"]:
            st["wall_s"] = wall_base + time.perf_counter() - wall0
            _save(out_dir, model, opt, cfg, vocab, st)
        raise TrainingInterrupted(f"training interrupted at step {st['step']}; checkpoint {ck_path} saved; "
                                  "resume with --resume") from None
    finally:
        bar.close()
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
    if val_loss is None and cfg.val_fraction > 0:  # e.g. resumed at the final step: still report it
        val_loss = evaluate_numpy(model, val_ids, B, T, cfg.val_batches)
    if not samples:
        samples = _samples(model, vocab, cfg, st["step"])
    return {"val_loss": val_loss, "train_smooth_loss": st["smooth"], "acc_ema": st["acc"],
            "chars_per_sec": st["chars"] / max(st["train_s"], 1e-9), "steps": st["step"],
            "elapsed_s": wall_base + time.perf_counter() - wall0,
            "samples": samples[str(cfg.temperatures[0])], "samples_by_temperature": samples}
