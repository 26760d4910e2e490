"""What ``latentworks run`` shows while a study trains, and how it ends.

On a terminal: one study bar whose ETA is time (the jobs' estimated seconds, scaled by how long the finished runs
really took, spread over the workers) and one status line per worker; with one worker, that worker's line is the
trainer's own bar. Anywhere else (a log file, a pipe, CI, a notebook): one plain line per finished run (name,
seconds, headline measure) and no escape codes. Both end with the summary table and the next steps.
"""

from __future__ import annotations

import html
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from latentworks.report.names import duration, fmt


def run_headline(results: dict[str, Any] | None) -> str:
    """The finished run's first headline measure as text ("exact match 92.1 %"), from the registry."""
    from latentworks.registry import headline

    found = headline(results) if isinstance(results, dict) else None
    if found is None:
        return ""
    measure, value = found
    text = html.unescape(fmt(value, measure.fmt))
    unit = f" {measure.unit}" if measure.fmt == "num" and measure.unit and measure.unit not in measure.name else ""
    return f"{measure.name} {text}{unit}"


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class StudyConsole:
    """The study's progress: live bars (``live``) or plain lines, on ``stream`` (stderr)."""

    def __init__(self, jobs: list[Any], workers: int, live: bool, stream: TextIO | None = None,
                 worker_lines: bool = True):
        self.jobs, self.workers, self.live, self.worker_lines = jobs, max(1, workers), live, worker_lines
        self.stream = stream or sys.stderr
        self.done = 0
        self.running: dict[int, tuple[Any, float]] = {}  # worker slot -> (job, started)
        self.begun: set[str] = set()  # run folders started or finished
        self.measured: list[tuple[float, float]] = []  # (estimated, actual) seconds of runs trained here
        self.width = max([len(j.name) for j in jobs] + [4])
        self.lock = threading.RLock()
        self.bar: Any = None
        self.lines: list[Any] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> StudyConsole:
        if self.live:
            from tqdm.std import tqdm

            self.bar = tqdm(total=len(self.jobs), desc="study", unit="run", file=self.stream, dynamic_ncols=True,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} runs "
                                       "[{elapsed}{postfix}]")
            if self.workers > 1 and self.worker_lines:
                self.lines = [tqdm(total=0, bar_format="{desc}", position=i + 1, file=self.stream, leave=False,
                                   desc=f"  worker {i + 1}: starting") for i in range(self.workers)]
            self._ticker = threading.Thread(target=self._tick, name="latentworks-console", daemon=True)
            self._ticker.start()
        elif self.jobs:
            self.print(f"latentworks: training {len(self.jobs)} runs on {self.workers} worker"
                       f"{'s' if self.workers > 1 else ''}, about {duration(self.eta())} (estimated)")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self.lock:
            for line in self.lines:
                line.close()
            if self.bar is not None:
                self.bar.close()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.refresh()

    # ---------------------------------------------------------------- events
    def started(self, slot: int, job: Any) -> None:
        with self.lock:
            self.running[slot] = (job, time.perf_counter())
            self.begun.add(job.run_dir)
        self.refresh()

    def idle(self, slot: int) -> None:
        with self.lock:
            self.running.pop(slot, None)

    def finished(self, job: Any, results: dict[str, Any] | None, seconds: float | None) -> None:
        """A run is done: trained here in ``seconds``, or reused as it was (``seconds`` None)."""
        with self.lock:
            self.done += 1
            self.begun.add(job.run_dir)
            if seconds is not None and job.cost:
                self.measured.append((job.cost, seconds))
            took = "reused" if seconds is None else duration(seconds)
            line = (f"[{self.done:>{len(str(len(self.jobs)))}}/{len(self.jobs)}] {job.name:<{self.width}} "
                    f"{took:>7}  {run_headline(results)}".rstrip())
            if self.live:
                self.bar.update(1)
            else:
                self.print(line)
        self.refresh()

    def note(self, text: str) -> None:
        """One line above the bars (or in the log)."""
        with self.lock:
            if self.live:
                self.bar.write(f"latentworks: {text}", file=self.stream)
            else:
                self.print(f"latentworks: {text}")

    def print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    # ---------------------------------------------------------------- the clock
    def scale(self) -> float:
        """Actual over estimated seconds of the runs trained so far (1 until one has finished)."""
        estimated = sum(e for e, _ in self.measured)
        return sum(a for _, a in self.measured) / estimated if estimated > 0 else 1.0

    def eta(self) -> float:
        """Seconds until the last run ends: what the running runs have left, then the waiting ones, each to the
        worker that frees up first (the order they will start in)."""
        with self.lock:
            k, now = self.scale(), time.perf_counter()
            loads = [max((job.cost or 0) * k - (now - t0), 0.0) for job, t0 in self.running.values()]
            loads += [0.0] * max(0, self.workers - len(loads))
            for job in self.jobs:
                if job.run_dir not in self.begun:
                    loads[loads.index(min(loads))] += (job.cost or 0) * k
            return max(loads) if self.done < len(self.jobs) else 0.0

    def refresh(self) -> None:
        if not self.live:
            return
        with self.lock:
            now = time.perf_counter()
            self.bar.set_postfix_str(f"about {clock(self.eta())} left" if self.done < len(self.jobs) else "",
                                     refresh=False)
            self.bar.refresh()
            for slot, line in enumerate(self.lines):
                job, t0 = self.running.get(slot, (None, now))
                line.set_description_str(f"  worker {slot + 1}: " + (
                    f"{job.name:<{self.width}} {clock(now - t0)} of about {clock((job.cost or 0) * self.scale())}"
                    if job else "idle"))


def closing(headlines: list[Any], out: Path, seconds: float, workers: str) -> str:
    """The study's last words: the summary table (measure, value, held-out n) and where to go next."""
    rows = [(f"{h.family}: {h.measure}", html.unescape(fmt(h.ours, h.kind)), fmt(h.n, "int") if h.n else "—")
            for h in headlines]
    lines = []
    if rows:
        a = max(len(r[0]) for r in rows + [("measure", "", "")])
        b = max(len(r[1]) for r in rows + [("", "value", "")])
        c = max(len(r[2]) for r in rows + [("", "", "held-out n")])
        lines += ["Summary (held-out scores):", f"  {'measure':<{a}}  {'value':>{b}}  {'held-out n':>{c}}"]
        lines += [f"  {m:<{a}}  {v:>{b}}  {n:>{c}}" for m, v, n in rows]
        lines.append("")
    study = out.resolve()
    lines += [f"Done in {duration(seconds)} ({workers}).",
              f"  the report:   {study / 'report.html'}",
              f"  explore it:   latentworks explore {study}"]
    return "\n".join(lines)


__all__ = ["StudyConsole", "closing", "run_headline"]
