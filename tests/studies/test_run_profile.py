"""`latentworks run` end to end on the test-sized profile: it must produce the report and results."""

import json
import shutil
from pathlib import Path

import pytest

from latentworks.cli import main


def _args(out) -> list[str]:
    return ["run", "--profile", "test", "--only", "arithmetic", "--out", str(out), "--no-progress", "--data-dir",
            "embedded"]


@pytest.fixture(scope="module")
def arithmetic_study(serial_study, tmp_path_factory):
    """A copy of the test profile's study for the two tests that start from a fresh one: the first reads it, the
    resume test stops one of its arithmetic runs and resumes it to what it was."""
    return Path(shutil.copytree(serial_study, tmp_path_factory.mktemp("profile") / "study"))


def test_run_test_profile_arithmetic_writes_report(arithmetic_study, capsys):
    out = arithmetic_study
    page = (out / "report.html").read_text()
    assert "Arithmetic" in page and "exact match" in page
    assert page.count("data:image/png;base64,") >= 4
    results = json.loads((out / "results.json").read_text())
    metrics = results["studies"]["arithmetic"]["metrics"]
    assert any(key.startswith("text2text/columns") for key in metrics)
    runs = {key: m for key, m in metrics.items() if "/" in key}  # task/recipe/fraction
    assert all(0 <= m["exact_match"] <= 1 for m in runs.values() if m["exact_match"] is not None)
    curves = metrics["length_generalisation"]  # the five text→text runs on 1-, 2- and 3-digit operands
    assert len(curves) == 5 and all(set(c) == {"1", "2", "3"} and all(0 <= v <= 1 for v in c.values())
                                    for c in curves.values())
    assert "Length generalisation" in page
    # the records: every recipe's priors, MNIST-addition beside the published systems (no run of ours here)
    assert "Arithmetic: priors and records" in page and "exact inference" in page and "DPrL 80.8 %" in page
    assert "not run" in page


def test_unknown_study_is_a_one_line_error(tmp_path, capsys):
    assert main(["run", "--profile", "test", "--only", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown study" in err and err.count("\n") == 1


def test_resume_reuses_finished_runs_and_finishes_a_stopped_one(arithmetic_study, capsys):
    out = arithmetic_study
    args = _args(out)
    first = json.loads((out / "results.json").read_text())["studies"]["arithmetic"]["metrics"]
    assert json.loads((out / "results.json").read_text())["reused_runs"] == 0
    assert " in all (" in (out / "report.html").read_text()
    runs = sorted(p.parent for p in (out / "arithmetic").rglob("results.json"))
    assert len(runs) >= 3
    stamps = {p: (p / "results.json").read_text() for p in runs}

    assert main([*args, "--resume"]) == 0  # everything finished: reused as it is, nothing retrained
    assert {p: (p / "results.json").read_text() for p in runs} == stamps
    summary = json.loads((out / "results.json").read_text())
    assert summary["studies"]["arithmetic"]["metrics"] == first
    assert summary["reused_runs"] == summary["runs"] >= 3  # and the page says the time was this invocation's
    assert f"reused {summary['runs']} of its {summary['runs']} runs" in (out / "report.html").read_text()

    stopped = out / "arithmetic" / "text2text-course"
    (stopped / "results.json").unlink()  # as if stopped after its last checkpoint, before it was scored
    latest = json.loads((stopped / "checkpoints" / "latest.json").read_text())
    saved_seconds = json.loads((stopped / "checkpoints" / latest["meta"]).read_text())["train_seconds"]
    assert main([*args, "--resume"]) == 0
    resumed = json.loads((stopped / "results.json").read_text())
    before = json.loads(stamps[stopped])
    assert resumed["test"] == before["test"] and resumed["train"]["steps"] == before["train"]["steps"]
    assert resumed["train"]["seconds"] >= round(saved_seconds, 2) > 0  # the earlier session still counts
    assert {p: (p / "results.json").read_text() for p in runs if p != stopped} == {
        p: s for p, s in stamps.items() if p != stopped}


def test_a_resume_that_would_change_a_run_is_refused_before_any_run_starts(serial_study, tmp_path, capsys):
    out = Path(shutil.copytree(serial_study, tmp_path / "study"))
    args = _args(out)
    first = min((out / "arithmetic" / "sweep-columns").glob("text2text-columns-*"))
    shutil.rmtree(first)  # a run the resume would train afresh, planned before the changed one
    changed = out / "arithmetic" / "text2text-course"  # as if trained before its recipe's batch size changed
    for name in ("config.json", "results.json"):
        tree = json.loads((changed / name).read_text())
        (tree.get("config") or tree)["train"]["batch_size"] += 1
        tree.pop("checksum", None)  # a run written before checksums, not one edited since
        (changed / name).write_text(json.dumps(tree))
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "text2text-course was trained with --batch-size" in err
    assert not first.exists()  # refused before anything started
