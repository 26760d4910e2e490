"""The local executor's worker processes: a study's independent runs trained side by side, each in a process of
its own with the thread count its job pins, so that each gives the bits it gives alone.

Workers are fresh interpreters (the ``spawn`` method: nothing of the parent's torch state is forked) in a
process group of their own, so Ctrl-C at the terminal reaches the parent alone. The parent then stops handing out
runs and passes the request on once to each busy worker: its trainer finishes the step in flight and saves a
checkpoint, as a run in the foreground does, and ``--resume`` finishes the study. A second Ctrl-C is passed on
too (the runs stop at once, their last checkpoints intact). A worker whose run fails stops the others the same
way, and the study ends with that run's error.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from latentworks.errors import LatentworksError, TrainingInterrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# What one worker may hold at its peak: torch itself, the largest quick run's data, model and scoring, with margin.
MEMORY_PER_WORKER = 1.5 * 2**30
STOPPED_OUTSIDE_TRAINING = "stopped outside a training step (loading or scoring); --resume continues it"


def cpu_count() -> int:
    """The cores this process may run on (its CPU affinity, which containers and ``taskset`` narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def available_memory() -> float | None:
    """Bytes the kernel says new processes can use without swapping (``MemAvailable``); None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return None


def default_workers() -> int:
    """As many workers as there are cores, and no more than the available memory holds at
    ``MEMORY_PER_WORKER`` each."""
    if os.name != "posix":  # the workers' process groups and signal masks are POSIX
        return 1
    memory = available_memory()
    by_memory = int(memory // MEMORY_PER_WORKER) if memory is not None else cpu_count()
    return max(1, min(cpu_count(), by_memory))


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    # A worker starts in the parent's process group; with the stop signals blocked until it has left it, a Ctrl-C
    # in that instant waits in the parent (delivered at the unblock) instead of killing the newborn worker.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _stop_requests(requests: list[int]) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM are only counted into ``requests``; the scheduler acts on them
    between waits (an exception raised at an arbitrary point could tear a message from a worker in half)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, lambda signum, frame: requests.append(signum)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


_requested: list[int] = []  # stop requests that reached this worker while it was not in a run


def _idle() -> None:
    """Between runs a stop request is only noted: it is meant for the run the parent has just sent, if any."""
    for s in STOP_SIGNALS:
        signal.signal(s, lambda signum, frame: _requested.append(signum))


def _watch_parent(parent: int) -> None:
    """If the parent dies (SIGKILL, a crash), stop this worker's run as Ctrl-C would: no orphan trains on."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="latentworks-parent-watch", daemon=True).start()


def _ask_again(unraisable: Any) -> None:
    """A stop request that landed in a finaliser (a weakref callback, a ``__del__``) is swallowed there, with a
    traceback: send it again in a moment instead, to land in the run's own code or its trainer's handler."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        return
    sys.__unraisablehook__(unraisable)


def _work(conn: Connection, parent: int) -> None:
    """A worker's life: leave the terminal's process group, then train the jobs the parent sends until it sends
    None or goes away."""
    os.setpgid(0, 0)
    _idle()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    sys.unraisablehook = _ask_again
    _watch_parent(parent)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            reply = _train(job)
        except KeyboardInterrupt:  # in the instant between the run's end and the return to idle
            reply = ("interrupted", STOPPED_OUTSIDE_TRAINING, 0.0)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def _train(job: Any) -> tuple[str, Any, float]:
    from latentworks.studies.executor import run_job

    started = time.perf_counter()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if _requested:  # asked to stop before this job began: leave it for --resume
            return "skipped", None, 0.0
        return "done", run_job(job, progress=False), time.perf_counter() - started
    except TrainingInterrupted as err:
        return "interrupted", str(err), time.perf_counter() - started
    except KeyboardInterrupt:
        return "interrupted", STOPPED_OUTSIDE_TRAINING, time.perf_counter() - started
    except LatentworksError as err:
        return "error", str(err), time.perf_counter() - started
    except BaseException:  # a bug: the parent shows its traceback
        return "crash", traceback.format_exc(), time.perf_counter() - started
    finally:
        _idle()
        from latentworks.training.allocator import give_back_freed_memory

        give_back_freed_memory()  # the next run on this worker starts from the worker's own size


class _Worker:
    def __init__(self, context: Any, slot: int):
        self.slot = slot
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_work, args=(theirs, os.getpid()),
                                       name=f"latentworks-worker-{slot + 1}")
        self.process.start()
        theirs.close()
        self.job: Any = None
        self.started = 0.0

    def interrupt(self) -> None:
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(self.process.pid, signal.SIGINT)

    def dismiss(self) -> None:
        """Tell the worker to exit once it is idle (:meth:`close` then waits for it)."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)

    def close(self) -> None:
        self.process.join(10)
        if self.process.is_alive():  # still in a run: stop it as Ctrl-C would, then wait for its checkpoint
            self.interrupt()
            self.process.join(120)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def run_parallel(jobs: list[Any], workers: int, console: Any) -> dict[str, dict[str, Any] | None]:
    """Train ``jobs`` on ``workers`` processes, in the order given (the slowest first); their ``results.json`` by
    run folder. Raises the first failed run's error, or :class:`TrainingInterrupted` after a stop request, once
    every worker has stopped."""
    if os.name != "posix":
        raise LatentworksError("--workers above 1 needs Linux or macOS; use --workers 1 (or --executor ray)")
    context = mp.get_context("spawn")
    stop = threading.Event()  # no more runs start; the parent's own flag (the workers are told by signal)
    requests: list[int] = []
    out: dict[str, dict[str, Any] | None] = {}
    pending = deque(jobs)
    # Threads in flight stay within the cores (or the workers asked for, if more): a two-thread run beside a
    # one-thread run on two cores spends its time waiting at its threads' barriers (measured: 2.5-4.5x slower).
    cores = max(workers, cpu_count())
    error: BaseException | None = None
    interrupted, passed_on, stopped = False, 0, 0
    with _stop_requests(requests):
        with _signals_blocked():
            pool = [_Worker(context, slot) for slot in range(min(workers, len(jobs)))]
        try:
            idle = list(reversed(pool))
            while any(w.job for w in pool) or (pending and not stop.is_set() and idle):
                if len(requests) > passed_on:
                    if not stop.is_set():
                        console.note("stopping: each run in flight finishes its step and saves a checkpoint "
                                     "(Ctrl-C again stops them at once); --resume continues the study")
                    interrupted = True
                    stop.set()
                    for w in pool:
                        if w.job:
                            w.interrupt()
                    passed_on = len(requests)
                while pending and idle and not stop.is_set():
                    job = _next_that_fits(pending, [w.job for w in pool if w.job], cores)
                    if job is None:  # the next runs need cores still in use: wait for one to finish
                        break
                    w = idle.pop()
                    w.job, w.started = job, time.perf_counter()
                    with contextlib.suppress(OSError):  # a worker killed from outside: its reply below is an EOF
                        w.conn.send(w.job)
                    console.started(w.slot, w.job)
                busy = {w.conn: w for w in pool if w.job}
                for conn in wait(list(busy), timeout=0.5):
                    w = busy[conn]
                    job, w.job = w.job, None
                    try:
                        kind, payload, seconds = conn.recv()
                    except (EOFError, OSError):
                        w.process.join(5)
                        kind, payload, seconds = "died", w.process.exitcode, time.perf_counter() - w.started
                    else:
                        idle.append(w)
                    console.idle(w.slot)
                    if kind == "done":
                        out[job.run_dir] = payload
                        console.finished(job, payload, seconds)
                        continue
                    if kind == "skipped":
                        continue
                    if kind == "interrupted":
                        interrupted, stopped = True, stopped + 1
                        console.note(f"{job.name}: {payload}")
                    elif error is None:
                        error = _error_of(job, kind, payload)
                    if not stop.is_set():  # one run stopped or failed: stop the others cleanly
                        stop.set()
                        for other in pool:
                            if other.job:
                                other.interrupt()
                console.refresh()
        finally:
            stop.set()
            for w in pool:  # every worker told first: they shut their interpreters down side by side
                w.dismiss()
            for w in pool:
                w.close()
    if error is not None:
        raise error
    if interrupted:
        raise TrainingInterrupted(f"interrupted: {len(out)} of {len(jobs)} runs finished, {stopped} stopped at "
                                  "a checkpoint; rerun with --resume to finish the study")
    return out


def threads_of(job: Any, cores: int) -> int:
    """The cores a job keeps busy while it trains: its pinned thread count, at most ``cores``."""
    return max(1, min(job.threads or 1, cores))


def _next_that_fits(pending: deque, running: list[Any], cores: int) -> Any:
    """Take the first pending job whose threads fit beside the running jobs' within ``cores`` (any job when
    none runs); None when none fits. Its place in ``pending`` is the executor's order: the widest first."""
    free = cores - sum(threads_of(job, cores) for job in running)
    for i, job in enumerate(pending):
        if not running or threads_of(job, cores) <= free:
            del pending[i]
            return job
    return None


def _error_of(job: Any, kind: str, payload: Any) -> BaseException:
    if kind == "error":
        return LatentworksError(payload)
    if kind == "died":
        return LatentworksError(f"run {job.name}: its worker process died (exit code {payload}; out of memory?); "
                                "rerun with --resume to continue from its last checkpoint, or with fewer --workers")
    return RuntimeError(f"run {job.name} failed in its worker process:\n{payload}")


__all__ = ["MEMORY_PER_WORKER", "available_memory", "cpu_count", "default_workers", "run_parallel", "threads_of"]
