"""Character RNN end to end: corpus, NumPy or torch training, held-out loss, figures, samples, demos.

``backend='numpy'`` trains the from-scratch RNN/LSTM (``training.numpy_loop``); ``backend='torch'`` trains
a multi-layer ``CharLSTM`` with the one ``Trainer``: each step draws ``batch`` random contiguous windows of
``seq_len + 1`` characters from the training split with the trainer's per-step generator (so resume and DDP
ranks stay exact), and a trainer "epoch" is one evaluation period. Both backends report validation nats/char
on the last 10 % of the text, each character predicted with its stream's whole preceding context.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from latentworks.data.text import Vocab, load_corpus, require_length, split_corpus
from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.runs import RunDir, read_json, write_json
from latentworks.training.distributed import detect

BACKENDS = ("numpy", "torch")
DEFAULT_PRIMES = ("The ", "Harr")


@dataclass
class CharRNNConfig:
    text: str = "default"  # a UTF-8 file, 'default' (stdlib pydoc topics) or 'tinyshakespeare' (data folders)
    ascii_only: bool = False
    backend: str = "numpy"
    model: str | None = None  # numpy: rnn | lstm (default rnn); torch: lstm
    hidden: int = 256
    layers: int | None = None  # torch only (default 2); the NumPy models have one layer
    embed_dim: int = 64  # torch only
    dropout: float = 0.0  # torch only
    seq_len: int = 50
    batch: int = 32
    optimizer: str = "adam"
    lr: float = 2e-3
    steps: int = 2000
    clip: str = "elementwise"  # numpy: elementwise | norm | none; torch: any but 'none' clips the global norm
    clip_value: float = 5.0
    schedule: str = "constant"  # torch only: constant | cosine | linear | onecycle
    min_char_rnn: bool = False  # numpy: Karpathy's recipe (summed loss, N(0, 0.01) init)
    seed: int = 0
    device: str = "auto"
    val_fraction: float = 0.1
    eval_every: int = 500
    val_batches: int | None = 20  # chunks per periodic evaluation; the final one uses the whole split
    sample_every: int = 500
    sample_length: int = 200
    checkpoint_every: int = 500
    primes: list[str] | None = None  # None: 'The ' and 'Harr' where the vocabulary has their characters
    temperatures: list[float] = field(default_factory=lambda: [0.8])
    generate_length: int = 1000
    figures: bool = True
    time_limit_s: float | None = None  # stop (as at the last step) after this much training wall time
    threads: int | None = None  # BLAS (numpy) / torch intra-op threads; None: numpy 1, torch unchanged
    progress: bool = True

    @classmethod
    def min_char_rnn_recipe(cls, **overrides: Any) -> CharRNNConfig:
        """min-char-rnn: vanilla RNN, H 100, T 25, batch 1, Adagrad 0.1, element-wise clip +-5."""
        base = dict(backend="numpy", model="rnn", hidden=100, seq_len=25, batch=1, optimizer="adagrad",
                    lr=0.1, clip="elementwise", clip_value=5.0, min_char_rnn=True)
        return cls(**{**base, **overrides})

    def resolved(self) -> CharRNNConfig:
        if self.backend not in BACKENDS:
            raise LatentworksError(f"unknown backend {self.backend!r}; use 'numpy' or 'torch'")
        torch = self.backend == "torch"
        cfg = replace(self, model=self.model or ("lstm" if torch else "rnn"),
                      layers=self.layers or (2 if torch else 1))
        checks = [
            (not torch or cfg.model == "lstm", "the torch backend trains an LSTM; use --model lstm"),
            (torch or cfg.layers == 1, "the NumPy models have one layer; drop --layers or use torch"),
            (not torch or cfg.optimizer in ("adam", "adamw", "sgd", "rmsprop"),
             "the torch backend supports adam, adamw, sgd or rmsprop"),
            (torch or cfg.schedule == "constant", "the NumPy backend uses a constant learning rate"),
            (not (torch and cfg.min_char_rnn), "--min-char-rnn is a NumPy recipe; use --backend numpy"),
            (torch or detect().world_size == 1, "the NumPy backend runs in one process; drop torchrun"),
            (min(cfg.hidden, cfg.seq_len, cfg.batch, cfg.eval_every, cfg.sample_every,
                 cfg.checkpoint_every) >= 1, "sizes and intervals must be >= 1"),
            (cfg.steps >= 1 and cfg.generate_length >= 0, "steps must be >= 1"),
            (cfg.lr > 0 and 0 <= cfg.dropout < 1, "lr must be > 0 and dropout in [0, 1)"),
            (0 < cfg.val_fraction < 1, "val_fraction must lie in (0, 1)"),
        ]
        for ok, msg in checks:
            if not ok:
                raise LatentworksError(f"invalid char-RNN options: {msg}")
        return cfg


def find_text(name: str, data_dir: str | None = None) -> str:
    """Resolve 'tinyshakespeare' through the data folders (like MNIST); other names pass through."""
    if name != "tinyshakespeare":
        return name
    from latentworks.data.mnist import _root_candidates

    tried = []
    for label, root in _root_candidates(data_dir):
        for path in (root / "tinyshakespeare" / "input.txt", root / "input.txt"):
            if path.is_file():
                return str(path)
        tried.append(f"{label} {root}")
    raise LatentworksError(f"tinyshakespeare/input.txt not found (tried {'; '.join(tried)}); "
                           "pass --text PATH")


def prepare_text(cfg: CharRNNConfig) -> tuple[str, Vocab, np.ndarray]:
    text = load_corpus(find_text(cfg.text), ascii_only=cfg.ascii_only)
    vocab = Vocab.from_text(text)
    return text, vocab, vocab.encode(text)


def pick_primes(cfg: CharRNNConfig, vocab: Vocab, text: str) -> list[str]:
    if cfg.primes is not None:
        for p in cfg.primes:
            vocab.encode(p)  # one-line error naming unknown characters, before any training
        return list(cfg.primes)
    ok = [p for p in DEFAULT_PRIMES if set(p) <= set(vocab.chars)]
    return ok or [text[0]]


def completion_words(text: str, n: int = 5) -> list[str]:
    """The corpus's most frequent names: capitalised words of 5+ letters that are rare in lower case
    (the seed primed with halves of 'Harry', 'Hermione', 'Dumbledore')."""
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


def _train_numpy(cfg: CharRNNConfig, ids: np.ndarray, vocab: Vocab, primes: list[str], run: RunDir,
                 resume: bool) -> tuple[dict[str, Any], _Sampler, list[dict]]:
    from latentworks.training import numpy_loop as nl

    kw = dict(model=cfg.model, hidden=cfg.hidden, seq_len=cfg.seq_len, batch=cfg.batch, lr=cfg.lr,
              optimizer=cfg.optimizer, steps=cfg.steps, clip=cfg.clip, clip_value=cfg.clip_value,
              seed=cfg.seed, val_fraction=cfg.val_fraction, log_every=min(100, cfg.eval_every),
              eval_every=cfg.eval_every, val_batches=cfg.val_batches, sample_every=cfg.sample_every,
              sample_length=cfg.sample_length, checkpoint_every=cfg.checkpoint_every, primes=primes,
              temperatures=cfg.temperatures,
              blas_threads=cfg.threads or 1, time_limit_s=cfg.time_limit_s)
    ncfg = nl.NumpyCharRNNConfig.min_char_rnn(**kw) if cfg.min_char_rnn else nl.NumpyCharRNNConfig(**kw)
    res = nl.train_numpy_char_rnn(ids, vocab, ncfg, run.root, progress=cfg.progress, resume=resume)
    model, _, _ = nl.load_numpy_char_rnn(run.root)
    _, val_ids = split_corpus(ids, cfg.val_fraction)
    val_loss, val_acc = nl.evaluate_numpy(model, val_ids, cfg.batch, cfg.seq_len, None, return_accuracy=True)
    n = res["steps"]

    def unbias(ema: float, start: float, step: int) -> float:
        w = 0.999**step  # the loop's EMAs start at ln V and 1/V (min-char-rnn): remove that start exactly
        return (ema - w * start) / (1 - w)

    metrics = {"val_loss": val_loss, "val_acc": val_acc, "chars_per_sec": res["chars_per_sec"],
               "train_loss": unbias(res["train_smooth_loss"], math.log(vocab.size), n),
               "train_acc": unbias(res["acc_ema"], 1 / vocab.size, n),
               "train_smooth_loss": res["train_smooth_loss"], "steps": n, "train_seconds":
               n * cfg.batch * cfg.seq_len / max(res["chars_per_sec"], 1e-9), "elapsed_s": res["elapsed_s"],
               "numpy_config": asdict(ncfg)}
    rows = [{"step": r["step"], "train_loss": unbias(r["smooth_loss"], math.log(vocab.size), r["step"]),
             "train_acc": unbias(r["acc_ema"], 1 / vocab.size, r["step"]),
             **({"val_loss": r["val_loss"]} if "val_loss" in r else {})} for r in run.read_metrics()]
    return metrics, _Sampler(model, vocab, "numpy"), rows


def _train_torch(cfg: CharRNNConfig, ids: np.ndarray, vocab: Vocab, run: RunDir,
                 resume: bool) -> tuple[dict[str, Any], _Sampler, list[dict]] | None:
    import torch
    import torch.nn.functional as F

    from latentworks.models.char_lstm import CharLSTM
    from latentworks.models.io import save_model
    from latentworks.training.trainer import TrainConfig, Trainer, seed_everything

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    train_ids, val_ids = split_corpus(ids, cfg.val_fraction)
    train_t, val_t = torch.from_numpy(train_ids.astype(np.int64)), torch.from_numpy(val_ids.astype(np.int64))
    T, world = cfg.seq_len, detect().world_size
    n_evals = math.ceil(cfg.steps / cfg.eval_every)
    per_epoch = math.ceil(cfg.steps / n_evals)
    offsets = torch.arange(T + 1)

    clock = {"steps": 0, "timed_out": False}
    if cfg.time_limit_s is not None and world > 1:
        raise LatentworksError("a time limit needs a single process (ranks could stop at different steps); "
                               "use --steps with torchrun")

    def batch_fn(batch, gen):
        limit = cfg.time_limit_s
        if limit is not None and clock["steps"] and time.perf_counter() - clock["t0"] >= limit:
            clock["timed_out"] = True
            raise KeyboardInterrupt  # the trainer's Ctrl-C path: checkpoint at this step, then stop
        clock["steps"] += 1
        starts = torch.randint(0, len(train_t) - T, (len(batch[0]),), generator=gen)
        w = train_t[starts[:, None] + offsets].to(batch[0].device)
        return w[:, :-1], w[:, 1:]

    def loss_fn(model, batch):
        x, y = batch
        logits, _ = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.reshape(-1))
        return loss, {"acc": float((logits.detach().argmax(-1) == y).float().mean())}

    eval_seconds = [0.0]

    def eval_fn(model, epoch):
        t0 = time.perf_counter()
        loss, acc = model.stream_loss(val_t, cfg.batch, T, cfg.val_batches)
        eval_seconds[0] += time.perf_counter() - t0
        return {"val_loss": loss, "val_acc": acc}

    seed_everything(cfg.seed)  # the initial weights depend on the seed only, not on what ran before
    model = CharLSTM(CharLSTM.Config(vocab.size, cfg.hidden, cfg.layers, cfg.dropout, cfg.embed_dim))
    tcfg = TrainConfig(epochs=n_evals, batch_size=cfg.batch, lr=cfg.lr, optimizer=cfg.optimizer,
                       schedule=cfg.schedule, grad_clip=None if cfg.clip == "none" else cfg.clip_value,
                       seed=cfg.seed, device=cfg.device, eval_every=1, log_every=1,
                       checkpoint_every=cfg.checkpoint_every, progress=cfg.progress, tensorboard=False)
    trainer = Trainer(model, (torch.arange(per_epoch * cfg.batch * world),), tcfg, run.root, loss_fn=loss_fn,
                      eval_fn=eval_fn, batch_fn=batch_fn,
                      run_config={"charrnn": asdict(cfg), "vocab": vocab.to_json()})
    clock["t0"] = time.perf_counter()
    try:
        trainer.fit(resume=resume, stop_after=cfg.steps)
    except TrainingInterrupted:
        if not clock["timed_out"]:
            raise
    fit_seconds = time.perf_counter() - clock["t0"]
    if not trainer.is_main:
        return None
    if trainer.step < trainer.total_steps and not clock["timed_out"]:
        trainer.save()  # stopped inside an evaluation period: keep the exact step resumable
    net = trainer.raw_model.eval()
    save_model(net, run.root, extra={"vocab": vocab.to_json()})
    t0 = time.perf_counter()
    val_loss, val_acc = net.stream_loss(val_t, cfg.batch, T)
    rows, ema_l, ema_a, logged = [], 0.0, 0.0, run.read_metrics()
    for i, r in enumerate(r for r in logged if "loss" in r):
        ema_l, ema_a = 0.98 * ema_l + 0.02 * r["loss"], 0.98 * ema_a + 0.02 * r["acc"]
        debias = 1 - 0.98 ** (i + 1)  # Adam-style bias correction: no start value to wash out
        rows.append({"step": r["step"], "train_loss": ema_l / debias, "train_acc": ema_a / debias})
    last = rows[-1] if rows else {"train_loss": None, "train_acc": None}
    rows += [{"step": r["step"], "val_loss": r["eval/val_loss"], "val_acc": r["eval/val_acc"]}
             for r in logged if "eval/val_loss" in r]
    train_s = max(fit_seconds - eval_seconds[0], 1e-9)  # the whole fit minus validation passes
    metrics = {"val_loss": val_loss, "val_acc": val_acc,
               "chars_per_sec": clock["steps"] * cfg.batch * world * T / train_s,
               "train_loss": last["train_loss"], "train_acc": last["train_acc"], "steps": trainer.step,
               "train_seconds": train_s, "elapsed_s": fit_seconds + time.perf_counter() - t0,
               "parameters": sum(p.numel() for p in net.parameters()), "world_size": world}
    return metrics, _Sampler(net.cpu(), vocab, "torch"), rows


# ------------------------------------------------------------------------------------------ run
def train_charrnn(cfg: CharRNNConfig, out: str | Path, resume: bool = False) -> dict[str, Any] | None:
    """Train into run folder ``out``; write results.json, vocab.json, figures and generation.txt."""
    cfg = cfg.resolved()
    text, vocab, ids = prepare_text(cfg)
    primes = pick_primes(cfg, vocab, text)
    train_ids, val_ids = split_corpus(ids, cfg.val_fraction)
    require_length(train_ids, cfg.seq_len, "training", batch=cfg.batch if cfg.backend == "numpy" else 1)
    if len(val_ids) < 2:
        raise LatentworksError("validation split has < 2 characters; use a longer corpus")
    run = RunDir(out)
    if resume and not (run.root / "vocab.json").is_file():
        raise LatentworksError(f"{run.root} holds no char-RNN run to resume; drop --resume")
    if resume and read_json(run.root / "vocab.json") != vocab.to_json():
        raise LatentworksError("--resume with a different corpus (vocabulary differs); keep --text")
    if detect().is_main:
        write_json(run.root / "vocab.json", vocab.to_json())
    if cfg.backend == "numpy":
        run.write_config({"charrnn": asdict(cfg), "vocab": vocab.to_json()})
        trained = _train_numpy(cfg, ids, vocab, primes, run, resume)
    else:
        trained = _train_torch(cfg, ids, vocab, run, resume)
    if trained is None:
        return None  # a non-zero torchrun rank
    metrics, sampler, rows = trained
    samples = {str(t): {p: sampler.text(p, cfg.sample_length, t, seed=cfg.seed) for p in primes}
               for t in cfg.temperatures}
    generation = sampler.text(primes[0], cfg.generate_length, cfg.temperatures[0], seed=cfg.seed)
    (run.root / "generation.txt").write_text(primes[0] + generation)
    demo = completion_demo(sampler, text[: len(train_ids)])
    if cfg.figures:
        write_figures(run, rows, metrics, vocab.size)
    chars = metrics["steps"] * cfg.batch * cfg.seq_len * metrics.get("world_size", 1)
    metrics.update(samples=samples[str(cfg.temperatures[0])], samples_by_temperature=samples,
                   completions=demo, completion_hits=sum(d["hit"] for d in demo),
                   generation_file="generation.txt", chars_seen=chars, epochs_of_text=chars / len(train_ids),
                   corpus={"text": cfg.text, "chars": len(ids), "train": len(train_ids), "val": len(val_ids),
                           "vocab_size": vocab.size, "uniform_nats": math.log(vocab.size)})
    title = (f"char-RNN · {cfg.backend} {cfg.model} · H {cfg.hidden}"
             + (f" × {cfg.layers} layers" if cfg.layers > 1 else "")
             + f" · T {cfg.seq_len} · B {cfg.batch} · {cfg.optimizer} {cfg.lr:g}")
    from latentworks.training.numpy_loop import write_results

    return write_results(run.root, metrics, cfg, kind=f"charrnn/{cfg.backend}",
                         config={"charrnn": asdict(cfg)}, extra={"title": title})


def completion_demo(sampler: _Sampler, train_text: str, words: list[str] | None = None) -> list[dict]:
    """Prime with the first half (+1) of frequent words, greedy-complete to the end of the word."""
    words = words or completion_words(train_text)
    if set("Harry") <= set(sampler.vocab.chars) and "Harry" not in words:
        words = ["Harry", *words]
    demo = []
    for word in words:
        prime = word[: min(len(word) - 1, (len(word) + 1) // 2 + 1)]
        cont = sampler.text(prime, 24, 0.0)
        done = prime + re.match(r"[A-Za-z']*", cont).group(0)
        demo.append({"prime": prime, "completion": done, "target": word, "hit": done == word,
                     "continuation": prime + cont})
    return demo


def write_figures(run: RunDir, rows: list[dict], metrics: dict[str, Any], vocab_size: int) -> None:
    from latentworks.report.plots import line_plot

    def series(key):
        pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        return ([p[0] for p in pts], [p[1] for p in pts])

    loss = {"train (smoothed)": series("train_loss"), "validation": series("val_loss")}
    last = max([r["step"] for r in rows], default=metrics["steps"])
    loss["final val (whole split)"] = ([last], [metrics["val_loss"]])
    line_plot({k: v for k, v in loss.items() if v[0]}, run.figures / "loss.png", title="loss (nats/char)",
              xlabel="step", ylabel="nats per character", ylim=(0, math.log(vocab_size) * 1.05))
    acc = {"train (EMA)": series("train_acc"), "validation": series("val_acc")}
    acc["final val (whole split)"] = ([last], [metrics["val_acc"]])
    line_plot({k: v for k, v in acc.items() if v[0]}, run.figures / "accuracy.png",
              title="next-character accuracy", xlabel="step", ylabel="accuracy", ylim=(0, 1))


def load_sampler(run_dir: str | Path) -> _Sampler:
    """The trained model of a run folder of either backend."""
    run_dir = Path(run_dir)
    if (run_dir / "model.json").is_file():
        from latentworks.models import char_lstm  # noqa: F401  (registers the kind)
        from latentworks.models.io import load_model

        model = load_model(run_dir, expect="char_lstm")
        return _Sampler(model, Vocab.from_json(read_json(run_dir / "vocab.json")), "torch")
    if (run_dir / "checkpoints" / "last.json").is_file():
        from latentworks.training.numpy_loop import load_numpy_char_rnn

        model, vocab, _ = load_numpy_char_rnn(run_dir)
        return _Sampler(model, vocab, "numpy")
    raise LatentworksError(f"{run_dir} holds no trained char-RNN (no model.json or checkpoints/last.json); "
                           "train one with 'latentworks charrnn train'")


def sample_charrnn(run_dir: str | Path, prime: str = "The ", temperature: float = 0.8, length: int = 1000,
                   top_k: int | None = None, seed: int = 0) -> str:
    """Text generated after ``prime`` (not included) by the run's model; same seed, same text."""
    return load_sampler(run_dir).text(prime, length, temperature, top_k, seed)
