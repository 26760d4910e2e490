"""Where a study's runs execute: one after another in this process, or as Ray tasks over cores and machines.

A study first lists its independent runs as :class:`Job` objects (a run config as JSON, the run folder, the CPU
threads it trains with), then an executor trains them, then the study reads the finished runs and writes its
report. :func:`run_job` is the one way a job runs, whichever executor calls it: a run that already finished
with the same settings is reused, one with a checkpoint continues from it, anything else starts afresh (an
unfinished folder without a checkpoint is moved aside). So a study stopped anywhere (Ctrl-C, a lost worker,
a killed head) continues with ``--resume``, and a Ray task retried after its worker died resumes from the last
checkpoint rather than from scratch.

Ray workers write into the study folder directly, as Ray's own ``storage_path`` does: on one machine that is
the local disk; on a cluster the folder must be on a file system every node sees. Each job sets the same CPU
thread count whichever executor runs it, so the ray executor gives the same numbers as the local one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentworks import registry
from latentworks.errors import LatentworksError, sigterm_as_ctrl_c
from latentworks.runs import RunDir
from latentworks.training.config import RESUME_FREE  # what a finished run and a rerun may differ in

EXECUTORS = ("local", "ray")


@dataclass
class Job:
    """One independent run of a study: shippable to another process or machine."""

    name: str  # a short label for progress and logs
    family: str  # arithmetic | generative | charrnn
    config: dict[str, Any]  # the run config tree as JSON (what config.json holds)
    run_dir: str
    threads: int | None = None  # CPU threads for torch while it trains (None: the process's default)
    cost: float | None = None  # estimated seconds to train and score it: the slowest start first, and the ETA
    # "module:function" called as fn(run_dir, **then_args) once the run is trained (or reused): the study's own
    # scoring of the run, which caches in the run folder, so that it runs in the workers beside other training
    # rather than after all of it, and the study reads it back.
    then: str | None = None
    then_args: dict[str, Any] = field(default_factory=dict)


def estimated_seconds(config: dict[str, Any], kind: registry.Kind) -> float:
    """A run's training and scoring time from its config: its optimizer steps times its kind's seconds per step
    (the cost hint its model registers). Only the order of the runs and the ETA's first guess hang on it (the ETA
    then scales by how long the finished runs really took)."""
    train, data = config.get("train", {}), config.get("data", {})
    steps = train.get("steps")
    if not steps:  # the family's recipes say how many examples an epoch has (a family without steps: one)
        count = getattr(registry.family(config["family"]).recipes_module(), "training_examples", None)
        examples = count(data) if count else 1
        steps = max((train.get("epochs") or 1) * -(-int(examples) // max(1, train.get("batch_size") or 1)),
                    train.get("min_steps") or 0)
    longer = 1 + (config.get("model", {}).get("pad_columns") or 0) / 10  # padding columns lengthen each sequence
    return steps * kind.step_seconds * longer + kind.scoring_seconds


def job_for(name: str, cfg: Any, run_dir: str | Path, threads: int | None = None, then: str | None = None,
            **then_args: Any) -> Job:
    """The job that trains ``cfg`` into ``run_dir``, with the thread count this process would train it with (so
    another process, or another executor, gets the same numbers), then calls ``then(run_dir, **then_args)``."""
    import torch

    from latentworks.config import to_dict

    config = {"family": cfg.family, **to_dict(cfg)}
    return Job(name, cfg.family, config, str(run_dir), threads or cfg.train.threads or torch.get_num_threads(),
               estimated_seconds(config, registry.kind(cfg.kind)), then, then_args)


def train_function(family: str):
    """The pipeline function that trains a run of ``family``: ``fn(config, out, resume=, overwrite=)``."""
    return registry.family(family).train_function()


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """torch's and BLAS's thread counts set to ``n`` for the block: the same count gives the same bits."""
    import torch

    before = torch.get_num_threads()
    blas: Any = contextlib.nullcontext()
    if n:
        torch.set_num_threads(n)
        try:
            from threadpoolctl import threadpool_limits

            blas = threadpool_limits(limits=n, user_api="blas")
        except ImportError:
            pass
    try:
        with blas:
            yield
    finally:
        torch.set_num_threads(before)


def run_job(job: Job, progress: bool = True) -> dict[str, Any] | None:
    """Train ``job`` or reuse / continue what its folder already holds; its ``results.json``."""
    from latentworks.config import override
    from latentworks.recipes import family as recipes_of
    from latentworks.resume import finished_results, has_checkpoint

    cfg = recipes_of(job.family).from_json(job.config)
    if not progress:
        cfg = override(cfg, {"train.progress": False})  # free on a resume, and not part of a finished run's match
    run_dir = Path(job.run_dir)
    done = finished_results(run_dir, job.config, RESUME_FREE)
    with cpu_threads(job.threads):
        if done is None:
            train = train_function(job.family)
            if has_checkpoint(run_dir):
                done = train(cfg, run_dir, resume=True)
            else:
                done = train(cfg, run_dir, overwrite=run_dir.exists() and any(run_dir.iterdir()))
        if done is not None and job.then:
            registry.resolve(job.then)(run_dir, **job.then_args)
            done = RunDir(run_dir, create=False).read_results()  # with what it added (a GAN's FLD, for its line)
    return done


def check_resumable(jobs: list[Job]) -> int:
    """Refuse a resumed study in one line before any of its runs starts, if a run folder it would continue or
    reuse holds a run with other settings (refused mid-study instead, runs started beside it are left half-made).
    Returns how many of the runs finished with these settings and will be reused as they are."""
    from latentworks.recipes import family as recipes_of
    from latentworks.resume import check_resume, finished_results, has_checkpoint
    from latentworks.training.trainer import resume_free

    reused = 0
    for job in jobs:
        run_dir = Path(job.run_dir)
        if not (has_checkpoint(run_dir) or (run_dir / "results.json").is_file()):
            continue
        if finished_results(run_dir, job.config, RESUME_FREE) is not None:
            reused += 1
        else:
            check_resume(run_dir, job.config, resume_free(recipes_of(job.family).from_json(job.config).train))
    return reused


@contextlib.contextmanager
def ticking(bar: Any, every: float = 1.0) -> Iterator[None]:
    """Redraw ``bar`` every ``every`` seconds while the block runs, so its clock keeps moving through stretches
    with no step to count (a run scoring its test set, a Ray wait)."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every):
            bar.refresh()

    thread = threading.Thread(target=tick, name="latentworks-bar", daemon=True)
    if not bar.disable:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()


class LocalExecutor:
    """With one worker, every job in this process, in order; with more, that many jobs at a time in worker
    processes (:mod:`latentworks.studies.pool`), the widest and slowest first, never more threads than cores.
    Each job pins its own thread count, so the weights come out the same bits either way. ``workers`` defaults
    to what the cores and memory allow."""

    def __init__(self, workers: int | None = None):
        from latentworks.studies.pool import default_workers

        self.workers = workers or default_workers()

    def run(self, jobs: list[Job], progress: bool = True) -> dict[str, dict[str, Any] | None]:
        from latentworks.resume import finished_results
        from latentworks.studies.pool import run_parallel

        out: dict[str, dict[str, Any] | None] = {}
        parallel = self.workers > 1 and len(jobs) > 1
        # The widest first (a run on several threads waits for free cores; at the start every core is free),
        # then the slowest first, so that the last runs to finish are short ones.
        order = sorted(jobs, key=lambda j: (-(j.threads or 1), -(j.cost or 0))) if parallel else jobs
        with console_for(order, self.workers if parallel else 1, progress) as console:
            todo = []
            for job in order:  # finished with these settings: reused as they are, no worker needed
                done = finished_results(Path(job.run_dir), job.config, RESUME_FREE)
                if done is None:
                    todo.append(job)
                else:
                    out[job.run_dir] = done
                    console.finished(job, done, None)
            if parallel and len(todo) > 1:
                out.update(run_parallel(todo, self.workers, console))
                return out
            for job in todo:
                console.started(0, job)
                started = time.perf_counter()
                out[job.run_dir] = run_job(job, progress and console.live and not console.lines)
                console.idle(0)
                console.finished(job, out[job.run_dir], time.perf_counter() - started)
        return out


def console_for(jobs: list[Job], workers: int, progress: bool, worker_lines: bool = True) -> Any:
    """The study's console on stderr: live bars when ``progress`` and stderr is a terminal, else plain lines."""
    import sys

    from latentworks.studies.console import StudyConsole

    return StudyConsole(jobs, workers, live=progress and sys.stderr.isatty(), worker_lines=worker_lines)


class RayExecutor:
    """Each job a Ray task with its own CPU (and, when the run asks for CUDA, GPU) request; ``address`` joins a
    running cluster, else a local one is started for the study and shut down after it."""

    def __init__(self, workers: int | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise LatentworksError("--executor ray needs Ray: pip install -e '.[ray]'") from None
        self.ray, self.address, self.workers = ray, address, workers

    def run(self, jobs: list[Job], progress: bool = True) -> dict[str, dict[str, Any] | None]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            kwargs: dict[str, Any] = {"address": self.address} if self.address else {"num_cpus": self.workers}
            ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR", **kwargs)
        # Ray's driver aborts on SIGTERM (a C++ stack, exit 134): take it back after ray.init, so that SIGTERM
        # stops the study as Ctrl-C does (exit 130, runs keep their checkpoints, --resume continues).
        try:
            with sigterm_as_ctrl_c():
                return self._run_tasks(jobs, progress)
        finally:
            if started_here:
                ray.shutdown()

    def _run_tasks(self, jobs: list[Job], progress: bool) -> dict[str, dict[str, Any] | None]:
        ray = self.ray
        remote = ray.remote(max_retries=3, retry_exceptions=False)(_run_job_quietly)
        from latentworks.studies.pool import threads_of

        pending = {}
        jobs = sorted(jobs, key=lambda j: (-(j.threads or 1), -(j.cost or 0)))  # the widest, then the slowest first
        workers = self.workers or int(ray.cluster_resources().get("CPU", 1))
        for job in jobs:
            gpus = 1 if str(job.config.get("train", {}).get("device", "auto")).startswith("cuda") else 0
            # A task asks for the cores its threads keep busy, so Ray never packs more threads than cores.
            options = {"num_cpus": threads_of(job, workers), "num_gpus": gpus, "name": f"latentworks:{job.name}"}
            pending[remote.options(**options).remote(job)] = job
        out: dict[str, dict[str, Any] | None] = {}
        with console_for(jobs, workers, progress, worker_lines=False) as console:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ready[0])
                try:
                    out[job.run_dir] = ray.get(ready[0])
                except ray.exceptions.RayTaskError as err:
                    cause = err.cause if isinstance(getattr(err, "cause", None), Exception) else err
                    if isinstance(cause, LatentworksError):
                        raise cause from None
                    raise LatentworksError(f"run {job.name} failed on a Ray worker: "
                                           f"{str(cause).splitlines()[-1]}") from None
                except ray.exceptions.WorkerCrashedError:
                    raise LatentworksError(f"run {job.name} lost its Ray worker more than 3 times; rerun with "
                                           "--resume to continue from its last checkpoint") from None
                console.finished(job, out[job.run_dir], _train_seconds(out[job.run_dir]))
        return out


def _train_seconds(results: dict[str, Any] | None) -> float | None:
    train = (results or {}).get("train")
    seconds = train.get("seconds") if isinstance(train, dict) else (results or {}).get("train_seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def _run_job_quietly(job: Job) -> dict[str, Any] | None:
    # A Ray worker shows no progress bars of its own: the driver shows the study's.
    return run_job(job, progress=False)


def make_executor(name: str = "local", workers: int | None = None, address: str | None = None):
    if workers is not None and workers < 1:
        raise LatentworksError(f"--workers {workers}: must be at least 1")
    if name == "local":
        if address:
            raise LatentworksError("--address needs --executor ray")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(workers, address)
    raise LatentworksError(f"--executor {name!r} is not a choice; use one of {', '.join(EXECUTORS)}")


def estimate(seconds: dict[str, float], workers: int) -> float:
    """Wall time of runs taking ``seconds`` on ``workers`` workers, longest first (LPT scheduling)."""
    loads = [0.0] * max(1, workers)
    for s in sorted(seconds.values(), reverse=True):
        loads[loads.index(min(loads))] += s
    return max(loads)


__all__ = ["EXECUTORS", "Job", "LocalExecutor", "RayExecutor", "estimate", "job_for", "make_executor", "run_job",
           "train_function"]
