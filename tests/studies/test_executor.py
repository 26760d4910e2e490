"""Studies on Ray: the test profile on a local Ray cluster with 2 workers gives the local executor's numbers, and a
worker killed in the middle of a run is retried from the run's last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from latentworks.errors import LatentworksError
from latentworks.recipes.arithmetic import recipe
from latentworks.studies.executor import LocalExecutor, estimate, job_for, make_executor, run_job

ENV = {**os.environ, "LATENTWORKS_OFFLINE": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
TIMINGS = ("seconds", "chars_per_sec", "eval_seconds", "train_seconds", "elapsed", "examples_per_sec", "dir")


def flat(tree, prefix=""):
    out = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(flat(v, f"{prefix}.{k}" if prefix else k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.update(flat(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = tree
    return out


def _metrics(study: Path) -> dict:
    got = flat(json.loads((study / "results.json").read_text())["studies"])
    return {k: v for k, v in got.items() if not any(t in k for t in TIMINGS)}


def test_the_local_executor_is_the_default_and_takes_workers():
    assert isinstance(make_executor(), LocalExecutor) and make_executor().workers >= 1
    assert make_executor("local", workers=3).workers == 3
    with pytest.raises(LatentworksError, match="needs --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(LatentworksError, match="must be at least 1"):
        make_executor("local", workers=0)
    with pytest.raises(LatentworksError, match="is not a choice"):
        make_executor("slurm")
    assert estimate({"a": 10, "b": 6, "c": 5, "d": 1}, 2) == 11 and estimate({"a": 10, "b": 6}, 1) == 16


def test_a_job_s_cost_is_its_steps_at_its_kind_s_registered_cost(tmp_path):
    """The run order and the ETA's first guess come from the cost hint each model registers, not a table here."""
    from latentworks import registry

    costs = {}
    for task, name in (("text2text", "columns"), ("text2img", "pen")):
        cfg = recipe(name, task=task, **{"train.steps": 100})
        kind = registry.kind(cfg.kind)
        costs[name] = job_for(name, cfg, tmp_path / name).cost
        assert costs[name] == pytest.approx(100 * kind.step_seconds + kind.scoring_seconds)
    assert costs["pen"] > costs["columns"]  # drawing and reading back answers costs more than writing them


def test_a_run_trained_before_a_new_field_existed_is_reused(tmp_path):
    """A field added to latentworks later reads as its default, which is what the older run had; a field that
    really differs still makes the run a different one."""
    cfg = recipe("columns", task="text2text", **{"data.max_int": 9, "train.epochs": 1, "model.hidden": 8,
                                              "train.progress": False})
    job = job_for("old", cfg, tmp_path / "run")
    first = run_job(job, progress=False)
    results_path = tmp_path / "run" / "results.json"
    saved = json.loads(results_path.read_text())
    del saved["config"]["model"]["pad_columns"]  # as written by a latentworks without that field
    results_path.write_text(json.dumps(saved))
    assert run_job(job, progress=False)["finished_at"] == first["finished_at"]  # reused, not retrained

    from latentworks.resume import finished_results
    from latentworks.studies.executor import RESUME_FREE

    assert finished_results(tmp_path / "run", job.config, RESUME_FREE) is not None
    changed = job_for("old", recipe("columns", task="text2text", **{"data.max_int": 9, "train.epochs": 1,
                                                                 "model.hidden": 9}), tmp_path / "run")
    assert finished_results(tmp_path / "run", changed.config, RESUME_FREE) is None


ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.mark.slow
def test_a_study_on_ray_gives_the_local_numbers(serial_study, tmp_path):
    ray_study = tmp_path / "ray"
    cmd = [sys.executable, "-m", "latentworks", "run", "--profile", "test", "--data-dir", "embedded", "--out",
           str(ray_study), "--no-progress", "--executor", "ray", "--workers", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=420)
    assert proc.returncode == 0, proc.stderr[-2000:]
    local = _metrics(serial_study)
    assert local and local == _metrics(ray_study)
    summary = json.loads((ray_study / "results.json").read_text())
    assert summary["executor"] == "RayExecutor" and summary["workers"] == 2
    weights = sorted(ray_study.rglob("model.safetensors"))
    assert len(weights) >= 10
    for path in weights:
        twin = serial_study / path.relative_to(ray_study)
        assert twin.read_bytes() == path.read_bytes(), path  # the same weights, bit for bit


def _ray_workers(job: str) -> list[int]:
    # By the task's name, so that no other Ray cluster on the machine is touched.
    out = subprocess.run(["pgrep", "-f", f"ray::latentworks:{job}"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
def test_a_killed_worker_is_retried_from_the_last_checkpoint(tmp_path):
    cfg = recipe("columns", task="text2text", **{"data.max_int": 29, "train.epochs": 8, "model.hidden": 32,
                                              "train.progress": False, "train.checkpoint_every": 20})
    killed: list[int] = []

    def kill_once_a_checkpoint_exists():
        deadline = time.time() + 180
        while time.time() < deadline and not killed:
            pointer = tmp_path / "ray" / "checkpoints" / "latest.json"
            workers = _ray_workers("t2t-killed")
            if workers and pointer.is_file() and json.loads(pointer.read_text())["step"] >= 40:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_once_a_checkpoint_exists)
    watcher.start()
    results = make_executor("ray", workers=1).run([job_for("t2t-killed", cfg, tmp_path / "ray")], progress=False)
    watcher.join()
    assert killed, "no worker was killed: the run finished first"
    got = results[str(tmp_path / "ray")]
    assert got["train"]["resumed_at_step"] >= 40  # retried from its checkpoint, not from step 0
    reference = run_job(job_for("t2t", cfg, tmp_path / "local"))
    assert got["test"] == reference["test"] and reference["train"]["resumed_at_step"] is None
    weights = [(tmp_path / name / "model.safetensors").read_bytes() for name in ("ray", "local")]
    assert weights[0] == weights[1]


@pytest.mark.slow
def test_sigterm_stops_a_ray_study_cleanly_and_resume_finishes_it(tmp_path):
    """Ray's driver aborts on SIGTERM by itself (a C++ stack, exit 134); latentworks takes the signal back."""
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "latentworks", "run", "--profile", "test", "--only", "arithmetic", "--out", str(out),
           "--no-progress", "--data-dir", "embedded"]
    proc = subprocess.Popen([*cmd, "--executor", "ray", "--workers", "2"], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and not _ray_workers("text2text"):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-1500:]
    assert "latentworks: interrupted" in err and "Traceback" not in err and "SIGTERM received" not in err
    assert not (out / "results.json").exists()
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=ENV, timeout=420)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    assert len(json.loads((out / "results.json").read_text())["studies"]["arithmetic"]["metrics"]) > 0
