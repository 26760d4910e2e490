"""The local executor's worker processes: the test profile on 2 workers gives the serial run's weights bit for bit;
its log (stderr not a terminal) is one plain line per run and ends with the summary and the next steps; Ctrl-C at
the terminal or SIGTERM to the command stops every run in flight at a checkpoint, leaves no process behind, and
``--resume`` finishes the study; a run that fails stops the others and its one-line error is the study's."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentworks.errors import LatentworksError
from latentworks.recipes.arithmetic import recipe
from latentworks.recipes.charrnn import recipe as charrnn_recipe
from latentworks.studies.console import StudyConsole, closing
from latentworks.studies.executor import Job, LocalExecutor, job_for
from latentworks.studies.pool import default_workers

MARK = f"latentworks-test-{os.getpid()}"  # every process a test starts carries it: none may outlive the command
ENV = {**os.environ, "LATENTWORKS_OFFLINE": "1", "LATENTWORKS_TEST_MARK": MARK}
RUN = [sys.executable, "-m", "latentworks", "run", "--profile", "test", "--data-dir", "embedded"]  # as serial_study


def _weights(study: Path) -> dict[str, str]:
    return {str(p.relative_to(study)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(study.rglob("model.safetensors"))}


def _left_behind() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"LATENTWORKS_TEST_MARK={MARK}".encode() in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def studies(serial_study, tmp_path_factory):
    """The test profile on 2 worker processes, as a log sees it, beside the same study trained one run at a time."""
    parallel = tmp_path_factory.mktemp("workers") / "w2"
    proc = subprocess.run([*RUN, "--out", str(parallel), "--workers", "2"], capture_output=True, text=True,
                          env=ENV, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return serial_study, parallel, proc


@pytest.mark.slow
def test_two_workers_give_the_serial_weights_bit_for_bit(studies):
    serial, parallel, _ = studies
    assert len(_weights(serial)) >= 10 and _weights(serial) == _weights(parallel)
    assert [json.loads((study / "results.json").read_text())["workers"] for study in (serial, parallel)] == [1, 2]


@pytest.mark.slow
def test_a_log_gets_one_plain_line_per_run_then_the_summary_and_next_steps(studies):
    _, study, proc = studies
    text = proc.stderr + proc.stdout
    assert "\x1b" not in text and "\r" not in text  # no escape codes, no redrawn bars
    runs = json.loads((study / "results.json").read_text())["runs"]
    run_lines = [line for line in proc.stderr.splitlines() if re.match(rf"\[\s*\d+/{runs}\] ", line)]
    assert len(run_lines) == runs and len(set(run_lines)) == runs
    assert sum("exact match" in line for line in run_lines) >= 5  # the headline measure beside the seconds
    assert len(text.splitlines()) <= 200
    out = proc.stdout.strip().splitlines()
    assert "Summary (held-out scores):" in out and any("held-out n" in line for line in out)
    headlines = json.loads((study / "report.json").read_text())["headlines"]
    assert all(any(h["measure"] in line for line in out) for h in headlines)
    assert out[-2].endswith(str((study / "report.html").resolve()))
    assert out[-1].endswith(f"latentworks explore {study.resolve()}")


def _start_and_stop(out: Path, send) -> tuple[subprocess.CompletedProcess, float]:
    """The arithmetic study on 2 workers, stopped by ``send(proc)`` once two runs are training."""
    proc = subprocess.Popen([*RUN, "--only", "arithmetic", "--out", str(out), "--workers", "2"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and len(list(out.rglob("metrics.jsonl"))) < 2:
        time.sleep(0.05)
    sent = time.time()
    send(proc)
    stdout, stderr = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), time.time() - sent


@pytest.mark.slow
def test_ctrl_c_at_the_terminal_stops_every_run_at_a_checkpoint_and_resume_finishes_the_study(serial_study, tmp_path):
    out = tmp_path / "study"
    # The terminal sends Ctrl-C to its whole foreground process group: the command's, which its workers left.
    stopped, _ = _start_and_stop(out, lambda proc: os.killpg(proc.pid, signal.SIGINT))
    if stopped.returncode == 0:
        pytest.skip("the study finished before the signal arrived")
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr and "--resume" in stopped.stderr.splitlines()[-1]
    assert not _left_behind()
    assert list(out.rglob("checkpoints/latest.json")) and not (out / "results.json").exists()
    resumed = subprocess.run([*RUN, "--only", "arithmetic", "--out", str(out), "--workers", "2", "--resume"],
                             capture_output=True, text=True, env=ENV, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    reference = {k: v for k, v in _weights(serial_study).items() if k.startswith("arithmetic")}
    assert _weights(out) == reference  # the interrupted and resumed runs end with the uninterrupted bits


@pytest.mark.slow
def test_sigterm_to_the_command_alone_stops_its_workers_too(tmp_path):
    out = tmp_path / "study"
    stopped, took = _start_and_stop(out, lambda proc: proc.send_signal(signal.SIGTERM))
    if stopped.returncode == 0:
        pytest.skip("the study finished before the signal arrived")
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr and "stopping: each run in flight" in stopped.stderr
    assert not _left_behind() and took < 120
    assert list(out.rglob("checkpoints/latest.json"))


def test_a_failing_run_stops_the_others_and_its_error_is_the_studys(tmp_path, capsys):
    long = job_for("long", recipe("best", task="text2text", **{"data.max_int": 29, "train.epochs": 400,
                                                                "model.hidden": 32, "train.progress": False}),
                   tmp_path / "long")
    bad = job_for("bad", charrnn_recipe("quick-optim", **{"data.text": str(tmp_path / "missing.txt")}),
                  tmp_path / "bad")
    started = time.time()
    with pytest.raises(LatentworksError, match=r"^--text .*missing\.txt': does not exist"):
        LocalExecutor(workers=2).run([long, bad], progress=False)
    assert time.time() - started < 150  # the long run was stopped, not waited for
    assert not (tmp_path / "long" / "results.json").exists()
    assert not multiprocessing.active_children()
    assert "Traceback" not in capsys.readouterr().err


def _job(name: str, cost: float) -> Job:
    return Job(name, "arithmetic", {}, f"/runs/{name}", 1, cost)


def test_the_eta_is_time_spread_over_the_workers_and_scaled_by_finished_runs():
    jobs = [_job("a", 100), _job("b", 60), _job("c", 50), _job("d", 10)]
    console = StudyConsole(jobs, workers=2, live=False)
    assert console.eta() == pytest.approx(110)  # a | b+c+... longest first: a=100+d=10 vs b=60+c=50
    console.finished(jobs[3], None, 20.0)  # d took twice its estimate: every estimate doubles
    assert console.scale() == pytest.approx(2.0)
    assert console.eta() == pytest.approx(220)  # a=200 | b+c=220
    console.started(0, jobs[0])
    console.running[0] = (jobs[0], time.perf_counter() - 150)  # a has run 150 s of its 200
    assert console.eta() == pytest.approx(150, abs=1)  # a: 50 left, then c: 100 | b: 120


def test_closing_names_every_headline_the_report_and_the_explore_command(tmp_path):
    from latentworks.report.html import Headline

    text = closing([Headline("arithmetic", "text→text exact match", 0.921, n=19000)], tmp_path, 291.0, "2 workers")
    lines = text.splitlines()
    assert "arithmetic: text→text exact match" in lines[2] and "92.1 %" in lines[2] and "19,000" in lines[2]
    assert lines[-3] == "Done in 291 s (2 workers)."
    assert lines[-1].split(":", 1)[1].strip() == f"latentworks explore {tmp_path.resolve()}"


def test_default_workers_are_the_cores_the_memory_allows(monkeypatch):
    from latentworks.studies import pool

    monkeypatch.setattr(pool, "cpu_count", lambda: 8)
    monkeypatch.setattr(pool, "available_memory", lambda: 3.2 * pool.MEMORY_PER_WORKER)
    assert default_workers() == 3
    monkeypatch.setattr(pool, "available_memory", lambda: 0.5 * pool.MEMORY_PER_WORKER)
    assert default_workers() == 1
    monkeypatch.setattr(pool, "available_memory", lambda: None)
    assert default_workers() == 8


def test_runs_never_hold_more_threads_than_cores():
    from collections import deque

    from latentworks.studies.pool import _next_that_fits

    def job(name, threads):
        return Job(name, "arithmetic", {}, f"/tmp/{name}", threads)

    wide, narrow, other = job("wide", 2), job("narrow", 1), job("other", 1)
    pending = deque([wide, narrow, other])
    assert _next_that_fits(pending, [], 2) is wide  # nothing runs: the widest starts
    assert _next_that_fits(pending, [wide], 2) is None  # both cores in use: wait
    assert list(pending) == [narrow, other]
    assert _next_that_fits(pending, [job("running", 1)], 2) is narrow  # one-thread runs fill the cores
    assert _next_that_fits(pending, [job("running", 1), narrow], 2) is None
    assert _next_that_fits(pending, [job("running", 1)], 2) is other
    pending = deque([job("wide2", 2)])
    assert _next_that_fits(pending, [narrow], 2) is None  # a two-thread run waits for both cores
    assert _next_that_fits(pending, [narrow], 3) is not None
    assert _next_that_fits(deque([job("huge", 16)]), [], 2).name == "huge"  # wider than the box: runs alone


def test_the_widest_runs_start_first_then_the_slowest(tmp_path, monkeypatch):
    started: list[str] = []

    def fake_parallel(jobs, workers, console):
        started.extend(j.name for j in jobs)
        return {j.run_dir: None for j in jobs}

    monkeypatch.setattr("latentworks.studies.pool.run_parallel", fake_parallel)
    jobs = [Job("slow", "arithmetic", {}, str(tmp_path / "a"), 1, 90.0),
            Job("wide", "arithmetic", {}, str(tmp_path / "b"), 2, 30.0),
            Job("fast", "arithmetic", {}, str(tmp_path / "c"), 1, 5.0)]
    LocalExecutor(workers=2).run(jobs, progress=False)
    assert started == ["wide", "slow", "fast"]
