"""The one training loop for every torch model in latentworks.

A pipeline hands the trainer a model, in-memory tensors, a loss function and (optionally) an evaluation hook.
The trainer owns everything else: device, seeding, batching (through a ``DistributedSampler`` so torchrun
needs no second code path), optimizer and LR schedule, progress bar, ``metrics.jsonl``, NaN guards, atomic
checkpoints, resume and Ctrl-C. A GAN swaps the default update for its own ``step_fn``; nothing else changes.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler
from tqdm.auto import tqdm

from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.runs import RunDir, to_jsonable
from latentworks.training import checkpoint as ckpt
from latentworks.training import distributed as dist_utils

Batch = tuple[torch.Tensor, ...]
LossFn = Callable[[torch.nn.Module, Batch], "torch.Tensor | tuple[torch.Tensor, dict[str, float]]"]
StepFn = Callable[["Trainer", Batch], dict[str, float]]
EvalFn = Callable[[torch.nn.Module, int], dict[str, float]]
BatchFn = Callable[[Batch, torch.Generator], Batch]


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"  # adam | adamw | sgd | rmsprop
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    schedule: str = "constant"  # constant | cosine | linear | onecycle
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    grad_clip: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # CPU intra-op threads; small RNNs run fastest on one (None: torch's default)
    eval_every: int = 1  # epochs
    log_every: int = 10  # steps
    checkpoint_every: int = 0  # steps; 0 means at the end of every epoch
    drop_last: bool = False
    progress: bool = True
    tensorboard: bool = True  # used only when the tensorboard package is installed
    extra: dict[str, Any] = field(default_factory=dict)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise LatentworksError(f"--device {name} asked for, but CUDA is not available here; use --device cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    name = cfg.optimizer.lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise LatentworksError(f"unknown optimizer '{cfg.optimizer}'; choose adam, adamw, sgd or rmsprop")


def lr_factor(step: int, total: int, cfg: TrainConfig) -> float:
    """Multiplier on the base LR at ``step``: a pure function of the step, so resume needs no scheduler state."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    progress = min(max(progress, 0.0), 1.0)
    floor = cfg.min_lr_ratio
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.schedule == "linear":
        return floor + (1 - floor) * (1 - progress)
    if cfg.schedule == "onecycle":
        peak = 0.3
        if progress < peak:
            return 0.1 + 0.9 * progress / peak
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (progress - peak) / (1 - peak)))
    raise LatentworksError(f"unknown LR schedule '{cfg.schedule}'; choose constant, cosine, linear or onecycle")


class Trainer:
    """Train ``model`` on ``data`` (tensors sharing their first dimension) into the run folder ``out``."""

    def __init__(
        self,
        model: torch.nn.Module,
        data: Sequence[torch.Tensor],
        cfg: TrainConfig,
        out: str | Path,
        *,
        loss_fn: LossFn | None = None,
        step_fn: StepFn | None = None,
        eval_fn: EvalFn | None = None,
        batch_fn: BatchFn | None = None,
        optimizers: dict[str, torch.optim.Optimizer] | None = None,
        run_config: dict[str, Any] | None = None,
    ):
        if (loss_fn is None) == (step_fn is None):
            raise ValueError("give exactly one of loss_fn (default update) or step_fn (custom update)")
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.dist = dist_utils.setup(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.is_main = self.dist.is_main
        self.run = RunDir(out, create=self.is_main)
        self.run_config = run_config or {}
        self.loss_fn, self.step_fn, self.eval_fn, self.batch_fn = loss_fn, step_fn, eval_fn, batch_fn

        if cfg.threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.raw_model = model.to(self.device)
        self.model: torch.nn.Module = self.raw_model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.raw_model, device_ids=ids)
        self.optimizers = optimizers or {"main": build_optimizer(self.raw_model.parameters(), cfg)}
        self.base_lrs = {n: [g["lr"] for g in o.param_groups] for n, o in self.optimizers.items()}

        self.data = tuple(t.to(self.device) for t in data)
        n = len(self.data[0])
        if n == 0:
            raise LatentworksError("the training set is empty; use a larger --train-fraction or more data")
        self.sampler = DistributedSampler(
            range(n), num_replicas=self.dist.world_size, rank=self.dist.rank,
            shuffle=True, seed=cfg.seed, drop_last=False,
        )
        per_rank = len(self.sampler)
        bs = cfg.batch_size
        self.steps_per_epoch = per_rank // bs if cfg.drop_last and per_rank >= bs else math.ceil(per_rank / bs)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.step = 0
        self.seconds_before = 0.0  # fit time of earlier sessions of this run (restored on resume)
        self.started: float | None = None  # this session's fit: start, and its length once it returns
        self.elapsed: float | None = None
        self.history: list[dict[str, Any]] = []
        self._last_good: Path | None = None
        self._tb = self._open_tensorboard(self.run.root / "tensorboard") if cfg.tensorboard and self.is_main else None

    # ----------------------------------------------------------------- public API
    def fit(self, resume: bool = False, stop_after: int | None = None) -> list[dict[str, Any]]:
        """Train to ``cfg.epochs``. ``stop_after`` pauses (with a checkpoint) after that global step."""
        if resume:
            self._resume()
        else:
            # Re-seed here, not only in __init__, so whatever ran in between cannot shift dropout noise.
            seed_everything(self.cfg.seed)
            if self.is_main:
                self.run.metrics_path.unlink(missing_ok=True)
                self.run.results_path.unlink(missing_ok=True)  # a stale result must not pass for this run's
                self.run.write_config({"train": asdict(self.cfg), **self.run_config})
        bar = tqdm(
            total=self.total_steps, initial=self.step, disable=not (self.cfg.progress and self.is_main),
            desc=self.run.root.name, unit="step", dynamic_ncols=True, leave=False,
        )
        self.started, self.elapsed = time.perf_counter(), None
        steps_this_session = 0
        try:
            while self.step < self.total_steps:
                epoch, index = divmod(self.step, self.steps_per_epoch)
                batch = self._batch(epoch, index)
                self.model.train()
                self._set_lr()
                logs = self._train_step(batch)
                self._check_finite(logs, epoch)
                self.step += 1
                steps_this_session += 1
                bar.update(1)
                if self.step % self.cfg.log_every == 0 or index + 1 == self.steps_per_epoch:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
                    self._log({"step": self.step, "epoch": epoch + (index + 1) / self.steps_per_epoch, **logs})
                end_of_epoch = index + 1 == self.steps_per_epoch
                if end_of_epoch and self.eval_fn and ((epoch + 1) % self.cfg.eval_every == 0 or
                                                     self.step == self.total_steps):
                    self._evaluate(epoch + 1)
                if self._should_checkpoint(end_of_epoch):
                    self.save()
                if stop_after is not None and self.step >= stop_after:
                    break
        except KeyboardInterrupt:
            bar.close()
            path = self.save()
            raise TrainingInterrupted(
                f"interrupted at step {self.step}; checkpoint saved to {path.parent}; rerun with --resume to continue"
            ) from None
        finally:
            bar.close()
        self.elapsed = time.perf_counter() - self.started
        self.examples_per_sec = steps_this_session * self.cfg.batch_size * self.dist.world_size / max(
            self.elapsed, 1e-9
        )
        if not steps_this_session and self.seconds_before:  # a finished run reopened: its overall rate
            self.examples_per_sec = self.step * self.cfg.batch_size * self.dist.world_size / self.seconds_before
        if self._tb is not None:
            self._tb.flush()
        return self.history

    @property
    def train_seconds(self) -> float:
        """Fit time over every session of this run: earlier ones (from the checkpoint) plus this one's."""
        if self.started is None:
            return self.seconds_before
        running = self.elapsed if self.elapsed is not None else time.perf_counter() - self.started
        return self.seconds_before + running

    def save(self) -> Path:
        """Checkpoint now (rank 0 writes; other ranks wait)."""
        path = self.run.checkpoints / "latest.json"
        if self.is_main:
            path = ckpt.save_checkpoint(
                self.run.checkpoints, step=self.step, modules={"model": self.raw_model},
                optimizers=self.optimizers,
                meta={"train": to_jsonable(asdict(self.cfg)), "run": to_jsonable(self.run_config),
                      "train_seconds": self.train_seconds},
            )
            self._last_good = path
        dist_utils.barrier()
        return path

    def last_metrics(self, prefix: str = "") -> dict[str, Any]:
        """The latest value of every logged metric (optionally only those starting with ``prefix``)."""
        merged: dict[str, Any] = {}
        for row in self.history:
            merged.update({k: v for k, v in row.items() if k.startswith(prefix)})
        return merged

    # ----------------------------------------------------------------- internals
    def _batch(self, epoch: int, index: int) -> Batch:
        if index == 0 or not hasattr(self, "_order") or self._order_epoch != epoch:
            self.sampler.set_epoch(epoch)
            self._order = torch.tensor(list(self.sampler), device=self.device)
            self._order_epoch = epoch
        idx = self._order[index * self.cfg.batch_size:(index + 1) * self.cfg.batch_size]
        batch = tuple(t[idx] for t in self.data)
        if self.batch_fn is not None:
            # A per-step generator keeps on-the-fly augmentation identical across resume and ranks differ.
            gen = torch.Generator(device="cpu").manual_seed(
                self.cfg.seed * 1_000_003 + self.step * 7919 + self.dist.rank
            )
            batch = self.batch_fn(batch, gen)
        return batch

    def _set_lr(self) -> None:
        factor = lr_factor(self.step, self.total_steps, self.cfg)
        for name, opt in self.optimizers.items():
            for group, base in zip(opt.param_groups, self.base_lrs[name]):
                group["lr"] = base * factor

    def _train_step(self, batch: Batch) -> dict[str, float]:
        if self.step_fn is not None:
            return self.step_fn(self, batch)
        opt = self.optimizers["main"]
        opt.zero_grad(set_to_none=True)
        out = self.loss_fn(self.model, batch)
        loss, logs = out if isinstance(out, tuple) else (out, {})
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.cfg.grad_clip)
        opt.step()
        return {"loss": float(loss.detach()), **logs, "lr": opt.param_groups[0]["lr"]}

    def _check_finite(self, logs: dict[str, float], epoch: int) -> None:
        bad = {k: v for k, v in logs.items() if isinstance(v, float) and not math.isfinite(v)}
        if not bad:
            return
        where = (f"last good checkpoint: {self._last_good.parent}" if self._last_good
                 else "no checkpoint was written yet")
        name, value = next(iter(bad.items()))
        raise LatentworksError(
            f"{name} became {value} at step {self.step + 1} (epoch {epoch + 1}); training stopped, {where}; "
            "lower --lr or clip gradients"
        )

    def _evaluate(self, epoch: int) -> None:
        if self.is_main:
            self.model.eval()
            with torch.no_grad():
                metrics = self.eval_fn(self.raw_model, epoch)
            self._log({"step": self.step, "epoch": float(epoch), **{f"eval/{k}": v for k, v in metrics.items()}})
        dist_utils.barrier()

    def _should_checkpoint(self, end_of_epoch: bool) -> bool:
        if self.step == self.total_steps:
            return True
        if self.cfg.checkpoint_every > 0:
            return self.step % self.cfg.checkpoint_every == 0
        return end_of_epoch

    def _log(self, row: dict[str, Any]) -> None:
        row = to_jsonable(row)
        self.history.append(row)
        if not self.is_main:
            return
        with open(self.run.metrics_path, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, row["step"])

    def _resume(self) -> None:
        tensors, meta = ckpt.load_checkpoint(self.run.checkpoints)
        ckpt.restore_modules({"model": self.raw_model}, tensors)
        ckpt.restore_optimizers(self.optimizers, meta, tensors)
        ckpt.restore_rng(tensors, meta["rng"])
        self.step = int(meta["step"])
        self.seconds_before = float(meta.get("train_seconds", 0.0))  # absent in checkpoints before 2026-11-22
        self._last_good = ckpt.latest_checkpoint(self.run.checkpoints)
        # Keep only the metrics logged up to the checkpoint, so an interrupted tail is not counted twice.
        rows = [r for r in self.run.read_metrics() if r.get("step", 0) <= self.step]
        self.history = rows
        if self.is_main:
            text = "".join(json.dumps(r) + "\n" for r in rows)
            self.run.metrics_path.write_text(text)

    @staticmethod
    def _open_tensorboard(log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(log_dir=str(log_dir))
