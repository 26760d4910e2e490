"""The one training loop for every torch model in latentworks.

A pipeline hands the trainer a model (which owns its optimizers and its training step, see
:mod:`latentworks.training.module`), the training tensors with an optional per-batch ``transform`` (fresh
handwriting, binarisation, augmentation), the ``train`` section of its config and, optionally, an evaluation
hook. The trainer owns everything else: device, seeding, batching (through a ``DistributedSampler`` so torchrun
needs no second code path), the LR schedule, clipping, progress bar, ``metrics.jsonl``, divergence guards,
atomic checkpoints, exact resume (mid-epoch included), Ctrl-C and the time budget.
"""

from __future__ import annotations

import gc
import json
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler
from tqdm.auto import tqdm

from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.runs import RunDir, check_resume, to_jsonable
from latentworks.training import checkpoint as ckpt
from latentworks.training import distributed as dist_utils
from latentworks.training.config import RESUME_FREE, TrainConfig
from latentworks.training.module import Batch, StepContext, StepModule
from latentworks.training.optim import clip_gradients, lr_factor

Transform = Callable[[Batch, torch.Generator], Batch]
EvalFn = Callable[[torch.nn.Module, int], dict[str, float]]
# A finite loss this many times its first logged value means the weights exploded: stop as for NaN.
DIVERGENCE_FACTOR = 1e4


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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # each stops a run cleanly: finish the step, save, exit


def resume_free(cfg: TrainConfig) -> tuple[str, ...]:
    """Config fields a resume may change: logging, and the run's length when the learning rate ignores it."""
    free = (*RESUME_FREE, "eval")
    return (*free, "train.epochs", "train.steps", "train.min_steps") if cfg.schedule == "constant" else free


class Trainer:
    """Train ``model`` on ``data`` (tensors sharing their first dimension) into the run folder ``out``."""

    def __init__(
        self,
        model: torch.nn.Module,
        data: Sequence[torch.Tensor],
        cfg: TrainConfig,
        out: str | Path,
        *,
        transform: Transform | None = None,
        eval_fn: EvalFn | None = None,
        run_config: dict[str, Any] | None = None,
    ):
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.dist = dist_utils.setup(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.is_main = self.dist.is_main
        self.run = RunDir(out, create=self.is_main)
        self.run_config = run_config or {}
        self.transform, self.eval_fn = transform, eval_fn

        if cfg.threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.raw_model = model.to(self.device)
        self.optimizers = model.configure_optimizers(cfg)
        self.base_lrs = {n: [g["lr"] for g in o.param_groups] for n, o in self.optimizers.items()}
        self.manual = bool(getattr(model, "manual_optimization", False))
        self.step_module: torch.nn.Module | None = None
        if self.dist.enabled and not self.manual:
            self.step_module = self._ddp(StepModule(self.raw_model))
        self.ctx = StepContext(seed=cfg.seed, rank=self.dist.rank, world_size=self.dist.world_size,
                               device=self.device, optimizers=self.optimizers, wrap=self._ddp)

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
        self.total_steps = cfg.steps or max(self.steps_per_epoch * cfg.epochs, cfg.min_steps)
        self.step = 0
        self.seconds_before = 0.0  # fit time of earlier sessions of this run (restored on resume)
        self.started: float | None = None  # this session's fit: start, and its length once it returns
        self.elapsed: float | None = None
        self.timed_out = False
        self.session_steps = 0  # steps taken by this session's fit
        self.resumed_at: int | None = None  # the checkpoint step this session continued from
        self.examples_per_sec = 0.0
        self.history: list[dict[str, Any]] = []
        self._window: dict[str, float] = {}  # sums of the step logs since the last metric row, and their count
        self._first_loss: float | None = None
        self._last_good: Path | None = None
        self._order: torch.Tensor | None = None
        self._order_epoch = -1
        self._tb = self._open_tensorboard() if cfg.tensorboard and self.is_main else None

    # ----------------------------------------------------------------- public API
    @property
    def runtime(self) -> dict[str, Any]:
        """World size, process-group backend and device, recorded in results.json."""
        backend = None
        if self.dist.enabled:
            backend = "nccl" if self.device.type == "cuda" else "gloo"
        return {"world_size": self.dist.world_size, "backend": backend, "device": str(self.device)}

    def fit(self, resume: bool = False, stop_after: int | None = None) -> list[dict[str, Any]]:
        """Train to the end. ``stop_after`` pauses (with a checkpoint) after that global step."""
        if resume and ckpt.latest_checkpoint(self.run.checkpoints) is None and not any(
                self.run.checkpoints.glob("step-*.safetensors")):
            if self.is_main:  # stopped before its first checkpoint: there is nothing to continue, so start
                check_resume(self.run.root, to_jsonable(self.run_config), resume_free(self.cfg))
                print(f"latentworks: {self.run.root} has no checkpoint yet; starting it from the beginning",
                      file=sys.stderr)
            resume = False
        if resume:
            self._resume()
        else:
            # Re-seed here, not only in __init__, so whatever ran in between cannot shift dropout noise.
            seed_everything(self.cfg.seed)
            if self.is_main:
                self.run.metrics_path.unlink(missing_ok=True)
                self.run.results_path.unlink(missing_ok=True)  # a stale result must not pass for this run's
                self.run.write_config(self.run_config)
        bar = tqdm(
            total=self.total_steps, initial=self.step, disable=not (self.cfg.progress and self.is_main),
            desc=f"train {self.run.root.name}", unit="step", dynamic_ncols=True, leave=False,
        )
        self.started, self.elapsed = time.perf_counter(), None
        steps_this_session = 0
        stop, old_handler = self._catch_ctrl_c(bar)
        try:
            while self.step < self.total_steps:
                if self._out_of_time():
                    self.timed_out = True
                    if self.is_main:
                        bar.write(f"latentworks: time limit of {self.cfg.time_limit_s:g} s reached at step "
                                  f"{self.step}; finishing as at the last step")
                    self.save()
                    break
                epoch, index = divmod(self.step, self.steps_per_epoch)
                batch = self._batch(epoch, index)
                self.raw_model.train()
                self._set_lr()
                logs = self._train_step(batch)
                self._check_finite(logs, epoch)
                self.step += 1
                steps_this_session += 1
                bar.update(1)
                end_of_epoch = index + 1 == self.steps_per_epoch or self.step == self.total_steps
                self._accumulate(logs)
                if self.step % self.cfg.log_every == 0 or end_of_epoch:
                    row = self._flush_window(logs)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()}, refresh=False)
                    self._log({"step": self.step, "epoch": epoch + (index + 1) / self.steps_per_epoch, **row})
                if self.eval_fn and self._should_evaluate(end_of_epoch):
                    self._evaluate(epoch, index)
                if self._should_checkpoint(end_of_epoch):
                    self.save()
                stopping = self._agreed(bool(stop))
                if stopping or (stop_after is not None and self.step >= stop_after):
                    if not self._should_checkpoint(end_of_epoch):
                        self.save()  # pause exactly here, mid-epoch included: --resume continues bit for bit
                    if stopping:
                        raise TrainingInterrupted(f"interrupted at step {self.step}; checkpoint saved to "
                                                  f"{self.run.checkpoints}; rerun with --resume to continue")
                    break
        except KeyboardInterrupt:  # a second Ctrl-C: out at once, mid-step, so the last checkpoint is kept as it is
            last = ckpt.latest_checkpoint(self.run.checkpoints)
            where = f"the last checkpoint ({last.stem}) is intact" if last else "no checkpoint was written yet"
            raise TrainingInterrupted(f"aborted at step {self.step}; {where}; rerun with --resume to continue "
                                      "from it") from None
        finally:
            bar.close()
            for signum, previous in (old_handler or {}).items():
                signal.signal(signum, previous)
            if self.dist.enabled:
                self._leave_group(finished=sys.exc_info()[0] is None)
        self.elapsed = time.perf_counter() - self.started
        self.session_steps = steps_this_session
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
        """Checkpoint now (rank 0 writes; other ranks wait). Weights that are no longer finite are never saved."""
        path = self.run.checkpoints / "latest.json"
        if self.is_main and not all(bool(torch.isfinite(p).all()) for p in self.raw_model.parameters()):
            self._diverged("the weights", float("nan"), self.step // self.steps_per_epoch)
        if self.is_main:
            path = ckpt.save_checkpoint(
                self.run.checkpoints, step=self.step, modules={"model": self.raw_model},
                optimizers=self.optimizers,
                meta={"config": to_jsonable(self.run_config), "train_seconds": self.train_seconds,
                      "log_window": dict(self._window), "first_loss": self._first_loss},
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

    def log_images(self, tag: str, images: torch.Tensor) -> None:
        """An image grid (N, C, H, W in [0, 1]) to TensorBoard, when it is on."""
        if self._tb is not None:
            self._tb.add_images(tag, images.detach().float().clamp(0, 1).cpu(), self.step)

    # ----------------------------------------------------------------- internals
    def _catch_ctrl_c(self, bar) -> tuple[list[bool], Any]:
        """Ctrl-C (or SIGTERM, which schedulers, ``timeout`` and ``docker stop`` send) finishes the step in flight,
        then saves: the checkpoint never holds half an update. A second one interrupts at once. Returns the stop
        flag and the handlers it replaced."""
        stop: list[bool] = []
        if threading.current_thread() is not threading.main_thread():
            return stop, None

        def handler(signum, frame):
            if stop:
                raise KeyboardInterrupt
            stop.append(True)
            if self.is_main:
                bar.write("latentworks: stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

        return stop, {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}

    def _agreed(self, flag: bool) -> bool:
        """Whether any rank was asked to stop (ranks stop at the same step, so their checkpoints agree)."""
        if not self.dist.enabled:
            return flag
        t = torch.tensor([float(flag)], device=self.device if self.device.type == "cuda" else "cpu")
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def _leave_group(self, finished: bool) -> None:
        """Leave the process group for good: nothing collective follows a fit, and ranks > 0 are done.

        A DDP wrapper keeps the group alive after ``destroy_process_group``; left to interpreter shutdown, gloo's
        worker threads were torn down with it and a rank sometimes died with SIGABRT after a finished run. So the
        ranks meet once more (only after a clean finish: a rank that failed alone would leave the others waiting),
        every wrapper is dropped and collected, and then the group is destroyed while Python is fully alive."""
        if finished:
            dist_utils.barrier()
        self.step_module = None
        self.ctx.release()
        gc.collect()
        dist_utils.cleanup()

    def _ddp(self, module: torch.nn.Module) -> torch.nn.Module:
        if not self.dist.enabled:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def _out_of_time(self) -> bool:
        limit = self.cfg.time_limit_s
        return limit is not None and self.step > 0 and self.train_seconds >= limit

    def _batch(self, epoch: int, index: int) -> Batch:
        if self._order is None or self._order_epoch != epoch:
            self.sampler.set_epoch(epoch)
            self._order = torch.tensor(list(self.sampler), device=self.device)
            self._order_epoch = epoch
        idx = self._order[index * self.cfg.batch_size:(index + 1) * self.cfg.batch_size]
        batch = tuple(t[idx] for t in self.data)
        if self.transform is not None:
            # A per-step generator keeps on-the-fly augmentation identical across resume, and ranks differ.
            gen = torch.Generator(device="cpu").manual_seed(
                self.cfg.seed * 1_000_003 + self.step * 7919 + self.dist.rank
            )
            batch = self.transform(batch, gen)
        return batch

    def _set_lr(self) -> None:
        factor = lr_factor(self.step, self.total_steps, self.cfg)
        for name, opt in self.optimizers.items():
            for group, base in zip(opt.param_groups, self.base_lrs[name]):
                group["lr"] = base * factor

    def _train_step(self, batch: Batch) -> dict[str, float]:
        self.ctx.step = self.step
        lr = next(iter(self.optimizers.values())).param_groups[0]["lr"]
        if self.manual:
            return {**self.raw_model.training_step(batch, self.ctx).logs, "lr": lr}
        opt = self.optimizers["main"]
        opt.zero_grad(set_to_none=True)
        step = self.step_module if self.step_module is not None else self.raw_model.training_step
        out = step(batch, self.ctx)  # a StepOutput (training/module.py)
        out.loss.backward()
        clip_gradients(self.raw_model.parameters(), self.cfg)
        opt.step()
        return {"loss": float(out.loss.detach()), **out.logs, "lr": lr}

    def _check_finite(self, logs: dict[str, float], epoch: int) -> None:
        losses = {k: v for k, v in logs.items() if "loss" in k and isinstance(v, float)}
        bad = {k: v for k, v in logs.items() if isinstance(v, float) and not math.isfinite(v)}
        if not bad and "loss" in losses:
            if self._first_loss is None:
                self._first_loss = abs(losses["loss"]) + 1e-3
            elif abs(losses["loss"]) > DIVERGENCE_FACTOR * self._first_loss:
                bad = {"loss": losses["loss"]}
        if bad:
            self._diverged(*next(iter(bad.items())), epoch)

    def _diverged(self, name: str, value: float, epoch: int) -> None:
        where = (f"last good checkpoint: {self._last_good.parent}" if self._last_good
                 else "no checkpoint was written yet")
        raise LatentworksError(
            f"{name} became {value:.4g} at step {self.step + 1} (epoch {epoch + 1}); training diverged and stopped, "
            f"{where}; lower --lr or clip gradients (--clip norm)"
        )

    def _accumulate(self, logs: dict[str, float]) -> None:
        for k, v in logs.items():
            if k != "lr" and isinstance(v, (int, float)):
                self._window[k] = self._window.get(k, 0.0) + float(v)
        self._window["__n"] = self._window.get("__n", 0.0) + 1

    def _flush_window(self, logs: dict[str, float]) -> dict[str, float]:
        """The step logs averaged over the steps since the previous metric row (the learning rate as it is)."""
        n = self._window.pop("__n", 1.0)
        row = {k: v / n for k, v in self._window.items()}
        self._window.clear()
        if "lr" in logs:
            row["lr"] = logs["lr"]
        return row

    def _due(self, every: int, end_of_epoch: bool) -> bool:
        """Whether a periodic task (every ``every`` steps; 0: every epoch) falls on this step; the last always."""
        if self.step == self.total_steps:
            return True
        return self.step % every == 0 if every > 0 else end_of_epoch

    def _should_evaluate(self, end_of_epoch: bool) -> bool:
        return self._due(self.cfg.eval_every, end_of_epoch)

    def _evaluate(self, epoch: int, index: int) -> None:
        if self.is_main:
            self.raw_model.eval()
            done = epoch + (index + 1) / self.steps_per_epoch
            label = round(done) if abs(done - round(done)) < 1e-9 else done
            with torch.no_grad():
                metrics = self.eval_fn(self.raw_model, label)
            self._log({"step": self.step, "epoch": float(done), **{f"eval/{k}": v for k, v in metrics.items()}})
        dist_utils.barrier()

    def _should_checkpoint(self, end_of_epoch: bool) -> bool:
        return self._due(self.cfg.checkpoint_every, end_of_epoch)

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
        if self.is_main:
            check_resume(self.run.root, to_jsonable(self.run_config), resume_free(self.cfg))
        tensors, meta = ckpt.load_checkpoint(self.run.checkpoints)
        ckpt.restore_modules({"model": self.raw_model}, tensors)
        ckpt.restore_optimizers(self.optimizers, meta, tensors)
        ckpt.restore_rng(tensors, meta["rng"])
        self.step = int(meta["step"])
        self.resumed_at = self.step
        self.seconds_before = float(meta.get("train_seconds", 0.0))
        self._window = {k: float(v) for k, v in (meta.get("log_window") or {}).items()}
        self._first_loss = meta.get("first_loss")
        self._last_good = ckpt.latest_checkpoint(self.run.checkpoints)
        # Keep only the metrics logged up to the checkpoint, so an interrupted tail is not counted twice.
        rows = [r for r in self.run.read_metrics() if r.get("step", 0) <= self.step]
        self.history = rows
        if self.is_main:
            self.run.write_config(self.run_config)  # logging and length changes are recorded
            text = "".join(json.dumps(r) + "\n" for r in rows)
            self.run.metrics_path.write_text(text)

    def _open_tensorboard(self):
        return open_tensorboard(self.run.root)


def open_tensorboard(run_root: Path):
    """A SummaryWriter in ``RUN/tensorboard``, announced in one line; a one-line error without the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise LatentworksError("--tensorboard needs the tensorboard extra: pip install -e '.[tensorboard]'") from None
    log_dir = Path(run_root) / "tensorboard"
    print(f"latentworks: TensorBoard logs in {log_dir} (tensorboard --logdir {log_dir})")
    return SummaryWriter(log_dir=str(log_dir))


__all__ = ["Trainer", "open_tensorboard", "pick_device", "resume_free", "seed_everything"]
