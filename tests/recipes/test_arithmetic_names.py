"""Arithmetic recipes are named for what they are: ``default`` is each task's measured best, the old names still
work for one release with one line saying what they now mean, and a recipe that cannot do what was asked says which
one can, in one line."""

import json

import pytest

from latentworks.cli import main
from latentworks.config import to_dict
from latentworks.recipes import arithmetic


def _print_config(capsys, *argv: str) -> tuple[dict, str]:
    assert main(["arithmetic", "train", *argv, "--print-config"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


@pytest.mark.parametrize("task, old", sorted(arithmetic.OLD_NAMES))
def test_an_old_name_trains_its_new_recipe_and_says_so_in_one_line(task, old, capsys):
    new = arithmetic.OLD_NAMES[(task, old)]
    config, err = _print_config(capsys, "--task", task, "--preset", old)
    assert err.strip() == f"latentworks: --preset {old} is now '{new}' ({arithmetic.TASK_NAMES[task]}); old names " \
                          "work until 0.4"
    same, quiet = _print_config(capsys, "--task", task, "--preset", new)
    assert quiet == "" and config == same and config["recipe"] == new  # the same run, only the name is new


@pytest.mark.parametrize("argv, means", [
    (["--preset", "best", "--ops", "+-*"], "'columns-multiply' (text→text with '*')"),
    (["--ops", "*"], "'long-multiply', the measured best for text→text with '*' alone"),
    (["--ops", "+*"], "'columns-multiply', the measured best for text→text with '*'"),
    (["--task", "img2text", "--supervision", "answers"], "'glyph-answers', the measured best for image→text from "
     "answers alone"),
])
def test_what_the_ops_or_the_supervision_decide_is_printed(argv, means, capsys):
    config, err = _print_config(capsys, *argv)
    assert len(err.strip().splitlines()) == 1 and means in err and config["recipe"] == means.split("'")[1]


def test_each_task_s_default_is_its_measured_best(capsys):
    for task, best in arithmetic.DEFAULTS.items():
        config, _ = _print_config(capsys, "--task", task)
        named, _ = _print_config(capsys, "--task", task, "--preset", "default")
        assert config == named and config["recipe"] == best
    assert arithmetic.recipe(task="text2text") == arithmetic.recipe("automaton")


@pytest.mark.parametrize("argv, match", [
    (["--preset", "automaton", "--ops", "+-*"], "automaton cannot multiply; use --preset columns-multiply"),
    (["--preset", "automaton", "--ops", "×"], "automaton cannot multiply; use --preset columns-multiply"),
    (["--task", "img2text", "--preset", "glyph-columns", "--supervision", "answers"], "use --preset glyph-answers"),
    (["--preset", "columns-wide"], "'columns-wide' is not a text2text recipe; choose default, course, attention"),
])
def test_a_recipe_that_cannot_do_what_was_asked_names_the_one_that_can(argv, match, capsys, tmp_path):
    assert main(["arithmetic", "train", *argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_a_saved_config_with_an_old_name_loads_silently_as_the_new_recipe(capsys):
    for (task, old), new in arithmetic.OLD_NAMES.items():
        cfg = arithmetic.recipe(new, task=task)
        saved = {"family": "arithmetic", **to_dict(cfg), "recipe": old}  # a config.json written before 0.3
        assert arithmetic.from_json(json.loads(json.dumps(saved))) == cfg
    assert capsys.readouterr().err == ""


def test_the_help_lists_every_recipe(capsys):
    try:
        code = main(["arithmetic", "train", "--help"])
    except SystemExit as done:  # how the help ends depends on the parser
        code = done.code
    assert code == 0
    shown = " ".join(capsys.readouterr().out.split())
    for name in ["default", *arithmetic.recipe_names()]:
        assert name in shown, name
