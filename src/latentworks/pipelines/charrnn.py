"""Character RNN end to end: corpus, NumPy or torch training, held-out loss, figures, samples, demos.

``backend='numpy'`` trains the from-scratch RNN/LSTM (``training.numpy_loop``); ``backend='torch'`` trains
a multi-layer ``CharLSTM`` with the one ``Trainer``: each step draws ``batch`` random contiguous windows of
``seq_len + 1`` characters from the training split with the trainer's per-step generator (so resume and DDP
ranks stay exact), and a trainer "epoch" is one evaluation period. Both backends report validation nats/char
on the last 10 % of the text, each character predicted with its stream's whole preceding context, and both
save the model through ``models/io.py``.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from latentworks import registry
from latentworks.config import to_dict, validate
from latentworks.data.text import Vocab, find_text, load_corpus, require_length, split_corpus
from latentworks.errors import LatentworksError
from latentworks.folder_lock import owns_run_dirs
from latentworks.recipes.charrnn import RunConfig, resolve
from latentworks.runs import RunDir, claim_run_dir, read_json, write_json
from latentworks.training.distributed import detect

DEFAULT_PRIMES = ("The ", "Harr")


def prepare_text(cfg: RunConfig) -> tuple[str, Vocab, np.ndarray]:
    text = load_corpus(find_text(cfg.data.text, cfg.data.data_dir), ascii_only=cfg.data.ascii_only)
    vocab = Vocab.from_text(text)
    return text, vocab, vocab.encode(text)


def pick_primes(cfg: RunConfig, vocab: Vocab, text: str) -> list[str]:
    if cfg.eval.primes is not None:
        for p in cfg.eval.primes:
            vocab.encode(p)  # one-line error naming unknown characters, before any training
        return list(cfg.eval.primes)
    ok = [p for p in DEFAULT_PRIMES if set(p) <= set(vocab.chars)]
    return ok or [text[0]]


def completion_words(text: str, n: int = 5) -> list[str]:
    """The corpus's most frequent names: capitalised words of 5+ letters that are rare in lower case, counted in
    ``text`` (the training part of the corpus)."""
    counts = Counter(re.findall(r"(?<![A-Za-z])([A-Za-z][a-z]{4,})(?![A-Za-z])", text))
    names = [w for w, c in counts.most_common() if w[0].isupper() and c > 5 * counts.get(w.lower(), 0)]
    return names[:n]


# ------------------------------------------------------------------------------------------ backends
class _Sampler:
    """One sampling interface over a trained NumPy model or a CharLSTM."""

    def __init__(self, model: Any, vocab: Vocab, backend: str):
        self.model, self.vocab, self.backend = model, vocab, backend

    def text(self, prime: str, length: int, temperature: float = 0.8, top_k: int | None = None,
             seed: int = 0) -> str:
        if length < 0:
            raise LatentworksError(f"length must be >= 0, got {length}")
        rng = np.random.default_rng(seed)
        if self.backend == "numpy":
            from latentworks.models.numpy_char_rnn import sample

            return sample(self.model, self.vocab, prime, length, temperature, top_k, rng)
        self.model.sample([0], 0, temperature, top_k)  # option errors first, as the NumPy sampler does
        if not prime:
            raise LatentworksError("sampling needs a non-empty prime string; pass e.g. --prime 'The '")
        return self.vocab.decode(self.model.sample(self.vocab.encode(prime), length, temperature, top_k, rng))


def _train_numpy(cfg: RunConfig, ids: np.ndarray, vocab: Vocab, primes: list[str], run: RunDir,
                 run_config: dict, resume: bool) -> tuple[dict[str, Any], _Sampler]:
    from latentworks.training.numpy_loop import blas_threads, evaluate_numpy, train_numpy_char_rnn

    if detect().world_size > 1:
        raise LatentworksError("the NumPy backend runs in one process; drop torchrun or use --backend torch")
    res = train_numpy_char_rnn(cfg, ids, vocab, run.root, primes, run_config, resume=resume)
    _, val_ids = split_corpus(ids, cfg.data.val_fraction)
    with blas_threads(cfg.train.threads):  # the thread count the run trained with: the same sums, the same bits
        val_loss, val_acc = evaluate_numpy(res["model"], val_ids, cfg.train.batch_size, cfg.data.seq_len, None,
                                           return_accuracy=True)
    kept = ("chars_per_sec", "train_loss", "train_acc", "train_smooth_loss", "steps", "resumed_at_step",
            "train_seconds", "elapsed_s")
    metrics = {"val_loss": val_loss, "val_acc": val_acc, **{k: res[k] for k in kept}}
    return metrics, _Sampler(res["model"], vocab, "numpy")


def _train_torch(cfg: RunConfig, ids: np.ndarray, vocab: Vocab, run: RunDir, run_config: dict,
                 resume: bool) -> tuple[dict[str, Any], _Sampler, dict] | None:
    import torch

    from latentworks.models.builders import check_bf16
    from latentworks.models.char_lstm import CharLSTM
    from latentworks.models.io import save_model
    from latentworks.training.trainer import Trainer, pick_device, seed_everything

    if cfg.model.bf16:
        check_bf16(pick_device(cfg.train.device))
    train_ids, val_ids = split_corpus(ids, cfg.data.val_fraction)
    train_t, val_t = torch.from_numpy(train_ids.astype(np.int64)), torch.from_numpy(val_ids.astype(np.int64))
    T, world, B = cfg.data.seq_len, detect().world_size, cfg.train.batch_size
    if cfg.train.time_limit_s is not None and world > 1:
        raise LatentworksError("a time limit needs a single process (ranks could stop at different steps); "
                               "use --steps with torchrun")
    per_epoch = cfg.train.eval_every or cfg.train.steps  # a trainer "epoch" is one evaluation period
    offsets = torch.arange(T + 1)

    if cfg.model.carry_state and world > 1:
        raise LatentworksError("--carry-state needs a single process (each rank's carried state would have to "
                               "be checkpointed); drop torchrun or --carry-state")
    streams = StreamWindows(len(train_t), B, T, cfg.train.seed) if cfg.model.carry_state else None

    def windows(batch, gen):
        if streams is not None:
            starts, fresh = streams.at(trainer.step)
        else:
            starts = torch.randint(0, len(train_t) - T, (len(batch[0]),), generator=gen)
        w = train_t[starts[:, None] + offsets].to(batch[0].device)
        return (w[:, :-1], w[:, 1:]) if streams is None else (w[:, :-1], w[:, 1:], fresh.to(w.device))

    eval_seconds = [0.0]

    def eval_fn(model, epoch):
        t0 = time.perf_counter()
        loss, acc = model.stream_loss(val_t, B, T, cfg.eval.val_batches)
        eval_seconds[0] += time.perf_counter() - t0
        return {"val_loss": loss, "val_acc": acc}

    # the initial weights depend on the seed only, not on what ran before or on the machine's core count
    seed_everything(cfg.train.seed, cfg.train.threads)
    model = CharLSTM(cfg.model)
    trainer = Trainer(model, (torch.arange(per_epoch * B * world),), cfg.train, run.root, transform=windows,
                      eval_fn=eval_fn, run_config=run_config)
    t0 = time.perf_counter()
    trainer.fit(resume=resume)
    fit_seconds = time.perf_counter() - t0
    if not trainer.is_main:
        return None
    net = trainer.raw_model.eval()
    save_model(net, run.root, extra={"vocab": vocab.to_json()})
    t1 = time.perf_counter()
    val_loss, val_acc = net.stream_loss(val_t, B, T)
    logged = run.read_metrics()
    loss, acc = smoothed(logged, "loss")[1], smoothed(logged, "acc")[1]
    train_s = max(fit_seconds - eval_seconds[0], 1e-9)  # the whole fit minus validation passes
    metrics = {"val_loss": val_loss, "val_acc": val_acc,
               "chars_per_sec": trainer.session_steps * B * world * T / train_s,
               "train_loss": loss[-1] if loss else None, "train_acc": acc[-1] if acc else None,
               "steps": trainer.step,
               "resumed_at_step": trainer.resumed_at,
               "train_seconds": train_s, "elapsed_s": fit_seconds + time.perf_counter() - t1,
               "parameters": sum(p.numel() for p in net.parameters()), "world_size": world}
    return metrics, _Sampler(net.cpu(), vocab, "torch"), trainer.runtime


class StreamWindows:
    """Where each batch row reads at a step under ``--carry-state``: the training text cut into ``batch`` equal
    segments, one per row, read window after window so that each row's state carries over. Each pass over the
    segments starts at a fresh random shift below ``seq_len`` (so window edges move between passes) and marks every
    row fresh (its carried state zeroed). A pure function of the step, so a resumed run reads the same windows."""

    def __init__(self, n_chars: int, batch: int, seq_len: int, seed: int):
        self.batch, self.seq_len, self.seed = batch, seq_len, seed
        self.segment = n_chars // batch
        self.per_pass = (self.segment - seq_len - 1) // seq_len
        if self.per_pass < 1:
            raise LatentworksError(f"--carry-state cuts the training text into {batch} rows of {self.segment} "
                                   f"characters, too short for two windows of {seq_len}; use a smaller "
                                   "--batch-size or --seq-len, or a longer text")

    def at(self, step: int) -> tuple[Any, Any]:
        """(start of each row's window, whether each row starts a new pass), for the window of ``step``."""
        import torch

        pass_, k = divmod(step, self.per_pass)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + pass_)
        shift = torch.randint(0, self.seq_len, (self.batch,), generator=gen)
        starts = torch.arange(self.batch) * self.segment + shift + k * self.seq_len
        return starts, torch.full((self.batch,), k == 0)


def smoothed(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """The steps and the bias-corrected EMA (decay 0.98 per step) of ``key`` over the metric rows that log it:
    the "smoothed training loss" of either backend, whatever the rows' cadence."""
    steps, values, ema, last = [], [], 0.0, 0
    for r in rows:
        if key not in r:
            continue
        gap, last = r["step"] - last, r["step"]
        keep = 0.98**gap
        ema = keep * ema + (0.02 if gap == 1 else 1 - keep) * r[key]
        steps.append(last)
        values.append(ema / (1 - 0.98**last))  # Adam-style bias correction: no start value to wash out
    return steps, values


# ------------------------------------------------------------------------------------------ run
@owns_run_dirs
def train_charrnn(cfg: RunConfig, out: str | Path, resume: bool = False,
                  overwrite: bool = False) -> dict[str, Any] | None:
    """Train into run folder ``out``; write results.json, vocab.json, figures and generation.txt."""
    validate(cfg)
    text, vocab, ids = prepare_text(cfg)
    cfg = validate(resolve(cfg, vocab.size))
    primes = pick_primes(cfg, vocab, text)
    train_ids, val_ids = split_corpus(ids, cfg.data.val_fraction)
    require_length(train_ids, cfg.data.seq_len, "training",
                   batch=cfg.train.batch_size if cfg.backend == "numpy" else 1)
    if len(val_ids) < 2:
        raise LatentworksError("validation split has < 2 characters; use a longer corpus")
    if detect().is_main:
        claim_run_dir(out, resume=resume, overwrite=overwrite)
    run = RunDir(out, create=detect().is_main)
    if resume and (run.root / "vocab.json").is_file() and read_json(run.root / "vocab.json") != vocab.to_json():
        raise LatentworksError("--resume with a different corpus (vocabulary differs); keep --text")
    if detect().is_main:
        write_json(run.root / "vocab.json", vocab.to_json())
    run_config = {"family": cfg.family, **to_dict(cfg)}
    runtime = {"world_size": 1, "backend": None, "device": "cpu"}
    if cfg.backend == "numpy":
        trained = _train_numpy(cfg, ids, vocab, primes, run, run_config, resume)
    else:
        got = _train_torch(cfg, ids, vocab, run, run_config, resume)
        if got is None:
            return None  # a non-zero torchrun rank
        *trained, runtime = got
    metrics, sampler = trained
    seed, ev = cfg.train.seed, cfg.eval
    samples = {str(t): {p: sampler.text(p, ev.sample_length, t, seed=seed) for p in primes}
               for t in ev.temperatures}
    generation = sampler.text(primes[0], ev.generate_length, ev.temperatures[0], seed=seed)
    (run.root / "generation.txt").write_text(primes[0] + generation)
    demo = completion_demo(sampler, text[: len(train_ids)])
    if ev.figures:
        write_figures(run, run.read_metrics(), metrics, vocab.size)
    chars = metrics["steps"] * cfg.train.batch_size * cfg.data.seq_len * metrics.get("world_size", 1)
    metrics.update(samples=samples[str(ev.temperatures[0])], samples_by_temperature=samples,
                   completions=demo, completion_hits=sum(d["hit"] for d in demo),
                   generation_file="generation.txt", chars_seen=chars, epochs_of_text=chars / len(train_ids),
                   corpus={"text": cfg.data.text, "chars": len(ids), "train": len(train_ids), "val": len(val_ids),
                           "vocab_size": vocab.size, "uniform_nats": math.log(vocab.size)})
    return run.write_results(kind=f"charrnn/{cfg.backend}", config=run_config, metrics=metrics, seed=seed,
                             extra={"title": cfg.title}, runtime=runtime)


def completion_demo(sampler: _Sampler, train_text: str, words: list[str] | None = None) -> list[dict]:
    """Prime with the first half (+1) of frequent words, greedy-complete to the end of the word."""
    words = words or completion_words(train_text)  # from the text itself: never a name it does not hold
    demo = []
    for word in words:
        prime = word[: min(len(word) - 1, (len(word) + 1) // 2 + 1)]
        cont = sampler.text(prime, 24, 0.0)
        done = prime + re.match(r"[A-Za-z']*", cont).group(0)
        demo.append({"prime": prime, "completion": done, "target": word, "hit": done == word,
                     "continuation": prime + cont})
    return demo


def write_figures(run: RunDir, rows: list[dict], metrics: dict[str, Any], vocab_size: int) -> None:
    """Loss and accuracy curves from the run's metric rows (either backend: the same keys)."""
    from latentworks.report.plots import line_plot

    def series(key):
        pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        return ([p[0] for p in pts], [p[1] for p in pts])

    loss = {"train (smoothed)": smoothed(rows, "loss"), "validation": series("eval/val_loss")}
    last = max([r["step"] for r in rows], default=metrics["steps"])
    loss["final val (whole split)"] = ([last], [metrics["val_loss"]])
    line_plot({k: v for k, v in loss.items() if v[0]}, run.figures / "loss.png", title="loss (nats/char)",
              xlabel="step", ylabel="nats per character", ylim=(0, math.log(vocab_size) * 1.05))
    acc = {"train (EMA)": smoothed(rows, "acc"), "validation": series("eval/val_acc")}
    acc["final val (whole split)"] = ([last], [metrics["val_acc"]])
    line_plot({k: v for k, v in acc.items() if v[0]}, run.figures / "accuracy.png",
              title="next-character accuracy", xlabel="step", ylabel="accuracy", ylim=(0, 1))


def load_sampler(run_dir: str | Path) -> _Sampler:
    """The trained model of a run folder of either backend."""
    from latentworks.models.io import load_model

    run_dir = Path(run_dir)
    if not (run_dir / "model.json").is_file():
        raise LatentworksError(f"{run_dir} holds no trained char-RNN (model.json missing); train one with "
                               "'latentworks charrnn train'")
    model = load_model(run_dir, expect=registry.kind_names("charrnn"))
    data = read_json(run_dir / "vocab.json")
    chars = data.get("chars") if isinstance(data, dict) else None
    size = getattr(getattr(model, "config", None), "vocab_size", None)
    if not isinstance(chars, str) or not chars or len(set(chars)) != len(chars) or (size and len(chars) != size):
        raise LatentworksError(f"{run_dir / 'vocab.json'} is damaged (no list of {size or 'distinct'} characters "
                               "the model reads); restore it or retrain the run")
    vocab = Vocab.from_json(data)
    return _Sampler(model, vocab, backend_of(model))


def backend_of(model: Any) -> str:
    """'torch' or 'numpy': which of the two char-RNN implementations a loaded model is."""
    import torch  # loaded with the model already; kept local so this module's import stays light

    return "torch" if isinstance(model, torch.nn.Module) else "numpy"


def sample_charrnn(run_dir: str | Path, prime: str = "The ", temperature: float = 0.8, length: int = 1000,
                   top_k: int | None = None, seed: int = 0) -> str:
    """Text generated after ``prime`` (not included) by the run's model; same seed, same text."""
    return load_sampler(run_dir).text(prime, length, temperature, top_k, seed)
