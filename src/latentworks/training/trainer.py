"""The one training loop for every torch model in latentworks.

A pipeline hands the trainer a model (which owns its optimizers and its training step, see
:mod:`latentworks.training.module`), the training tensors with an optional per-batch ``transform`` (fresh
handwriting, binarisation, augmentation), the ``train`` section of its config and, optionally, an evaluation
hook. The trainer owns everything else: device, seeding, batching (through a ``DistributedSampler`` so torchrun
needs no second code path), the LR schedule, clipping, progress bar, atomic checkpoints and exact resume
(mid-epoch included). What it shares with the NumPy loop (``metrics.jsonl``, divergence guards, Ctrl-C, the time
budget, the cadences, the loop state a checkpoint carries) is :class:`latentworks.training.loop.Loop`.
"""

from __future__ import annotations

import gc
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler
from tqdm.auto import tqdm

from latentworks.errors import LatentworksError
from latentworks.runs import RunDir
from latentworks.training import checkpoint as ckpt
from latentworks.training import distributed as dist_utils
from latentworks.training.allocator import keep_freed_memory
from latentworks.training.config import TrainConfig
from latentworks.training.loop import Loop, open_tensorboard, resume_free
from latentworks.training.module import Batch, StepContext, StepModule
from latentworks.training.optim import clip_gradients, lr_factor

Transform = Callable[[Batch, torch.Generator], Batch]
EvalFn = Callable[[torch.nn.Module, int], dict[str, float]]


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise LatentworksError(f"--device {name} asked for, but CUDA is not available here; use --device cpu")
    return torch.device(name)


def seed_everything(seed: int, threads: int | None = None) -> None:
    """Seed Python, NumPy and torch; with ``threads``, set torch's CPU thread count first. Call it before the model
    is built: the orthogonal initialiser's QR gives other bits on another thread count, so a run pinned to one
    thread would otherwise start from other weights on a machine with more cores."""
    if threads:
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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

        if self.device.type == "cpu":
            keep_freed_memory()  # small CPU steps otherwise spend a third of their time page-faulting
        seed_everything(cfg.seed, cfg.threads)
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
        self.loop = Loop(cfg, self.run, self.run_config, self.total_steps, is_main=self.is_main)
        self.examples_per_sec = 0.0
        self.eval_seconds = 0.0  # of this session's fit, spent in eval_fn: the rest is training
        self._order: torch.Tensor | None = None
        self._order_epoch = -1

    # The loop's state, read where a pipeline reports it.
    @property
    def step(self) -> int:
        return self.loop.step

    @step.setter
    def step(self, value: int) -> None:
        self.loop.step = value

    resumed_at = property(lambda self: self.loop.resumed_at, doc="the checkpoint step this session continued from")
    history = property(lambda self: self.loop.history, doc="the metric rows of the run so far")
    session_steps = property(lambda self: self.loop.session_steps, doc="steps taken by this session's fit")
    seconds_before = property(lambda self: self.loop.seconds_before, doc="fit time of earlier sessions")
    elapsed = property(lambda self: self.loop.elapsed, doc="this session's fit time, once it returns")
    timed_out = property(lambda self: self.loop.timed_out, doc="whether the time limit ended the fit")
    train_seconds = property(lambda self: self.loop.train_seconds,
                             doc="fit time over every session of this run: earlier ones plus this one's")

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
        loop = self.loop
        if loop.begin(resume):
            self._resume()
        else:
            # Re-seed here, not only in __init__, so whatever ran in between cannot shift dropout noise.
            seed_everything(self.cfg.seed)
        bar = tqdm(
            total=self.total_steps, initial=self.step, disable=not (self.cfg.progress and self.is_main),
            desc=f"train {self.run.root.name}", unit="step", dynamic_ncols=True, leave=False,
        )
        with loop.session(bar.write):
            try:
                while self.step < self.total_steps:
                    if loop.out_of_time():
                        loop.timed_out = True
                        if self.is_main:
                            bar.write(loop.time_up_message())
                        self.save()
                        break
                    epoch, index = divmod(self.step, self.steps_per_epoch)
                    batch = self._batch(epoch, index)
                    self.raw_model.train()
                    self._set_lr()
                    logs = self._train_step(batch)
                    loop.check_finite(logs, self.step + 1, epoch)
                    self.step += 1
                    bar.update(1)
                    epoch_end = index + 1 == self.steps_per_epoch
                    end_of_epoch = epoch_end or loop.last
                    loop.accumulate(logs)
                    regular = loop.regular_row(epoch_end)
                    if regular or loop.last:
                        row = loop.averages(logs, regular)
                        bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()}, refresh=False)
                        loop.log({"step": self.step, "epoch": epoch + (index + 1) / self.steps_per_epoch, **row})
                    if self.eval_fn and loop.due(self.cfg.eval_every, end_of_epoch):
                        self._evaluate(epoch, index)
                    checkpointed = loop.due(self.cfg.checkpoint_every, end_of_epoch)
                    if checkpointed:
                        self.save()
                    stopping = self._agreed(bool(loop.stop))
                    if stopping or (stop_after is not None and self.step >= stop_after):
                        if not checkpointed:
                            self.save()  # pause exactly here, mid-epoch included: --resume continues bit for bit
                        if stopping:
                            raise loop.interrupted()
                        break
            finally:
                bar.close()
                if self.dist.enabled:
                    self._leave_group(finished=sys.exc_info()[0] is None)
        per_sec = self.cfg.batch_size * self.dist.world_size
        self.examples_per_sec = loop.session_steps * per_sec / max(loop.elapsed, 1e-9)
        if not loop.session_steps and loop.seconds_before:  # a finished run reopened: its overall rate
            self.examples_per_sec = self.step * per_sec / loop.seconds_before
        return self.history

    def save(self) -> Path:
        """Checkpoint now (rank 0 writes; other ranks wait). Weights that are no longer finite are never saved."""
        path = self.run.checkpoints / "latest.json"
        if self.is_main and not all(bool(torch.isfinite(p).all()) for p in self.raw_model.parameters()):
            self.loop.diverged("the weights", float("nan"), self.step, (self.step - 1) // self.steps_per_epoch)
        if self.is_main:
            path = ckpt.save_checkpoint(self.run.checkpoints, step=self.step, modules={"model": self.raw_model},
                                        optimizers=self.optimizers, meta=self.loop.meta(),
                                        carried=self.raw_model.carried_state())
            self.loop.last_good = path
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
        if self.loop.board is not None:
            self.loop.board.add_images(tag, images.detach().float().clamp(0, 1).cpu(), self.step)

    # ----------------------------------------------------------------- internals
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

    def _evaluate(self, epoch: int, index: int) -> None:
        if self.is_main:
            self.raw_model.eval()
            done = epoch + (index + 1) / self.steps_per_epoch
            label = round(done) if abs(done - round(done)) < 1e-9 else done
            started = time.perf_counter()
            with torch.no_grad():
                metrics = self.eval_fn(self.raw_model, label)
            self.eval_seconds += time.perf_counter() - started
            self.loop.log({"step": self.step, "epoch": float(done), **{f"eval/{k}": v for k, v in metrics.items()}})
        dist_utils.barrier()

    def _resume(self) -> None:
        tensors, meta = ckpt.load_checkpoint(self.run.checkpoints)
        ckpt.restore_modules({"model": self.raw_model}, tensors)
        ckpt.restore_optimizers(self.optimizers, meta, tensors)
        ckpt.restore_rng(tensors, meta["rng"])
        self.raw_model.restore_carried_state(ckpt.carried_tensors(tensors))
        self.loop.restore(meta)


__all__ = ["Trainer", "open_tensorboard", "pick_device", "resume_free", "seed_everything"]
