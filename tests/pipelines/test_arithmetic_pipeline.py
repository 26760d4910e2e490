"""End-to-end arithmetic runs on tiny settings: real training, held-out scoring, CLI errors, DDP."""

import json
import os
import subprocess
import sys

import pytest

from latentworks.cli import main
from latentworks.errors import LatentworksError
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import predict, train
from latentworks.recipes.arithmetic import recipe

TINY = {"data.max_int": 9, "data.train_fraction": 0.6, "train.progress": False, "model.hidden": 64}


def _cfg(task: str = "text2text", name: str = "columns", **changes):
    return recipe(name, task=task, **{**TINY, **changes})


@pytest.fixture(scope="module")
def t2t_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("t2t")
    results = train(_cfg(**{"train.epochs": 2}), out)
    return out, results


def test_tiny_text2text_learns_unseen_queries(tmp_path):
    # Two-digit operands: the units column recurs across queries, which is what lets unseen queries be answered.
    cfg = _cfg(**{"data.max_int": 29, "data.train_fraction": 0.5, "train.epochs": 30})
    results = train(cfg, tmp_path / "run")
    assert results["test"]["n"] == 900  # 1,800 queries, half held out
    assert results["test"]["exact_match"] >= 0.6
    assert results["test"]["char_accuracy"] > results["test"]["exact_match"]


def test_run_folder_layout(t2t_run):
    out, results = t2t_run
    for name in ("config.json", "results.json", "metrics.jsonl", "model.json", "model.safetensors"):
        assert (out / name).exists(), name
    assert (out / "figures" / "training_curves.png").exists()
    assert (out / "checkpoints" / "latest.json").exists()
    saved = json.loads((out / "results.json").read_text())
    assert saved["seed"] == 0 and saved["environment"]["torch"]
    assert set(saved["test"]) >= {"exact_match", "char_accuracy", "abs_error", "error_histogram"}


def test_same_seed_same_metrics(tmp_path):
    cfg = _cfg(**{"train.epochs": 2})
    a = train(cfg, tmp_path / "a")
    b = train(cfg, tmp_path / "b")
    assert a["test"] == b["test"]


def test_predict_answers_query(t2t_run, capsys):
    out, _ = t2t_run
    answer = predict(out, "3+4")  # a 2-epoch model: the answer's form is checked, not its value
    assert len(answer) == 2 and set(answer) <= set("0123456789- ")


@pytest.mark.parametrize("query, message", [
    ("12++3", "malformed|operator|query"),
    ("abc", "query"),
    ("123456+1", "long|max"),
    ("10+1", "long|max"),
    ("9+", "malformed|query"),
])
def test_bad_queries_get_one_line_errors(t2t_run, capsys, query, message):
    import re

    out, _ = t2t_run
    assert main(["arithmetic", "predict", str(out), query]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latentworks: error:") and "\n" not in err
    assert "Traceback" not in err
    assert re.search(message, err, re.I), err


def test_run_folder_of_another_task_is_refused(t2t_run, capsys, tmp_path):
    out, _ = t2t_run
    from latentworks.pipelines.arithmetic import predict as _predict

    with pytest.raises(Exception, match="text2text run, not img2text"):
        _predict(out, "1+1", task="img2text")
    (tmp_path / "model.json").write_text(json.dumps({"kind": "vae", "config": {}}))
    assert main(["arithmetic", "predict", str(tmp_path), "1+1"]) == 2
    assert "not an arithmetic run" in capsys.readouterr().err


def test_resume_finishes_to_the_same_weights(tmp_path):
    import torch
    from safetensors.torch import load_file

    cfg = _cfg(**{"train.epochs": 2})
    train(cfg, tmp_path / "full")
    from latentworks.pipelines import arithmetic as pipe
    from latentworks.training.trainer import Trainer

    original = Trainer.fit
    Trainer.fit = lambda self, resume=False, stop_after=None: original(self, resume, stop_after or 5)
    try:
        pipe.train(cfg, tmp_path / "half")
    finally:
        Trainer.fit = original
    pipe.train(cfg, tmp_path / "half", resume=True)
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "half" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_two_process_gloo_ddp_smoke(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LATENTWORKS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531",
           "-m", "latentworks", "arithmetic", "train", "--task", "text2text", "--preset", "columns", "--max-int", "9",
           "--train-fraction", "0.5", "--epochs", "2", "--hidden", "32", "--no-progress", "--device", "cpu",
           "--out", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert 0 <= results["test"]["exact_match"] <= 1
    rows = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    # 100 training queries over 2 ranks with the default batch: each rank sees half of every epoch.
    assert rows[-1]["step"] == results["train"]["steps"]


def test_attention_recipe_trains_through_the_pipeline(tmp_path):
    cfg = _cfg(name="attention", **{"data.train_fraction": 0.5, "train.steps": 4, "model.hidden": 16})
    results = train(cfg, tmp_path / "attn")
    model = load_model(tmp_path / "attn")
    assert type(model).__name__ == "TextToText" and model.config.decoder == "attention"
    assert model.config.values == "inputs" and model.config.hidden == 16  # the recipe, with the override
    assert results["test"]["n"] == 100  # the held-out half of the 200 queries
    assert results["train"]["steps"] == 4


def test_a_recipe_the_task_lacks_is_a_one_line_error(capsys):
    with pytest.raises(LatentworksError, match="'attention' is not a img2text recipe"):
        _cfg(task="img2text", name="attention")
    assert main(["arithmetic", "train", "--task", "img2text", "--preset", "attention", "--out", "x"]) == 2
    assert "not a img2text recipe" in capsys.readouterr().err


def test_answers_only_image_run_reports_how_its_invented_symbols_read_digits(tmp_path):
    cfg = _cfg("img2text", "default", supervision="answers",
               **{"data.data_dir": "embedded", "train.steps": 4, "train.batch_size": 8, "model.hidden": 16})
    assert (cfg.recipe, cfg.supervision) == ("glyph-answers", "answers")
    results = train(cfg, tmp_path / "run")
    reading = results["test"]["glyph_reading"]
    assert reading["n"] == 500  # half of the embedded sample's 1,000 labelled test digits; the other half names
    assert 0 <= reading["accuracy"] <= 1 and 0 <= reading["centroid_accuracy"] <= 1
    assert 1 <= reading["digits_named"] <= reading["classes_used"] <= 16
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["recipe"], saved["supervision"]) == ("glyph-answers", "answers")
    assert len(predict(tmp_path / "run", "3+4")) == 2


def test_a_run_pinned_to_one_thread_starts_from_the_same_weights_whatever_the_process_ran_on(tmp_path):
    """The course model's orthogonal initialiser (a QR) gives other bits on two threads than on one, so the run's
    thread count must be set before its model is built, not when training starts."""
    import torch
    from safetensors.torch import load_file

    cfg = _cfg(name="course", **{"train.epochs": 1, "train.threads": 1})
    before = torch.get_num_threads()
    weights = []
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            train(cfg, tmp_path / f"from-{threads}")
            weights.append(load_file(str(tmp_path / f"from-{threads}" / "model.safetensors")))
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
