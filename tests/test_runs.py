"""Run-folder helpers: claiming a folder, refusing a changed resume, and when a finished run may be reused."""

import json

import pytest

from latentworks.errors import LatentworksError
from latentworks.resume import check_resume, finished_results, has_checkpoint
from latentworks.runs import RunDir, claim_run_dir

CONFIG = {"family": "demo", "train": {"lr": 0.1, "epochs": 2, "progress": True}}


def _with(**train):
    return {"family": "demo", "train": {**CONFIG["train"], **train}}


def test_finished_results_only_for_the_same_settings(tmp_path):
    run = RunDir(tmp_path / "run")
    assert finished_results(run.root, CONFIG) is None  # nothing written yet
    run.write_results(kind="demo", config=CONFIG, metrics={"score": 0.5}, seed=0)
    assert finished_results(run.root, CONFIG)["score"] == 0.5
    assert finished_results(run.root, _with(progress=False), free=("train.progress",))["score"] == 0.5
    assert finished_results(run.root, _with(progress=False)) is None
    assert finished_results(run.root, _with(epochs=3), free=("train.progress",)) is None


def test_has_checkpoint_reads_the_one_format(tmp_path):
    assert not has_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest.json").write_text("{}")
    assert has_checkpoint(tmp_path)


def test_claim_refuses_a_run_without_resume_and_moves_it_aside_with_overwrite(tmp_path):
    out = tmp_path / "run"
    assert claim_run_dir(out) == out and out.is_dir()  # new: created
    (out / "model.json").write_text("{}")
    with pytest.raises(LatentworksError, match="already holds a run; pass --resume .* --overwrite"):
        claim_run_dir(out)
    with pytest.raises(LatentworksError, match="no run to resume"):
        claim_run_dir(out, resume=True)
    claim_run_dir(out, overwrite=True)
    assert (tmp_path / "run.old-1" / "model.json").is_file()  # moved, never deleted
    assert [p.name for p in out.iterdir()] == [".lock"]  # the new folder: empty but for this process's lock
    for bad, match in (("", "empty"), (str(tmp_path / "run.old-1" / "model.json"), "is a file")):
        with pytest.raises(LatentworksError, match=match):
            claim_run_dir(bad)


def test_check_resume_names_every_changed_setting(tmp_path):
    RunDir(tmp_path).write_config(CONFIG)
    check_resume(tmp_path, _with(progress=False), free=("train.progress",))
    with pytest.raises(LatentworksError, match=r"trained with --epochs 2, not 3; --lr 0.1, not 0.2"):
        check_resume(tmp_path, _with(epochs=3, lr=0.2))
    with pytest.raises(LatentworksError, match="holds a demo run, not a other one"):
        check_resume(tmp_path, {**CONFIG, "family": "other"})


def test_a_resume_accepts_a_field_added_since_the_run_was_written_but_not_a_real_change(tmp_path):
    from latentworks.config import to_dict
    from latentworks.recipes.arithmetic import recipe
    from latentworks.resume import check_resume
    from latentworks.runs import write_json

    cfg = {"family": "arithmetic", **to_dict(recipe("columns", task="text2text"))}
    older = json.loads(json.dumps(cfg))
    del older["model"]["pad_columns"]  # written by a latentworks without that field
    write_json(tmp_path / "config.json", older)
    check_resume(tmp_path, cfg)  # the missing field is its default: nothing changed
    changed = json.loads(json.dumps(cfg))
    changed["model"]["pad_columns"] = 4
    with pytest.raises(LatentworksError, match="--pad-columns None, not 4|--pad-columns 0, not 4"):
        check_resume(tmp_path, changed)
