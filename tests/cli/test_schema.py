"""The packaged option schemas: current with the code, and enough to answer --help and typos before torch loads."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from latentworks.cli import main, schema

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import contextlib, io, json, sys
from latentworks.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    code = main(sys.argv[1:])
print(code, ",".join(sorted({"torch", "matplotlib"} & set(sys.modules))) or "-", json.dumps(out.getvalue()))
"""


def _probe(*argv: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code, heavy, text = done.stdout.rstrip("\n").split(" ", 2)
    return int(code), heavy, json.loads(text)


@pytest.mark.slow
def test_the_packaged_schemas_are_what_the_code_gives():
    # the hash seed the script would re-execute itself under (one interpreter start, not two)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_cli_schema.py"), "--check"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("command", ["arithmetic train", "gen train", "charrnn train", "arithmetic sweep",
                                     "arithmetic predict", "gen sample", "charrnn sample", "run", "download"])
def test_help_answers_without_torch(command):
    code, heavy, text = _probe(*command.split(), "--help")
    assert code == 0 and heavy == "-", f"latentworks {command} --help imported {heavy}"
    assert text.startswith(f"usage: latentworks {command} [OPTIONS]")
    assert "``" not in text and "options options" not in text and "(default: None)" not in text
    assert not any(line.count("(default:") > 1 for line in text.splitlines())


def test_a_typo_is_answered_without_torch_and_named():
    code, heavy, text = _probe("arithmetic", "train", "--epoch", "3")
    assert (code, heavy) == (2, "-")
    assert text.strip() == "latentworks: error: unknown option --epoch; did you mean --epochs?"
    code, heavy, text = _probe("gen", "train", "--model", "vae", "--optimizer", "adamx", "--out", "x")
    assert (code, heavy) == (2, "-") and "--optimizer 'adamx' is not a choice; use one of adam," in text


def test_help_follows_the_selectors():
    def page(*argv):
        return " ".join(_probe(*argv)[2].split())  # the page's words, whatever the terminal's width

    vae, gan = page("gen", "train", "--model", "vae", "--help"), page("gen", "train", "--model", "dcgan", "--help")
    assert "--beta FLOAT weight of the KL term" in vae and "--beta FLOAT" not in gan
    t2i = page("arithmetic", "train", "--task", "text2img", "--help")
    assert "--reader {None}|STR text→image: folder of a trained digit reader (default: the packaged one) " in t2i
    assert "--out DIR run folder to write (required, unless --print-config)" in t2i


def test_the_real_parse_renders_the_same_help(tmp_path, capsys):
    """--config takes the real parse (its defaults come from the file): the page is the same renderer's."""
    code, _, fast = _probe("arithmetic", "train", "--preset", "columns", "--help")
    assert code == 0
    assert main(["arithmetic", "train", "--preset", "columns", "--print-config"]) == 0
    config = tmp_path / "config.json"
    config.write_text(capsys.readouterr().out)
    with pytest.raises(SystemExit) as done:
        main(["arithmetic", "train", "--config", str(config), "--help"])
    assert done.value.code == 0
    slow = capsys.readouterr().out
    assert slow.split() == fast.split()  # word for word (the widths of two terminals may differ)


def test_unknown_flags_elsewhere_get_a_suggestion_too(capsys):
    assert main(["arithmetic", "train", "--ops", "+-*", "--epoch", "2", "--out", "x"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the line saying which recipe '*' picked
    assert last == "latentworks: error: unknown option --epoch; did you mean --epochs?"


def test_selection_and_walk():
    s = schema.load("arithmetic-train")
    assert schema.selection(s, ["--task=img2text", "--recipe", "course"]) == "0=img2text;1=course"
    assert s["keys"]["0=img2text;1=course"] != s["keys"][""]
    assert json.dumps(s)  # plain data
    with pytest.raises(schema.LatentworksError, match="did you mean --max-int"):
        schema.answer("arithmetic-train", ["--betas", "0.9", "0.99", "--max-itn", "9"], "p")
    # values are skipped as the parser takes them: a negative number, a value that looks like a choice
    assert schema.answer("arithmetic-train", ["--min-lr-ratio", "-1", "--betas", "0.9", "0.99"], "p") is False
