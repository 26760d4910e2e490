"""The bookkeeping every training loop shares: the torch ``Trainer`` and the NumPy char-RNN loop both use it.

A loop owns its model, its batches and its optimizer step; :class:`Loop` owns the rest, once: starting or
continuing a run folder (config check, ``metrics.jsonl`` kept up to the checkpoint), the clock and the time
limit, Ctrl-C / SIGTERM, the divergence guard and its one-line error, when to evaluate, log and checkpoint,
the averaged ``metrics.jsonl`` rows (also to TensorBoard) and the loop state a checkpoint carries.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.resume import check_resume
from latentworks.runs import RunDir, to_jsonable
from latentworks.training.checkpoint import latest_checkpoint
from latentworks.training.config import RESUME_FREE, TrainConfig

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # each stops a run cleanly: finish the step, save, exit
# A finite loss this many times its first logged value means the weights exploded: stop as for NaN.
DIVERGENCE_FACTOR = 1e4


def resume_free(cfg: TrainConfig) -> tuple[str, ...]:
    """Config fields a resume may change: :data:`RESUME_FREE`, the cadence of rows and checkpoints, threads,
    the time limit, the ``eval`` section, and the run's length when the learning rate ignores it."""
    free = (*RESUME_FREE, "train.tensorboard", "train.log_every", "train.checkpoint_every", "train.threads",
            "train.time_limit_s", "eval")
    return (*free, "train.epochs", "train.steps", "train.min_steps") if cfg.schedule == "constant" else free


def open_tensorboard(run_root: Path):
    """A SummaryWriter in ``RUN/tensorboard``, announced in one line; a one-line error without the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise LatentworksError("--tensorboard needs the tensorboard extra: pip install -e '.[tensorboard]'") from None
    log_dir = Path(run_root) / "tensorboard"
    print(f"latentworks: TensorBoard logs in {log_dir} (tensorboard --logdir {log_dir})")
    return SummaryWriter(log_dir=str(log_dir))


class Loop:
    """The state and rules of one run's training loop besides the model (``step`` counts finished steps)."""

    def __init__(self, cfg: TrainConfig, run: RunDir, run_config: dict[str, Any], total_steps: int, *,
                 is_main: bool = True):
        self.cfg, self.run, self.run_config, self.is_main = cfg, run, run_config, is_main
        self.total_steps = total_steps
        self.step = 0
        self.resumed_at: int | None = None  # the checkpoint step this session continued from
        self.seconds_before = 0.0  # fit time of earlier sessions of this run (restored on resume)
        self.started: float | None = None  # this session's fit: start, and its length once it ends
        self.elapsed: float | None = None
        self.session_steps = 0
        self.timed_out = False
        self.history: list[dict[str, Any]] = []
        self.window: dict[str, float] = {}  # sums of the step logs since the last regular row, and their count
        self.first_loss: float | None = None
        self.last_good: Path | None = None
        self.stop: list[bool] = []  # set by Ctrl-C / SIGTERM
        self.board = open_tensorboard(run.root) if cfg.tensorboard and is_main else None

    # ------------------------------------------------------------- start, resume, checkpoint meta
    def begin(self, resume: bool) -> bool:
        """Prepare the run folder; whether this session continues a checkpoint. A run stopped before its first
        checkpoint starts from the beginning; a fresh start drops the old log and results."""
        config = to_jsonable(self.run_config)
        if resume and latest_checkpoint(self.run.checkpoints) is None and not any(
                self.run.checkpoints.glob("step-*.safetensors")):
            if self.is_main:
                check_resume(self.run.root, config, resume_free(self.cfg))
                print(f"latentworks: {self.run.root} has no checkpoint yet; starting it from the beginning",
                      file=sys.stderr)
            resume = False
        if resume:
            if self.is_main:
                check_resume(self.run.root, config, resume_free(self.cfg))
        elif self.is_main:
            self.run.metrics_path.unlink(missing_ok=True)
            self.run.results_path.unlink(missing_ok=True)  # a stale result must not pass for this run's
            self.run.write_config(self.run_config)
        return resume

    def meta(self) -> dict[str, Any]:
        """The loop state a checkpoint carries, so that a resumed run logs and stops as an uninterrupted one."""
        return {"config": to_jsonable(self.run_config), "train_seconds": self.train_seconds,
                "log_window": dict(self.window), "first_loss": self.first_loss}

    def restore(self, meta: dict[str, Any]) -> None:
        """Continue from a checkpoint's ``meta``; the log keeps only its rows up to the checkpoint."""
        self.step = self.resumed_at = int(meta["step"])
        self.seconds_before = float(meta.get("train_seconds", meta.get("wall_s", 0.0)))
        self.window = {k: float(v) for k, v in (meta.get("log_window") or {}).items()}
        self.first_loss = meta.get("first_loss")
        self.last_good = latest_checkpoint(self.run.checkpoints)
        # An interrupted tail (and a line a crash tore) is dropped, so no step is logged twice.
        self.history = [r for r in self.run.read_metrics() if r.get("step", 0) <= self.step]
        if self.is_main:
            self.run.write_config(self.run_config)  # logging and length changes are recorded
            self.run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in self.history))

    # ------------------------------------------------------------- clock, signals, the session
    @property
    def train_seconds(self) -> float:
        """Fit time over every session of this run: earlier ones (from the checkpoint) plus this one's."""
        if self.started is None:
            return self.seconds_before
        running = self.elapsed if self.elapsed is not None else time.perf_counter() - self.started
        return self.seconds_before + running

    def out_of_time(self) -> bool:
        """Whether the time limit is spent (never before the first step, so every run takes one)."""
        limit = self.cfg.time_limit_s
        return limit is not None and self.step > 0 and self.train_seconds >= limit

    def time_up_message(self) -> str:
        return (f"latentworks: time limit of {self.cfg.time_limit_s:g} s reached at step {self.step}; finishing "
                "as at the last step")

    @contextlib.contextmanager
    def session(self, say: Callable[[str], None]) -> Iterator[Loop]:
        """Run one session of the loop: the clock runs, and Ctrl-C (or SIGTERM, which schedulers, ``timeout`` and
        ``docker stop`` send) sets :attr:`stop`, so the step in flight finishes and the loop saves (the checkpoint
        never holds half an update); a second one interrupts at once, leaving the last checkpoint as it is."""
        self.started, self.elapsed, self.stop = time.perf_counter(), None, []
        first = self.step
        old = None
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                if self.stop:
                    raise KeyboardInterrupt
                self.stop.append(True)
                if self.is_main:
                    say("latentworks: stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

            old = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
        try:
            yield self
        except KeyboardInterrupt:
            last = latest_checkpoint(self.run.checkpoints)
            where = f"the last checkpoint ({last.stem}) is intact" if last else "no checkpoint was written yet"
            raise TrainingInterrupted(f"aborted at step {self.step}; {where}; rerun with --resume to continue "
                                      "from it") from None
        finally:
            for signum, previous in (old or {}).items():
                signal.signal(signum, previous)
            self.elapsed = time.perf_counter() - self.started
            self.session_steps = self.step - first
            if self.board is not None:
                self.board.flush()

    def interrupted(self) -> TrainingInterrupted:
        """The error a stop request ends the loop with, once the checkpoint is saved."""
        return TrainingInterrupted(f"interrupted at step {self.step}; checkpoint saved to {self.run.checkpoints}; "
                                   "rerun with --resume to continue")

    # ------------------------------------------------------------- divergence
    def check_finite(self, logs: dict[str, Any], step: int, epoch: int | None = None) -> None:
        """Stop on a non-finite logged value, or a loss :data:`DIVERGENCE_FACTOR` times its first value."""
        bad = {k: v for k, v in logs.items() if isinstance(v, float) and not math.isfinite(v)}
        loss = logs.get("loss")
        if not bad and isinstance(loss, float):
            if self.first_loss is None:
                self.first_loss = abs(loss) + 1e-3
            elif abs(loss) > DIVERGENCE_FACTOR * self.first_loss:
                bad = {"loss": loss}
        if bad:
            self.diverged(*next(iter(bad.items())), step, epoch)

    def diverged(self, name: str, value: float, step: int, epoch: int | None = None) -> NoReturn:
        where = (f"last good checkpoint kept in {self.last_good.parent}" if self.last_good
                 else "no checkpoint was written yet")
        at = f"step {step}" + (f" (epoch {epoch + 1})" if epoch is not None else "")
        raise LatentworksError(f"{name} became {value:.4g} at {at}; training diverged and stopped, {where}; "
                               "lower --lr or clip gradients (--clip norm)")

    # ------------------------------------------------------------- cadence
    def due(self, every: int, end_of_epoch: bool = False) -> bool:
        """Whether a periodic task (every ``every`` steps; 0: every epoch) falls on this step; the last always."""
        if self.last:
            return True
        return self.step % every == 0 if every > 0 else end_of_epoch

    # ------------------------------------------------------------- metrics.jsonl
    def accumulate(self, logs: dict[str, Any]) -> None:
        for k, v in logs.items():
            if k != "lr" and isinstance(v, (int, float)):
                self.window[k] = self.window.get(k, 0.0) + float(v)
        self.window["__n"] = self.window.get("__n", 0.0) + 1

    @property
    def last(self) -> bool:
        return self.step == self.total_steps

    def regular_row(self, end_of_epoch: bool = False) -> bool:
        """Whether a regular metric row falls on this step (every ``log_every`` steps, each epoch's end); the last
        step logs one too, see :meth:`averages`."""
        return self.step % self.cfg.log_every == 0 or end_of_epoch

    def averages(self, logs: dict[str, Any], regular: bool = True) -> dict[str, float]:
        """The step logs averaged over the steps since the previous regular row (the learning rate as it is).
        A row that is not regular (the last step's) leaves the window open, so a run resumed with more steps
        logs its next rows exactly as an uninterrupted run."""
        n = self.window.get("__n", 1.0)
        row = {k: v / n for k, v in self.window.items() if k != "__n"}
        if regular:
            self.window.clear()
        if "lr" in logs:
            row["lr"] = logs["lr"]
        return row

    def log(self, row: dict[str, Any]) -> None:
        row = to_jsonable(row)
        self.history.append(row)
        if not self.is_main:
            return
        with open(self.run.metrics_path, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        if self.board is not None:
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)):
                    self.board.add_scalar(key, value, row["step"])

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None


__all__ = ["DIVERGENCE_FACTOR", "STOP_SIGNALS", "Loop", "open_tensorboard", "resume_free"]
