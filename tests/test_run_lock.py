"""One writer per run folder: a resume beside a live trainer is refused naming its PID; after a SIGKILL the stale
lock is named, cleared, and the resumed run ends bit for bit as the uninterrupted one."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentworks.errors import LatentworksError
from latentworks.folder_lock import LOCK_NAME, lock_run_dir, owns_run_dirs, release_run_dir

ENV = {**os.environ, "LATENTWORKS_OFFLINE": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
HOLD = ("import sys, time; from latentworks.folder_lock import lock_run_dir; lock_run_dir(sys.argv[1]); "
        "print('held', flush=True); time.sleep(60)")


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "latentworks", *argv], capture_output=True, text=True, env=ENV,
                          timeout=300)


def _holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_holder_is_named_and_a_dead_ones_lock_is_cleared(tmp_path, capsys):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(LatentworksError, match=f"PID {proc.pid}"):
            lock_run_dir(tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(proc.pid)  # a SIGKILL leaves the file behind
    lock_run_dir(tmp_path)
    err = capsys.readouterr().err
    assert f"stale lock on {tmp_path} left by PID {proc.pid}" in err and len(err.splitlines()) == 1
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    release_run_dir(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_train_function_gives_its_folders_back_even_when_it_fails(tmp_path):
    @owns_run_dirs
    def train(out: Path) -> None:
        lock_run_dir(out)
        raise LatentworksError("diverged")

    with pytest.raises(LatentworksError):
        train(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
    proc = _holder(tmp_path)  # another process can take it at once
    proc.kill()
    proc.wait()


def _argv(out: Path) -> list[str]:
    return ["arithmetic", "train", "--preset", "columns", "--max-int", "19", "--train-fraction", "0.5", "--epochs",
            "40", "--hidden", "32", "--no-progress", "--out", str(out)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_resume_beside_a_live_trainer_is_refused_and_after_sigkill_finishes_bit_identical(tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "run"
    reference = subprocess.Popen([sys.executable, "-m", "latentworks", *_argv(ref)], env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trainer = subprocess.Popen([sys.executable, "-m", "latentworks", *_argv(out)], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics, deadline = out / "metrics.jsonl", time.time() + 240
    while time.time() < deadline and trainer.poll() is None:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 4:
            break
        time.sleep(0.02)
    if trainer.poll() is not None:
        pytest.skip("the run finished before a second writer could try")
    beside = cli(*_argv(out), "--resume")
    rows_then = metrics.read_text().splitlines()
    trainer.send_signal(signal.SIGKILL)
    trainer.communicate(timeout=60)
    err = beside.stderr.strip()
    assert beside.returncode == 2, err
    assert len(err.splitlines()) == 1 and f"PID {trainer.pid}" in err and "Traceback" not in err, err

    resumed = cli(*_argv(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-800:]
    assert f"left by PID {trainer.pid}" in resumed.stderr
    assert not (out / LOCK_NAME).exists()
    assert reference.wait(timeout=300) == 0
    ref_rows = (ref / "metrics.jsonl").read_text().splitlines()
    assert rows_then == ref_rows[: len(rows_then)]  # the refused resume logged nothing beside the trainer
    assert _sha(out / "model.safetensors") == _sha(ref / "model.safetensors")
    assert (out / "metrics.jsonl").read_text() == (ref / "metrics.jsonl").read_text()


def test_a_study_resume_never_replaces_a_single_runs_results(tmp_path):
    run = tmp_path / "run"
    assert cli("arithmetic", "train", "--preset", "columns", "--max-int", "9", "--epochs", "1", "--hidden", "8",
               "--no-progress", "--out", str(run)).returncode == 0
    before = {p.name: _sha(p) for p in run.iterdir() if p.is_file()}
    proc = cli("run", "--profile", "test", "--resume", "--out", str(run))
    assert proc.returncode == 2 and "holds a single run, not a study" in proc.stderr, proc.stderr[-800:]
    assert {p.name: _sha(p) for p in run.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("gap", [0.0, 0.05, 0.2], ids=["together", "50ms", "200ms"])
def test_a_second_ctrl_c_during_shutdown_still_exits_130_and_leaves_no_temp_file(tmp_path, gap):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "latentworks", *_argv(out)], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    metrics, deadline = out / "metrics.jsonl", time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the run finished before the signals arrived")
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1].strip()
    assert proc.returncode == 130, (proc.returncode, err[-800:])
    assert "Traceback" not in err and len(err.splitlines()) <= 2, err
    assert not [p.name for p in out.rglob("*") if ".tmp" in p.name or p.name == LOCK_NAME]
