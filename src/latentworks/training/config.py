"""The ``train`` section of every run config: schedule, optimizer, seed, device and logging.

The torch trainer and the NumPy char-RNN loop read the same fields, so an option means the same thing in
every family. Fields that change neither the weights nor any reported number are :data:`RESUME_FREE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch

from latentworks.config import finite, flag_alias, positive, require

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "cosine", "linear", "onecycle")

#: Fields that change neither the weights nor any number a run reports, only what is shown and where it runs: a
#: finished run with other values is the same run (a study reuses it), and a resume may change them. A resume may
#: change more (how often rows and checkpoints are written, the time limit, ...): ``training.loop.resume_free``.
RESUME_FREE = ("train.progress", "train.device", "eval.print_samples")


@dataclass
class TrainConfig:
    epochs: int = 10  # passes over the training data
    steps: int | None = None  # optimizer steps in all; when set it decides the length instead of --epochs
    min_steps: int = 0  # with --epochs: at least this many optimizer steps (a small training set gets more passes)
    batch_size: Annotated[int, flag_alias("--batch")] = 128  # examples per optimizer step
    lr: float = 1e-3  # learning rate (the peak of a schedule)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop", "adagrad"] = "adam"
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)  # Adam / AdamW moment decays
    momentum: float = 0.0  # SGD momentum
    schedule: Literal["constant", "cosine", "linear", "onecycle"] = "constant"  # learning-rate schedule
    warmup_steps: int = 0  # linear warm-up before the schedule
    min_lr_ratio: float = 0.0  # where cosine / linear / one-cycle end, as a share of --lr
    clip: Literal["none", "norm", "elementwise"] = "none"  # gradient clipping: the global L2 norm, or each element
    clip_value: float = 1.0  # the norm or element bound of --clip
    drop_last: bool = False  # skip a last partial batch (when there is at least one full batch)
    seed: int = 0  # same seed, same numbers on CPU
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # CPU threads for torch / BLAS (small RNNs run fastest on 1); None: the default
    eval_every: int = 0  # steps between held-out evaluations; 0: at the end of every epoch
    log_every: int = 10  # steps between metric rows (values are averaged over the rows' window)
    checkpoint_every: int = 0  # steps between checkpoints; 0: at the end of every epoch
    time_limit_s: Annotated[float | None, flag_alias("--time-limit")] = None  # stop after this much training time
    progress: bool = True  # progress bars
    tensorboard: bool = False  # also write TensorBoard logs (needs the tensorboard extra)

    def check(self) -> None:
        require(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", self.epochs,
                "must be a whole number of at least 1")
        require(self.steps is None or self.steps >= 1, "steps", self.steps, "must be at least 1 (or left out)")
        require(self.min_steps >= 0, "min_steps", self.min_steps, "must be >= 0")
        require(self.batch_size >= 1, "batch_size", self.batch_size, "must be at least 1, e.g. --batch-size 64")
        require(positive(self.lr), "lr", self.lr, "must be a positive finite number, e.g. --lr 1e-3")
        require(finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", self.weight_decay,
                "must be a finite number >= 0")
        require(all(finite(b) and 0 <= b < 1 for b in self.betas), "betas", list(self.betas),
                "must be two numbers in [0, 1), e.g. --betas 0.9 0.999")
        require(finite(self.momentum) and 0 <= self.momentum < 1, "momentum", self.momentum, "must lie in [0, 1)")
        require(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "must be >= 0")
        require(finite(self.min_lr_ratio) and 0 <= self.min_lr_ratio <= 1, "min_lr_ratio", self.min_lr_ratio,
                "must lie in [0, 1]")
        require(positive(self.clip_value), "clip_value", self.clip_value, "must be a positive finite number")
        require(self.threads is None or self.threads >= 1, "threads", self.threads, "must be at least 1")
        require(self.eval_every >= 0, "eval_every", self.eval_every, "must be >= 0 (0: every epoch)")
        require(self.log_every >= 1, "log_every", self.log_every, "must be at least 1")
        require(self.checkpoint_every >= 0, "checkpoint_every", self.checkpoint_every,
                "must be >= 0 (0: every epoch)")
        require(self.time_limit_s is None or (finite(self.time_limit_s) and self.time_limit_s >= 0), "time_limit",
                self.time_limit_s, "must be a number of seconds >= 0 (0 stops after the first step)")
        require(0 <= self.seed < 2**63, "seed", self.seed, "a seed must be between 0 and 2^63 − 1 (what torch takes)")
        require(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"), "device",
                self.device, "must be auto, cpu, cuda or cuda:N")
        if self.device.startswith("cuda"):
            require(torch.cuda.is_available(), "device", self.device, "asked for, but CUDA is not available here; "
                    "use --device cpu")


__all__ = ["OPTIMIZERS", "RESUME_FREE", "SCHEDULES", "TrainConfig"]
