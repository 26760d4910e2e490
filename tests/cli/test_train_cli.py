"""The train commands share one flow: --print-config / --config reproduce a run, bad values stop before any work,
a resume that changes the data, the split or the model is refused, and no run is replaced silently."""

import json

import pytest
from safetensors.torch import load_file

from latentworks.cli import main
from latentworks.runs import read_json

TEXT = "Harry said the quick brown fox jumps over the lazy dog. Hermione laughed at Harry.\n" * 30

COMMANDS = {
    "gen": ["gen", "train", "--model", "vae", "--preset", "test", "--data-dir", "embedded", "--limit", "96",
            "--epochs", "2", "--latent-dim", "4", "--filters", "4", "--max-filters", "8", "--eval-images", "32",
            "--snapshot-grid", "2", "--no-progress"],
    "arithmetic": ["arithmetic", "train", "--task", "text2text", "--preset", "columns", "--max-int", "9",
                   "--train-fraction", "0.5", "--epochs", "2", "--hidden", "16", "--no-progress"],
    "charrnn": ["charrnn", "train", "--backend", "numpy", "--steps", "12", "--hidden", "16", "--seq-len", "12",
                "--batch", "4", "--eval-every", "6", "--generate-length", "20", "--no-progress"],
}


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return str(path)


def _argv(family, corpus):
    return [*COMMANDS[family], *(["--text", corpus] if family == "charrnn" else [])]


def _one_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("family", list(COMMANDS))
def test_a_printed_config_reproduces_the_run(family, corpus, tmp_path, capsys):
    argv = _argv(family, corpus)
    assert main([*argv, "--print-config"]) == 0
    printed = capsys.readouterr().out
    config = json.loads(printed)
    assert config["family"] == {"gen": "generative"}.get(family, family) and not (tmp_path / "a").exists()
    (tmp_path / "c.json").write_text(printed)
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([COMMANDS[family][0], "train", "--config", str(tmp_path / "c.json"), "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    a, b = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("a", "b"))
    assert a["config"] == b["config"] == read_json(tmp_path / "a" / "config.json")  # checksum checked, left out
    wa, wb = (load_file(str(tmp_path / n / "model.safetensors")) for n in ("a", "b"))
    assert wa.keys() == wb.keys() and all(wa[k].equal(wb[k]) for k in wa)
    # A run's own config.json is a config file too.
    assert main([COMMANDS[family][0], "train", "--config", str(tmp_path / "a" / "config.json"), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out) == config


@pytest.mark.parametrize("flag, value, match", [
    ("--epochs", "0", "--epochs 0: must be a whole number of at least 1"),
    ("--batch-size", "0", "--batch-size 0: must be at least 1"),
    ("--lr", "nan", "--lr nan: must be a positive finite number"),
    ("--lr", "-1", "--lr -1.0: must be a positive finite number"),
])
@pytest.mark.parametrize("family", ["gen", "arithmetic"])
def test_bad_training_values_stop_before_any_work(family, flag, value, match, corpus, tmp_path, capsys):
    _one_error(capsys, [*_argv(family, corpus), flag, value, "--out", str(tmp_path / "run")], match)
    assert not (tmp_path / "run").exists()


def test_resume_refuses_a_changed_split_or_model_and_a_run_is_never_replaced(corpus, tmp_path, capsys):
    argv = [*_argv("arithmetic", corpus), "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    _one_error(capsys, [*argv, "--resume", "--train-fraction", "0.3"], "trained with --train-fraction 0.5, not 0.3")
    _one_error(capsys, [*argv, "--resume", "--hidden", "32"], "trained with --hidden 16, not 32")
    _one_error(capsys, [*argv, "--resume", "--task", "img2text"], "holds a 'text2text' run, not 'img2text'")
    _one_error(capsys, argv, "already holds a run; pass --resume")
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    assert main([*argv, "--resume", "--no-progress"]) == 0  # logging may change; the finished run is reopened
    assert main([*argv, "--overwrite"]) == 0
    assert (tmp_path / "run.old-1" / "model.safetensors").read_bytes() == before


def test_config_and_selectors_must_agree(corpus, tmp_path, capsys):
    assert main([*_argv("gen", corpus), "--print-config"]) == 0
    (tmp_path / "c.json").write_text(capsys.readouterr().out)
    _one_error(capsys, ["gen", "train", "--config", str(tmp_path / "c.json"), "--model", "dcgan", "--out", "x"],
               "--model dcgan contradicts --config")
    (tmp_path / "bad.json").write_text('{"family": "generative", "kind": "vae", "train": {"epochs": "two"}}')
    _one_error(capsys, ["gen", "train", "--config", str(tmp_path / "bad.json"), "--out", "x"],
               "config.train.epochs: expected an integer")


@pytest.mark.parametrize("argv, recipe, supervision", [
    ([], "automaton", None),
    (["--ops", "+-*"], "columns-multiply", None),
    (["--preset", "best", "--ops", "x"], "columns-multiply", None),
    (["--preset", "columns-long", "--ops", "*"], "columns-long", None),
    (["--task", "img2text", "--supervision", "answers"], "glyph-answers", "answers"),
    (["--task", "img2text", "--preset", "best", "--supervision", "answers"], "glyph-answers", "answers"),
    (["--task", "img2text"], "glyph-columns", "query"),
    (["--task", "img2text", "--preset", "course"], "course", "answers"),
    (["--task", "text2img"], "pen", None),
])
def test_default_stands_for_the_recipe_the_ops_and_supervision_need(argv, recipe, supervision, capsys):
    assert main(["arithmetic", "train", *argv, "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["recipe"], config["supervision"]) == (recipe, supervision)


@pytest.mark.parametrize("argv, match", [
    (["--task", "img2text", "--preset", "course", "--supervision", "query"], "contradicts the course recipe"),
    (["--task", "img2text", "--preset", "glyph-columns", "--supervision", "answers"], "use --preset glyph-answers"),
    (["--supervision", "answers"], "only applies to img2text runs"),
    (["--task", "img2text", "--supervision", "labels"], "--supervision"),
])
def test_a_supervision_the_run_cannot_have_is_one_line(argv, match, capsys, tmp_path):
    _one_error(capsys, ["arithmetic", "train", *argv, "--out", str(tmp_path / "r")], match)
