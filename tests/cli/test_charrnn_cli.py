"""``latentworks charrnn`` end to end on a tiny corpus: both backends, sampling, one-line errors, study."""

import json
import os
import subprocess
import sys

import pytest

from latentworks.cli import main

TEXT = "Harry said the quick brown fox jumps over the lazy dog. Hermione laughed at Harry.\n" * 40
FAST = ["--hidden", "24", "--seq-len", "12", "--batch", "4", "--steps", "20", "--eval-every", "10",
        "--sample-every", "20", "--checkpoint-every", "10", "--lr", "0.01", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "tiny.txt"
    path.write_text(TEXT)
    return path


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_train_then_sample(corpus, tmp_path, capsys, backend):
    out = tmp_path / "run"
    train = ["charrnn", "train", "--text", str(corpus), "--backend", backend, *FAST, "--out", str(out)]
    assert main(train) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["val_loss"] > 0 and line["chars_per_sec"] > 0
    greedy_args = ["charrnn", "sample", str(out), "--prime", "Harr", "--temperature", "0", "--length", "30"]
    assert main(greedy_args) == 0
    greedy = capsys.readouterr().out
    assert greedy.startswith("Harr") and len(greedy.rstrip("\n")) == 34
    target = tmp_path / "gen.txt"
    args = ["charrnn", "sample", str(out), "--prime", "the ", "--length", "1000", "--top-k", "3",
            "--seed", "4"]
    assert main([*args, "-o", str(target)]) == 0
    assert len(target.read_text()) == 1004
    assert main(args) == 0 and capsys.readouterr().out.rstrip("\n") == target.read_text()


def test_resume_continues(corpus, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["charrnn", "train", "--text", str(corpus), *FAST, "--out", out]) == 0
    more = [*FAST, "--steps", "30"]  # the last --steps wins
    assert main(["charrnn", "train", "--text", str(corpus), *more, "--out", out, "--resume"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 30


def _error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("latentworks: error:"), err
    assert match in err, err


@pytest.mark.parametrize("content, match", [
    (b"", "is empty"),
    (b"\x00\x01\x02binary\x00" * 50, "binary"),
    (b"short text", "too short"),
    (b"\xff\xfe\xfa" * 100, "not valid UTF-8"),
])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_bad_corpus_is_one_line_error(tmp_path, capsys, content, match, backend):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    _error(capsys, ["charrnn", "train", "--text", str(path), "--backend", backend, *FAST, "--out",
                    str(tmp_path / "run")], match)


def test_missing_file_and_bad_options(corpus, tmp_path, capsys):
    train = ["charrnn", "train", "--out", str(tmp_path / "r"), "--text"]
    _error(capsys, [*train, str(tmp_path / "nope.txt")], "does not exist")
    _error(capsys, [*train, str(corpus), "--backend", "torch", "--model", "rnn"], "option of the numpy backend")
    _error(capsys, [*train, str(corpus), "--primes", "Zz", *FAST], "'Z'")
    _error(capsys, ["charrnn", "sample", str(tmp_path)], "no trained char-RNN")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_unknown_prime_character(corpus, tmp_path, capsys, backend):
    out = str(tmp_path / "run")
    assert main(["charrnn", "train", "--text", str(corpus), "--backend", backend, *FAST, "--out", out]) == 0
    capsys.readouterr()
    _error(capsys, ["charrnn", "sample", out, "--prime", "Qu€"], "'Q', '€'")
    _error(capsys, ["charrnn", "sample", out, "--temperature", "-1"], "temperature")


def test_study_test_profile_writes_report_section(serial_study):
    html = (serial_study / "report.html").read_text()
    assert "Character RNN" in html and "optimizer" in html and "temperature" in html and "grid" in html
    summary = json.loads((serial_study / "results.json").read_text())
    assert summary["studies"]["charrnn"]["metrics"]["numpy main"]["val_loss"] > 0


@pytest.mark.slow
def test_two_process_gloo_ddp_torch_backend(corpus, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LATENTWORKS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29547",
           "-m", "latentworks", "charrnn", "train", "--text", str(corpus), "--backend", "torch", *FAST,
           "--device", "cpu", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2 and results["steps"] == 20
    assert results["chars_seen"] == 20 * 4 * 12 * 2  # each rank draws its own batch of windows per step
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval/val_loss" in r] == [10, 20]
