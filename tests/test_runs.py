"""Run-folder helpers: which folders hold a checkpoint, and when a finished run may be reused."""

from dataclasses import dataclass

from latentworks.runs import RunDir, finished_results, has_checkpoint


@dataclass
class Config:
    lr: float = 0.1
    epochs: int = 2
    progress: bool = True


def test_finished_results_only_for_the_same_settings(tmp_path):
    run = RunDir(tmp_path / "run")
    assert finished_results(run.root, "demo", Config()) is None  # nothing written yet
    run.write_results(kind="demo", config={"demo": Config()}, metrics={"score": 0.5}, seed=0)
    assert finished_results(run.root, "demo", Config())["score"] == 0.5
    assert finished_results(run.root, "demo", Config(progress=False))["score"] == 0.5  # only prints differ
    assert finished_results(run.root, "demo", Config(epochs=3)) is None
    assert finished_results(run.root, "other", Config()) is None


def test_has_checkpoint_knows_both_loops(tmp_path):
    assert not has_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.json").write_text("{}")  # the NumPy loop's
    assert has_checkpoint(tmp_path)
