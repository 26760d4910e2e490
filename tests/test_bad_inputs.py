"""A catalogue of bad inputs across every command, run as a user would: ``python -m latentworks`` in a process.

For each case: exit code 2, at most two lines on stderr, no traceback, the expected words in the message, and
every file that existed before is unchanged (hashed before and after). The world the cases run in holds finished
tiny runs of each family, damaged copies of them, odd files, and (as root) a read-only and a full file system.
Interruptions (SIGINT, SIGTERM, SIGKILL) followed by --resume are checked against the uninterrupted run at the end.

The cases run in a pool of long-lived workers (``tests/cli_worker.py``: torch imported once per worker, each command
run as ``python -m latentworks`` runs it, the process's state put back after it). A fresh process is kept where the
process itself is what is tested: the holders of the locked folders, and the interrupted runs (signals sent to them,
SIGKILL) with the runs they are compared against.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("cli_worker", Path(__file__).with_name("cli_worker.py"))
cli_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli_worker)

ENV = {**os.environ, "LATENTWORKS_OFFLINE": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1",
       "LATENTWORKS_NO_DEV_DATA": "1"}
TINY_GEN = ["--preset", "test", "--data-dir", "embedded", "--limit", "64", "--latent-dim", "4", "--filters", "4",
            "--max-filters", "8", "--eval-images", "16", "--snapshot-grid", "2", "--no-progress"]
TINY_T2T = ["--preset", "columns", "--max-int", "9", "--epochs", "1", "--hidden", "16", "--no-progress"]
TEXT = "the quick brown fox jumps over the lazy dog. Harry laughed. " * 40

# (id, argv with {placeholders} for world paths, words the one-line error must contain)
CASES: list[tuple[str, list[str], str]] = [
    # latentworks run / report / download
    ("run-profile", ["run", "--profile", "huge"], "'huge' is not a choice"),
    ("run-only", ["run", "--profile", "test", "--only", "nope", "--out", "{new}"], "unknown study"),
    ("run-data-dir", ["run", "--data-dir", "/nonexistent", "--out", "{new}"], "is not a folder"),
    ("run-out-empty", ["run", "--out", ""], "is empty"),
    ("run-out-file", ["run", "--out", "{file}"], "is a file"),
    ("run-resume-nothing", ["run", "--resume", "--out", "{new}"], "no study to resume"),
    ("run-over-a-run", ["run", "--profile", "test", "--out", "{vae}"], "already holds a run"),
    ("run-seed", ["run", "--seed", "abc"], "--seed"),
    ("report-missing", ["report", "{world}/nope"], "not found"),
    ("report-over-results", ["report", "{vae}", "-o", "{vae}/results.json"], "inside the run or study folder"),
    ("report-out-folder", ["report", "{vae}", "-o", "{world}"], "is a folder"),
    ("report-non-utf8", ["report", "{latin_results}"], "not UTF-8"),
    ("download-what", ["download", "cifar"], "'cifar' is not a choice"),
    ("unknown-command", ["trian"], "unknown command"),
    ("unknown-verb", ["gen", "fly"], "unknown verb"),
    # arithmetic train
    ("t2t-task", ["arithmetic", "train", "--task", "foo", "--out", "{new}"], "is not a choice"),
    ("t2t-preset", ["arithmetic", "train", "--preset", "foo", "--out", "{new}"], "not a text2text recipe"),
    ("t2t-fraction-high", ["arithmetic", "train", "--train-fraction", "1.5", "--out", "{new}"], "strictly between"),
    ("t2t-fraction-zero", ["arithmetic", "train", "--train-fraction", "0", "--out", "{new}"], "strictly between"),
    ("t2t-max-int", ["arithmetic", "train", "--max-int", "0", "--out", "{new}"], "--max-int 0"),
    ("t2t-ops", ["arithmetic", "train", "--ops", "/", "--out", "{new}"], "unsupported operator"),
    ("t2t-ops-twice", ["arithmetic", "train", "--ops", "++", "--out", "{new}"], "repeats an operator"),
    ("t2t-epochs", ["arithmetic", "train", "--epochs", "-3", "--out", "{new}"], "--epochs -3"),
    ("t2t-lr", ["arithmetic", "train", "--lr", "0", "--out", "{new}"], "--lr 0.0"),
    ("t2t-hidden", ["arithmetic", "train", "--hidden", "0", "--out", "{new}"], "--hidden 0"),
    ("t2t-layers", ["arithmetic", "train", "--preset", "columns", "--encoder-layers", "5", "--out", "{new}"],
     "must be 1, 2 or 3"),
    ("t2t-data-dir", ["arithmetic", "train", "--data-dir", "/nonexistent", "--out", "{new}"], "is not a folder"),
    ("t2t-foreign-option", ["arithmetic", "train", "--encoder", "cnn", "--out", "{new}"], "option of img2text"),
    ("t2t-threads", ["arithmetic", "train", "--threads", "0", "--out", "{new}"], "--threads 0"),
    ("t2t-device", ["arithmetic", "train", "--device", "tpu", "--out", "{new}"], "must be auto, cpu, cuda"),
    ("t2t-cuda", ["arithmetic", "train", "--device", "cuda", "--out", "{new}"], "CUDA is not available"),
    ("t2t-schedule", ["arithmetic", "train", "--schedule", "warm", "--out", "{new}"], "is not a choice"),
    ("t2t-no-out", ["arithmetic", "train"], "--out is required"),
    ("t2t-over-a-run", ["arithmetic", "train", *TINY_T2T, "--out", "{t2t}"], "already holds a run"),
    ("t2t-resume-nothing", ["arithmetic", "train", "--resume", "--out", "{new}"], "no run to resume"),
    ("t2t-resume-overwrite", ["arithmetic", "train", "--resume", "--overwrite", "--out", "{t2t}"], "contradict"),
    ("t2t-resume-split", ["arithmetic", "train", "--resume", "--out", "{t2t}", "--train-fraction", "0.3"],
     "trained with --train-fraction"),
    ("t2t-config-missing", ["arithmetic", "train", "--config", "{world}/none.json", "--out", "{new}"],
     "does not exist"),
    ("t2t-config-bad-json", ["arithmetic", "train", "--config", "{bad_json}", "--out", "{new}"], "not valid JSON"),
    ("t2t-config-folder", ["arithmetic", "train", "--config", "{world}", "--out", "{new}"], "is a folder"),
    ("t2t-config-foreign", ["arithmetic", "train", "--config", "{vae}/config.json", "--out", "{new}"],
     "no arithmetic recipe"),
    ("t2t-value-type", ["arithmetic", "train", "--epochs", "two", "--out", "{new}"], "--epochs"),
    # arithmetic mnist-addition (its --digits is the data's N)
    ("ma-digits-zero", ["arithmetic", "mnist-addition", "--digits", "0", "--out", "{new}"], "N must be an integer"),
    ("ma-digits-type", ["arithmetic", "mnist-addition", "--digits", "abc", "--out", "{new}"], "--digits"),
    ("ma-digits-typo", ["arithmetic", "mnist-addition", "--digitz", "2", "--out", "{new}"], "did you mean --digits"),
    ("ma-preset", ["arithmetic", "mnist-addition", "--preset", "columns", "--out", "{new}"], "trains its own recipe"),
    ("ma-max-int", ["arithmetic", "mnist-addition", "--max-int", "9", "--out", "{new}"], "set --digits and --seed"),
    # arithmetic predict / render
    ("predict-malformed", ["arithmetic", "predict", "{t2t}", "3++4"], "malformed"),
    ("predict-huge", ["arithmetic", "predict", "{t2t}", "1" * 10_000], "characters long"),
    ("predict-empty", ["arithmetic", "predict", "{t2t}", ""], "empty query"),
    ("predict-operand", ["arithmetic", "predict", "{t2t}", "12+3"], "max_int 9"),
    ("predict-missing-run", ["arithmetic", "predict", "{world}/nope", "1+1"], "not a run folder"),
    ("predict-other-kind", ["arithmetic", "predict", "{vae}", "1+1"], "not an arithmetic run"),
    ("predict-image-t2t", ["arithmetic", "predict", "{t2t}", "1+1", "--image", "{png}"], "only applies to img2text"),
    ("predict-out-t2t", ["arithmetic", "predict", "{t2t}", "1+1", "-o", "{world}/a.png"], "only applies to text2img"),
    ("predict-cut-weights", ["arithmetic", "predict", "{t2t_cut}", "1+1"], "damaged or truncated"),
    ("predict-non-utf8", ["arithmetic", "predict", "{t2t_latin}", "1+1"], "not UTF-8"),
    ("render-over-model", ["arithmetic", "render", "1+1", "-o", "{t2t}/model.json"], "inside the run or study folder"),
    ("render-no-out", ["arithmetic", "render", "1+1"], "missing"),
    ("render-operand", ["arithmetic", "render", "12+345", "-o", "{world}/q.png"], "max_int 99"),
    # gen train
    ("gen-model", ["gen", "train", "--model", "vaex", "--out", "{new}"], "is not a choice"),
    ("gen-size", ["gen", "train", "--model", "vae", "--size", "30", "--out", "{new}"], "--size 30"),
    ("gen-holdout", ["gen", "train", "--model", "vae", "--data", "{pics}", "--holdout", "1.5", "--out", "{new}"],
     "--holdout 1.5"),
    ("gen-data-missing", ["gen", "train", "--model", "vae", "--data", "/nonexistent", "--out", "{new}"],
     "neither mnist"),
    ("gen-empty-folder", ["gen", "train", "--model", "vae", "--data", "{empty_dir}", "--no-progress", "--out",
                          "{new}"], "no valid image"),
    ("gen-bad-images", ["gen", "train", "--model", "vae", "--data", "{junk_pics}", "--no-progress", "--out", "{new}"],
     "no valid image"),
    ("gen-no-labels", ["gen", "train", "--model", "cgan", "--data", "{pics}", "--size", "8", "--no-progress", "--out",
                       "{new}"], "needs class labels"),
    ("gen-foreign-option", ["gen", "train", "--model", "dcgan", "--beta", "2", "--out", "{new}"], "vae model, not of"),
    ("gen-latent", ["gen", "train", "--model", "vae", "--latent-dim", "0", "--out", "{new}"], "--latent-dim 0"),
    ("gen-dropout", ["gen", "train", "--model", "vae", "--dropout", "1.5", "--out", "{new}"], "--dropout 1.5"),
    ("gen-limit", ["gen", "train", "--model", "vae", "--limit", "0", "--out", "{new}"], "--limit 0"),
    ("gen-ema", ["gen", "train", "--model", "dcgan", "--ema", "1.5", "--out", "{new}"], "ema must be in"),
    ("gen-codes", ["gen", "train", "--model", "dcgan", "--codes", "1", "--out", "{new}"], "--codes 1"),
    ("gen-iw", ["gen", "train", "--model", "dcgan", "--iw-k", "5", "--out", "{new}"], "VAE measure"),
    ("gen-data-dir-folder", ["gen", "train", "--model", "vae", "--data", "{pics}", "--data-dir", "{world}", "--out",
                             "{new}"], "only applies to mnist"),
    ("gen-resume-kind", ["gen", "train", "--model", "dcgan", "--out", "{vae}", "--resume"],
     "holds a 'vae' run, not 'dcgan'"),
    # gen tools
    ("sample-n", ["gen", "sample", "{vae}", "--n", "0"], "--n must be between"),
    ("sample-n-big", ["gen", "sample", "{vae}", "--n", "100"], "--n must be between"),
    ("sample-label", ["gen", "sample", "{vae}", "--label", "3"], "unconditional"),
    ("sample-truncate", ["gen", "sample", "{vae}", "--truncate", "-1"], "--truncate"),
    ("sample-over-model", ["gen", "sample", "{vae}", "-o", "{vae}/model.safetensors"], "inside the run"),
    ("sample-cut-weights", ["gen", "sample", "{vae_cut}"], "damaged or truncated"),
    ("sample-empty-weights", ["gen", "sample", "{vae_empty}"], "damaged or truncated"),
    ("interpolate-steps", ["gen", "interpolate", "{vae}", "--steps", "1"], "between 2 and 4,096"),
    ("arith-cells", ["gen", "arith", "{vae}", "--grid-seed", "1", "--a", "1000", "--b", "1", "--c", "2"], "0..99"),
    ("sweep-dim", ["gen", "sweep-dim", "{vae}", "--dim", "99"], "latent"),
    ("reconstruct-not-image", ["gen", "reconstruct", "{vae}", "{text_png}"], "image"),
    ("reconstruct-empty", ["gen", "reconstruct", "{vae}", "{empty_png}"], "image"),
    ("reconstruct-missing", ["gen", "reconstruct", "{vae}", "/nonexistent.png"], "nonexistent.png"),
    ("decode-bad-json", ["gen", "decode", "{vae}", "{bad_json}"], "not valid JSON"),
    ("decode-wrong-size", ["gen", "decode", "{vae}", "{z_json}"], "latent_dim"),
    ("eval-n", ["gen", "eval", "{vae}", "--n", "5", "--data-dir", "embedded"], "at least 10"),
    ("eval-data-dir", ["gen", "eval", "{vae}", "--data-dir", "/nonexistent"], "is not a folder"),
    ("eval-other-kind", ["gen", "eval", "{t2t}"], "not 'cae'"),
    # charrnn
    ("char-text-missing", ["charrnn", "train", "--text", "/nonexistent.txt", "--out", "{new}"], "does not exist"),
    ("char-text-folder", ["charrnn", "train", "--text", "{world}", "--out", "{new}"], "is a folder"),
    ("char-text-binary", ["charrnn", "train", "--text", "{binary}", "--out", "{new}"], "UTF-8"),
    ("char-steps", ["charrnn", "train", "--steps", "0", "--out", "{new}"], "--steps 0"),
    ("char-backend", ["charrnn", "train", "--backend", "jax", "--out", "{new}"], "'jax' is not a choice"),
    ("char-recipe-backend", ["charrnn", "train", "--recipe", "min-char-rnn", "--backend", "torch", "--out", "{new}"],
     "trains the numpy backend"),
    ("char-seq-len", ["charrnn", "train", "--text", "{corpus}", "--seq-len", "100000", "--out", "{new}"], "too short"),
    ("char-temperatures", ["charrnn", "train", "--temperatures", "-1", "--out", "{new}"], "--temperatures"),
    ("char-resume-change", ["charrnn", "train", "--text", "{corpus}", "--out", "{char}", "--resume", "--hidden", "16"],
     "trained with --hidden 8, not 16"),
    ("render-missing-folder", ["arithmetic", "render", "1+1", "-o", "{world}/no/such/q.png"], "does not exist"),
    ("char-sample-temp", ["charrnn", "sample", "{char}", "--temperature", "-1"], "temperature"),
    ("char-sample-prime", ["charrnn", "sample", "{char}", "--prime", ""], "non-empty prime"),
    ("char-sample-vocab", ["charrnn", "sample", "{char}", "--prime", "€€"], "not in the training vocabulary"),
    ("char-sample-length", ["charrnn", "sample", "{char}", "--length", "-5"], "--length -5"),
    ("char-sample-over", ["charrnn", "sample", "{char}", "-o", "{char}/vocab.json"], "inside the run or study folder"),
    ("char-sample-other", ["charrnn", "sample", "{vae}"], "'vae' model"),
]

# Cases that need a read-only or a full file system (root only: a small tmpfs is mounted for them).
FS_CASES: list[tuple[str, list[str], str]] = [
    ("readonly-train", ["arithmetic", "train", *TINY_T2T, "--out", "{ro}/run"], "read-only"),
    ("readonly-report", ["report", "{vae}", "-o", "{ro}/r.html"], "read-only"),
    ("full-disk-train", ["gen", "train", "--model", "vae", *TINY_GEN, "--out", "{full}/run"], "no space left"),
    ("full-disk-render", ["arithmetic", "render", "1+1", "-o", "{full}/q.png", "--data-dir", "embedded"],
     "no space left"),
    ("full-disk-sample", ["gen", "sample", "{vae}", "-o", "{full}/s.png"], "no space left"),
]


def cli(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """A command in a process of its own (the interruption tests signal it)."""
    return cli_worker.fresh(argv, ENV, timeout=timeout)


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` (the mount points excluded)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not {"ro", "full"} & set(path.relative_to(root).parts[:1]):
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _mount_tmpfs(path: Path, size: str, read_only: bool = False) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                        capture_output=True).returncode == 0
    if ok and read_only:
        ok = subprocess.run(["mount", "-o", "remount,ro", str(path)], capture_output=True).returncode == 0
    return ok


@pytest.fixture(scope="module")
def pool():
    """Two workers (this box's two cores) for every command of this module but the interrupted runs."""
    workers = cli_worker.Pool(ENV, size=2)
    yield workers
    workers.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, pool):
    root = tmp_path_factory.mktemp("world")
    (root / "corpus.txt").write_text(TEXT)
    done = pool.map([(["gen", "train", "--model", "vae", *TINY_GEN, "--out", str(root / "vae")], None),
                     (["arithmetic", "train", *TINY_T2T, "--out", str(root / "t2t")], None),
                     (["charrnn", "train", "--text", str(root / "corpus.txt"), "--steps", "6", "--hidden", "8",
                       "--seq-len", "8", "--batch", "4", "--eval-every", "6", "--generate-length", "10",
                       "--no-progress", "--out", str(root / "char")], None)])
    assert all(p.returncode == 0 for p in done), [p.stderr[-500:] for p in done]
    from PIL import Image

    (root / "file").write_text("a file, not a folder\n")
    (root / "bad.json").write_text("{not json")
    (root / "z.json").write_text(json.dumps({"z": [[0.0, 1.0, 2.0]]}))
    (root / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (root / "text.png").write_text("this is not an image")
    (root / "empty.png").write_bytes(b"")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(root / "img.png")
    (root / "empty_dir").mkdir()
    for name, good in (("pics", True), ("junk_pics", False)):
        (root / name).mkdir()
        for i in range(6):
            if good:
                Image.fromarray(np.full((10, 10, 3), 40 * i, np.uint8)).save(root / name / f"{i}.png")
            else:
                (root / name / f"{i}.jpg").write_bytes(b"\xff\xd8 truncated jpeg")
    for source, name, damage in (("vae", "vae_cut", "cut"), ("vae", "vae_empty", "empty"),
                                 ("t2t", "t2t_cut", "cut"), ("t2t", "t2t_latin", "latin")):
        shutil.copytree(root / source, root / name)
        if damage == "cut":
            weights = root / name / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        elif damage == "empty":
            (root / name / "model.safetensors").write_bytes(b"")
        else:
            (root / name / "model.json").write_bytes(b"\xff\xfe kind \xe9")
    shutil.copytree(root / "vae", root / "latin_results")
    (root / "latin_results" / "results.json").write_bytes(b"\xff\xfe{}")
    mounts = {"ro": _mount_tmpfs(root / "ro", "1m", read_only=True), "full": _mount_tmpfs(root / "full", "64k")}
    if mounts["full"]:  # fill it: every write there now fails with "No space left on device"
        with contextlib.suppress(OSError), open(root / "full" / "filler", "wb") as handle:
            handle.write(b"\0" * (1 << 20))
    yield root, mounts
    pool.close()  # the workers go first: a file one of them still held open there would keep a mount busy
    for name, mounted in mounts.items():
        if mounted:
            subprocess.run(["umount", str(root / name)], capture_output=True)


def _fill(argv: list[str], root: Path, case_id: str) -> list[str]:
    names = {"world": root, "new": root / "new" / case_id, "vae": root / "vae", "t2t": root / "t2t",
             "char": root / "char", "corpus": root / "corpus.txt", "file": root / "file", "bad_json": root / "bad.json",
             "z_json": root / "z.json", "binary": root / "binary.txt", "png": root / "img.png",
             "text_png": root / "text.png", "empty_png": root / "empty.png", "empty_dir": root / "empty_dir",
             "pics": root / "pics", "junk_pics": root / "junk_pics", "vae_cut": root / "vae_cut",
             "vae_empty": root / "vae_empty", "t2t_cut": root / "t2t_cut", "t2t_latin": root / "t2t_latin",
             "latin_results": root / "latin_results", "ro": root / "ro", "full": root / "full"}
    return [a.format(**{k: str(v) for k, v in names.items()}) if "{" in a else a for a in argv]


@pytest.fixture(scope="module")
def outcomes(world, pool):
    """Every case, run once in parallel in the workers; the hashes of the world before and after."""
    root, mounts = world
    cases = CASES + [c for c in FS_CASES if mounts["ro" if c[0].startswith("readonly") else "full"]]
    before = snapshot(root)
    results = dict(zip([c[0] for c in cases], pool.map((_fill(c[1], root, c[0]), None) for c in cases)))
    after = snapshot(root)
    return results, before, after


def _check(proc: subprocess.CompletedProcess, words: str) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, err[-800:])
    assert "Traceback" not in err, err[-800:]
    assert len(err.splitlines()) <= 2, err
    assert words.lower() in err.lower(), err


def test_the_catalogue_has_at_least_sixty_cases():
    assert len(CASES) + len(FS_CASES) >= 60


@pytest.mark.parametrize("case_id, argv, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clean_line(outcomes, case_id, argv, words):
    _check(outcomes[0][case_id], words)


@pytest.mark.parametrize("case_id, argv, words", FS_CASES, ids=[c[0] for c in FS_CASES])
def test_a_read_only_or_full_file_system_is_one_clean_line(world, outcomes, case_id, argv, words):
    if case_id not in outcomes[0]:
        pytest.skip("needs root and tmpfs to make a read-only or a full file system")
    _check(outcomes[0][case_id], words)
    full = world[0] / "full"
    if case_id.startswith("full") and full.exists():
        leftovers = [p.name for p in full.rglob("*") if ".tmp" in p.name or p.name.endswith(".part")]
        assert not leftovers, leftovers  # no temp file is left behind


def test_no_file_that_existed_before_changed(outcomes):
    _, before, after = outcomes
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, changed


# ------------------------------------------------------------------ one output rule for every file a command writes
IN_RUN = "inside the run or study folder"
EXISTS = "already exists; pass --overwrite"
IRREGULAR = "not a regular file"
# (id, working folder or None, argv, words): each refused before any work, in one line, nothing replaced or added
OUTPUT_CASES: list[tuple[str, str | None, list[str], str]] = [
    ("out-sample-jpg", None, ["gen", "sample", "{vae}", "-o", "{out}/s.jpg"], "writes .png files only"),
    ("out-sample-no-suffix", None, ["gen", "sample", "{vae}", "-o", "{out}/grid"], "writes .png files only"),
    ("out-sample-exists", None, ["gen", "sample", "{vae}", "-o", "{out}/exists.png"], EXISTS),
    ("out-sample-default-exists", None, ["gen", "sample", "{vae}", "--n", "2", "--seed", "5"], EXISTS),
    ("out-directions-default-exists", None, ["gen", "directions", "{vae}", "--n", "2", "--steps", "3"], EXISTS),
    ("out-run-figure", None, ["gen", "sample", "{vae}", "-o", "{vae_figure}"], IN_RUN),
    ("out-run-new-figure", None, ["gen", "sample", "{vae}", "-o", "{vae}/figures/mine.png"], IN_RUN),
    ("out-other-run", None, ["gen", "interpolate", "{vae}", "-o", "{t2t}/figures/i.png"], IN_RUN),
    ("out-eval-results", None, ["gen", "eval", "{vae}", "-o", "{vae}/results.json"], IN_RUN),
    ("out-eval-exists", None, ["gen", "eval", "{vae}", "-o", "{out}/exists.json"], EXISTS),
    ("out-eval-suffix", None, ["gen", "eval", "{vae}", "-o", "{out}/eval.png"], "writes .json files only"),
    ("out-encode-exists", None, ["gen", "encode", "{vae}", "{png}", "-o", "{out}/exists.json"], EXISTS),
    ("out-encode-suffix", None, ["gen", "encode", "{vae}", "{png}", "-o", "{out}/z.png"], "writes .json files only"),
    ("out-decode-in-study", None, ["gen", "decode", "{vae}", "{z_json}", "-o", "{study}/d.png"], IN_RUN),
    ("out-traverse-suffix", None, ["gen", "traverse", "{vae}", "-o", "{out}/t.mp4"], "writes .png or .gif"),
    ("out-reconstruct-device", None, ["gen", "reconstruct", "{vae}", "{png}", "-o", "/dev/null"], IRREGULAR),
    ("out-sweep-fifo", None, ["gen", "sweep-dim", "{vae}", "--dim", "0", "-o", "{out}/fifo.png"], IRREGULAR),
    ("out-manifold-socket", None, ["gen", "manifold", "{vae}", "-o", "{out}/sock.png"], IRREGULAR),
    ("out-codes-folder", None, ["gen", "codes", "{vae}", "-o", "{out}"], "is a folder"),
    ("out-arith-dangling", None, ["gen", "arith", "{vae}", "--grid-seed", "1", "--a", "1", "--b", "2", "--c", "3",
                                  "-o", "{out}/dangling.png"], "which does not exist"),
    ("out-link-into-run", None, ["gen", "sample", "{vae}", "-o", "{out}/into_run.png", "--overwrite"], IN_RUN),
    ("out-cwd-in-run", "{vae}", ["gen", "sample", "{vae}", "-o", "s.png"], IN_RUN),
    ("out-predict-no-o", "{out}", ["arithmetic", "predict", "{t2i}", "1+1"], "pass -o"),
    ("out-predict-exists", None, ["arithmetic", "predict", "{t2i}", "1+1", "-o", "{out}/exists.png"], EXISTS),
    ("out-render-exists", None, ["arithmetic", "render", "1+1", "-o", "{out}/exists.png"], EXISTS),
    ("out-render-jpg", None, ["arithmetic", "render", "1+1", "-o", "{out}/q.jpeg"], "writes .png files only"),
    ("out-length-in-run", None, ["arithmetic", "eval", "{t2t}", "--digits", "1", "2", "-o", "{vae}/f.png"], IN_RUN),
    # RUN/length/ holds a 3-digit score of 10 queries (made below): another measurement must not replace it silently
    ("out-length-other-n", None, ["arithmetic", "eval", "{t2t}", "--digits", "3", "--n", "20"], "--overwrite"),
    ("out-char-exists", None, ["charrnn", "sample", "{char}", "-o", "{out}/exists.txt"], EXISTS),
    ("out-char-in-run", None, ["charrnn", "sample", "{char}", "-o", "{char}/more.txt"], IN_RUN),
    ("out-char-fifo", None, ["charrnn", "sample", "{char}", "-o", "{out}/fifo.png"], IRREGULAR),
    ("out-report-study-json", None, ["report", "{study}", "-o", "{study}/report.json"], IN_RUN),
    ("out-report-study-html", None, ["report", "{vae}", "-o", "{study}/report.html"], IN_RUN),
    ("out-report-in-study", "{study}", ["report", "{vae}"], IN_RUN),
    ("out-report-exists", None, ["report", "{vae}", "-o", "{out}/exists.html"], EXISTS),
    ("out-report-suffix", None, ["report", "{vae}", "-o", "{out}/r.pdf"], "writes .html or .htm"),
]


def tree(root: Path) -> dict[str, str]:
    """Every path below ``root`` (mount points excluded): a file's sha256, or what else it is."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if {"ro", "full"} & set(rel.parts[:1]):
            continue
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else None
        out[str(rel)] = kind or (hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "special")
    return out


@pytest.fixture(scope="module")
def output_outcomes(world, pool):
    """The output cases, in parallel, in a world grown by a text→image run, a study folder, existing outputs and
    odd files; the whole tree (files, links, folders) before and after."""
    import socket

    root, _ = world
    out, study = root / "outputs", root / "study"
    out.mkdir()
    study.mkdir()
    for name, text in (("results.json", '{"studies": {}}'), ("report.json", "{}"), ("report.html", "<p>study</p>")):
        (study / name).write_text(text)
    for name in ("exists.png", "exists.json", "exists.txt", "exists.html", "answer.png"):
        (out / name).write_bytes(b"the user's own file\n")
    os.mkfifo(out / "fifo.png")
    (out / "dangling.png").symlink_to(out / "nowhere.png")
    figure = sorted((root / "vae" / "figures").iterdir())[0]
    (out / "into_run.png").symlink_to(figure)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(out / "sock.png"))
    made = pool.map((argv, None) for argv in [  # a text→image run, and three default outputs made once
        ["arithmetic", "train", "--task", "text2img", "--max-int", "9", "--epochs", "1", "--hidden", "16",
         "--data-dir", "embedded", "--no-progress", "--out", str(root / "t2i")],
        ["gen", "sample", str(root / "vae"), "--n", "2", "--seed", "5"],
        ["gen", "directions", str(root / "vae"), "--n", "2", "--steps", "3"],
        ["arithmetic", "eval", str(root / "t2t"), "--digits", "3", "--n", "10"]])
    assert all(p.returncode == 0 for p in made), [p.stderr[-500:] for p in made]
    names = {"out": out, "study": study, "t2i": root / "t2i", "vae_figure": figure}

    def fill(arg: str, case_id: str) -> str:
        for key, value in names.items():
            arg = arg.replace("{" + key + "}", str(value))
        return _fill([arg], root, case_id)[0]

    before = tree(root)
    try:
        results = dict(zip([c[0] for c in OUTPUT_CASES],
                           pool.map(([fill(a, case_id) for a in argv], fill(cwd, case_id) if cwd else None)
                                    for case_id, cwd, argv, _ in OUTPUT_CASES)))
    finally:
        unix.close()
    return results, before, tree(root)


@pytest.mark.parametrize("case_id, cwd, argv, words", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_every_output_path_follows_one_rule(output_outcomes, case_id, cwd, argv, words):
    _check(output_outcomes[0][case_id], words)


def test_a_refused_output_leaves_everything_as_it_was(output_outcomes):
    _, before, after = output_outcomes
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert not changed, sorted(changed)  # nothing replaced, nothing new (no answer.png, no report.html, no .tmp)


# ------------------------------------------------------------------ every verb's input, checked once at the edge
HUGE = "1180591620717411303424"  # 2^70: beyond what torch and NumPy take as a seed
SEED = "2^63"
BIG = "4,096 images"
UNCOND = "is unconditional"
EDITED = "checksum does not match"
PID = "being written by another latentworks process (PID"
# (id, argv, words): seeds, sizes, times, labels, JSON, images, damaged or edited files, locks, settings
EDGE_CASES: list[tuple[str, list[str], str]] = [
    *[(f"seed-{v[0]}-{v[1]}", [*v, "--seed", HUGE], SEED)
      for v in (["gen", "sample", "{vae}"], ["gen", "interpolate", "{vae}"], ["gen", "traverse", "{vae}"],
                ["gen", "sweep-dim", "{vae}", "--dim", "0"], ["gen", "codes", "{vae}"], ["gen", "eval", "{vae}"],
                ["gen", "directions", "{vae}"], ["arithmetic", "predict", "{t2t}", "1+1"],
                ["arithmetic", "eval", "{t2t}"], ["charrnn", "sample", "{char}"])],
    ("seed-negative", ["gen", "sample", "{vae}", "--seed", "-1"], SEED),
    ("seed-arith-grid", ["gen", "arith", "{vae}", "--grid-seed", HUGE, "--a", "1", "--b", "2", "--c", "3"], SEED),
    ("seed-render", ["arithmetic", "render", "3+4", "--seed", HUGE, "-o", "{new}.png"], SEED),
    ("seed-render-negative", ["arithmetic", "render", "3+4", "--seed", "-5", "-o", "{new}.png"], SEED),
    ("seed-render-power", ["arithmetic", "render", "3+4", "--seed", "2**70", "-o", "{new}.png"], "--seed"),
    ("seed-t2t-train", ["arithmetic", "train", "--seed", HUGE, "--out", "{new}"], SEED),
    ("seed-gen-train", ["gen", "train", "--seed", HUGE, "--out", "{new}"], SEED),
    ("seed-char-train", ["charrnn", "train", "--text", "{corpus}", "--seed", "-1", "--out", "{new}"], SEED),
    ("seed-study", ["run", "--profile", "test", "--seed", HUGE, "--out", "{new}"], SEED),
    ("interpolate-steps-huge", ["gen", "interpolate", "{vae}", "--steps", "10000000"], BIG),
    ("traverse-steps-huge", ["gen", "traverse", "{vae}", "--steps", "10000000"], BIG),
    ("traverse-points-huge", ["gen", "traverse", "{vae}", "--points", "100000"], BIG),
    ("traverse-frame-negative", ["gen", "traverse", "{vae}", "--frame-ms", "-5"], "--frame-ms -5"),
    ("traverse-frame-zero", ["gen", "traverse", "{vae}", "--frame-ms", "0"], "--frame-ms 0"),
    ("traverse-frame-huge", ["gen", "traverse", "{vae}", "--frame-ms", "10000000"], "60,000"),
    ("sweep-steps-huge", ["gen", "sweep-dim", "{vae}", "--dim", "0", "--steps", "100000"], BIG),
    ("sweep-grid-huge", ["gen", "sweep-dim", "{vae}", "--dim", "0", "--rows", "100", "--steps", "100"], BIG),
    ("sweep-from-nan", ["gen", "sweep-dim", "{vae}", "--dim", "0", "--from", "nan"], "--from nan"),
    ("sweep-to-inf", ["gen", "sweep-dim", "{vae}", "--dim", "0", "--to", "inf"], "--to inf"),
    ("eval-n-huge", ["gen", "eval", "{vae}", "--n", "1000000000"], "100,000"),
    ("eval-n-one", ["gen", "eval", "{vae}", "--n", "1"], "--n 1"),
    ("eval-batch-zero", ["gen", "eval", "{vae}", "--batch", "0"], "--batch 0"),
    ("eval-batch-huge", ["gen", "eval", "{vae}", "--batch", "100000"], "--batch 100000"),
    ("eval-k-zero", ["gen", "eval", "{vae}", "--k", "0"], "--k 0"),
    ("eval-k-huge", ["gen", "eval", "{vae}", "--k", "10000000"], "--k 10000000"),
    ("eval-nll-images-zero", ["gen", "eval", "{vae}", "--nll-images", "0"], "--nll-images 0"),
    ("directions-huge", ["gen", "directions", "{vae}", "--n", "1000", "--steps", "1000"], BIG),
    ("directions-span-zero", ["gen", "directions", "{vae}", "--span", "0"], "--span 0"),
    ("directions-span-inf", ["gen", "directions", "{vae}", "--span", "inf"], "--span inf"),
    ("length-n-huge", ["arithmetic", "eval", "{t2t}", "--n", "100000000000"], "1,000,000"),
    ("length-n-zero", ["arithmetic", "eval", "{t2t}", "--n", "0"], "--n 0"),
    ("char-temperature-negative", ["charrnn", "sample", "{char}", "--temperature", "-1"], "--temperature"),
    ("char-temperature-nan", ["charrnn", "sample", "{char}", "--temperature", "nan"], "--temperature"),
    ("char-top-k-zero", ["charrnn", "sample", "{char}", "--top-k", "0"], "--top-k 0"),
    ("z-rows-huge", ["gen", "decode", "{vae}", "{e}/z_big.json"], "over the 4,096"),
    ("z-ragged", ["gen", "decode", "{vae}", "{e}/z_ragged.json"], "equal-length"),
    ("z-labels-strings", ["gen", "decode", "{vae}", "{e}/z_str_labels.json"], "integer class labels"),
    ("z-labels-fraction", ["gen", "decode", "{cvae}", "{e}/z_frac_labels.json"], "integer class labels"),
    ("z-labels-bool", ["gen", "decode", "{cvae}", "{e}/z_bool_labels.json"], "integer class labels"),
    ("z-labels-ragged", ["gen", "decode", "{cvae}", "{e}/z_ragged_labels.json"], "integer class labels"),
    ("z-labels-count", ["gen", "decode", "{cvae}", "{e}/z_short_labels.json"], "one per vector"),
    ("z-labels-range", ["gen", "decode", "{cvae}", "{e}/z_label_12.json"], "between 0 and 9"),
    ("z-labels-negative", ["gen", "decode", "{cvae}", "{e}/z_label_neg.json"], "between 0 and 9"),
    ("z-labels-unconditional", ["gen", "decode", "{vae}", "{e}/z_label_1.json"], UNCOND),
    ("z-nan", ["gen", "decode", "{vae}", "{e}/z_nan.json"], "finite"),
    ("z-deep", ["gen", "decode", "{vae}", "{e}/deep.json"], "nests deeper"),
    ("z-list-of-strings", ["gen", "decode", "{vae}", "{e}/z_strings.json"], "equal-length"),
    ("z-empty", ["gen", "decode", "{vae}", "{e}/z_empty.json"], "non-empty"),
    ("label-range", ["gen", "sample", "{cvae}", "--label", "10"], "between 0 and 9"),
    ("label-negative", ["gen", "sample", "{cvae}", "--label", "-1"], "between 0 and 9"),
    ("label-fraction", ["gen", "sample", "{cvae}", "--label", "1.5"], "--label"),
    ("label-word", ["gen", "sample", "{cvae}", "--label", "three"], "--label"),
    ("label-interpolate-range", ["gen", "interpolate", "{cvae}", "--label", "99"], "between 0 and 9"),
    ("label-traverse-range", ["gen", "traverse", "{cvae}", "--label", "10"], "between 0 and 9"),
    ("label-decode-range", ["gen", "decode", "{cvae}", "{e}/z_label_1.json", "--label", "10"], "between 0 and 9"),
    ("result-label-range", ["gen", "arith", "{cvae}", "--grid-seed", "1", "--a", "1", "--b", "2", "--c", "3",
                            "--result-label", "10"], "between 0 and 9"),
    ("result-label-unconditional", ["gen", "arith", "{vae}", "--grid-seed", "1", "--a", "1", "--b", "2", "--c", "3",
                                    "--result-label", "3"], UNCOND),
    *[(f"label-unconditional-{v[1]}", [*v, "--label", "1"], UNCOND)
      for v in (["gen", "interpolate", "{vae}"], ["gen", "traverse", "{vae}"], ["gen", "manifold", "{vae}"],
                ["gen", "sweep-dim", "{vae}", "--dim", "0"], ["gen", "directions", "{vae}"],
                ["gen", "reconstruct", "{vae}", "{png}"], ["gen", "encode", "{vae}", "{png}"],
                ["gen", "decode", "{vae}", "{z_json}"])],
    ("bomb-reconstruct", ["gen", "reconstruct", "{vae}", "{e}/bomb.png"], "pixels"),
    ("bomb-encode", ["gen", "encode", "{vae}", "{e}/bomb.png"], "pixels"),
    ("bomb-encode-second", ["gen", "encode", "{vae}", "{png}", "{e}/bomb.png"], "pixels"),
    ("large-reconstruct", ["gen", "reconstruct", "{vae}", "{e}/large.png"], "over the 4096×4096"),
    ("large-encode", ["gen", "encode", "{vae}", "{e}/large.png"], "over the 4096×4096"),
    ("vocab-not-text", ["charrnn", "sample", "{e}/char_vocab_number"], "vocab.json is damaged"),
    ("vocab-short", ["charrnn", "sample", "{e}/char_vocab_short"], "vocab.json is damaged"),
    ("vocab-list", ["charrnn", "sample", "{e}/char_vocab_list"], "vocab.json is damaged"),
    ("vocab-repeats", ["charrnn", "sample", "{e}/char_vocab_repeats"], "vocab.json is damaged"),
    ("results-list", ["report", "{e}/vae_results_list"], "holds a JSON list"),
    ("results-number", ["report", "{e}/vae_results_number"], "holds a JSON int"),
    ("results-deep", ["report", "{e}/vae_results_deep"], "nests deeper"),
    ("report-nothing", ["report"], "needs at least one run"),
    ("sweep-no-fractions", ["arithmetic", "sweep", "--train-fractions", "--out", "{new}"], "at least one value"),
    ("sweep-empty-fractions", ["arithmetic", "sweep", "--train-fractions=", "--out", "{new}"], "at least one value"),
    ("edited-max-int", ["arithmetic", "predict", "{e}/t2t_max_int", "1+1"], EDITED),
    ("edited-ops", ["arithmetic", "predict", "{e}/t2t_ops", "1+1"], EDITED),
    ("edited-max-int-eval", ["arithmetic", "eval", "{e}/t2t_max_int", "--digits", "1"], EDITED),
    ("edited-hidden", ["gen", "sample", "{e}/vae_hidden"], EDITED),
    ("edited-char", ["charrnn", "sample", "{e}/char_hidden"], EDITED),
    ("edited-config-resume", ["arithmetic", "train", *TINY_T2T, "--resume", "--out", "{e}/t2t_config"],
     "changed after latentworks wrote it"),
    ("study-resume-a-run", ["run", "--profile", "test", "--resume", "--out", "{t2t}"], "single run, not a study"),
    ("locked-resume", ["arithmetic", "train", *TINY_T2T, "--resume", "--out", "{e}/t2t_locked"], PID),
    ("locked-overwrite", ["arithmetic", "train", *TINY_T2T, "--overwrite", "--out", "{e}/t2t_locked"], PID),
    ("locked-study", ["run", "--profile", "test", "--resume", "--out", "{e}/study_locked"], PID),
    ("device-tpu-study", ["run", "--profile", "test", "--device", "tpu", "--out", "{new}"], "--device 'tpu'"),
    ("device-tpu-gen", ["gen", "train", "--device", "tpu", "--out", "{new}"], "--device 'tpu'"),
    ("device-tpu-t2t", ["arithmetic", "train", "--device", "tpu", "--out", "{new}"], "--device 'tpu'"),
    ("device-tpu-sample", ["gen", "sample", "{vae}", "--device", "tpu"], "--device 'tpu'"),
    ("study-workers-zero", ["run", "--profile", "test", "--workers", "0", "--out", "{new}"], "--workers 0"),
    ("study-address-local", ["run", "--profile", "test", "--address", "auto", "--out", "{new}"], "--executor ray"),
]


def _png_header(width: int, height: int) -> bytes:
    """A PNG that is only its header: Pillow learns the size (a bomb's, here) before any pixel is decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _edge_world(root: Path, pool) -> tuple[Path, list[subprocess.Popen]]:
    """Beside the world: a conditional run, latent files, pictures, damaged and hand-edited copies, and locks held
    by processes of their own (a worker's lock would not stop that worker)."""
    e = root / "edge"
    e.mkdir()
    made = pool.run(["gen", "train", "--model", "cvae", *TINY_GEN[2:], "--epochs", "1", "--out", str(root / "cvae")])
    assert made.returncode == 0, made.stderr[-500:]
    z = [[0.0] * 4, [1.0] * 4]
    files = {"z_big": {"z": [[0.0] * 4] * 200_000}, "z_ragged": {"z": [[0.0] * 4, [1.0] * 3]},
             "z_str_labels": {"z": z, "labels": ["a", "b"]}, "z_frac_labels": {"z": z, "labels": [0.5, 1]},
             "z_bool_labels": {"z": z, "labels": [True, False]}, "z_ragged_labels": {"z": z, "labels": [[1], 2]},
             "z_short_labels": {"z": z, "labels": [1]}, "z_label_12": {"z": z, "labels": [12, 1]},
             "z_label_neg": {"z": z, "labels": [-1, 1]}, "z_label_1": {"z": z, "labels": [1, 1]},
             "z_strings": ["abc", "def"], "z_empty": {"z": []}}
    for name, data in files.items():
        (e / f"{name}.json").write_text(json.dumps(data))
    (e / "z_nan.json").write_text('{"z": [[NaN, 0, 0, 0]]}')
    (e / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (e / "bomb.png").write_bytes(_png_header(40_000, 40_000))
    (e / "large.png").write_bytes(_png_header(5_000, 5_000))
    for name, vocab in (("number", {"chars": 5}), ("short", {"chars": "ab"}), ("list", ["a"]),
                        ("repeats", {"chars": "a" * 29})):
        shutil.copytree(root / "char", e / f"char_vocab_{name}")
        (e / f"char_vocab_{name}" / "vocab.json").write_text(json.dumps(vocab))
    for name, text in (("list", "[1, 2]"), ("number", "3"), ("deep", "[" * 100_000 + "]" * 100_000)):
        shutil.copytree(root / "vae", e / f"vae_results_{name}")
        (e / f"vae_results_{name}" / "results.json").write_text(text)
    for name, source, file, edit in (("t2t_max_int", "t2t", "model.json", ("spec", "max_int", 99)),
                                     ("t2t_ops", "t2t", "model.json", ("spec", "ops", "+-*")),
                                     ("vae_hidden", "vae", "model.json", ("config", "latent_dim", 5)),
                                     ("char_hidden", "char", "model.json", ("config", "hidden", 9)),
                                     ("t2t_config", "t2t", "config.json", ("train", "lr", 0.5))):
        shutil.copytree(root / source, e / name)
        tree = json.loads((e / name / file).read_text())
        tree[edit[0]][edit[1]] = edit[2]
        (e / name / file).write_text(json.dumps(tree, indent=2) + "\n")
    shutil.copytree(root / "t2t", e / "t2t_locked")
    (e / "study_locked").mkdir()
    holders = []
    for folder in ("t2t_locked", "study_locked"):
        holders.append(subprocess.Popen([sys.executable, "-c", "import sys, time; from latentworks.folder_lock import "
                                         "lock_run_dir; lock_run_dir(sys.argv[1]); print(1, flush=True); "
                                         "time.sleep(3600)", str(e / folder)], stdout=subprocess.PIPE, env=ENV))
        assert holders[-1].stdout.readline().strip() == b"1"
    return e, holders


@pytest.fixture(scope="module")
def edge_outcomes(world, pool):
    """The edge cases, in parallel, beside a live holder of two folders' locks; the whole tree before and after."""
    root, _ = world
    e, holders = _edge_world(root, pool)
    names = {"e": e, "cvae": root / "cvae"}

    def filled(case_id: str, argv: list[str]) -> list[str]:
        return _fill([a.replace("{e}", str(e)).replace("{cvae}", str(names["cvae"])) for a in argv], root, case_id)

    before = tree(root)
    try:
        results = dict(zip([c[0] for c in EDGE_CASES],
                           pool.map((filled(case_id, argv), None) for case_id, argv, _ in EDGE_CASES)))
        after = tree(root)
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
    return results, before, after, [h.pid for h in holders]


@pytest.mark.parametrize("case_id, argv, words", EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_every_verbs_input_is_checked_at_the_edge(edge_outcomes, case_id, argv, words):
    _check(edge_outcomes[0][case_id], words)


def test_a_locked_folder_names_its_holder_and_nothing_changed(edge_outcomes):
    results, before, after, pids = edge_outcomes
    assert f"(PID {pids[0]})" in results["locked-resume"].stderr
    assert f"(PID {pids[1]})" in results["locked-study"].stderr
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert not changed, sorted(changed)  # no study folder from a refused device, no .tmp, nothing replaced


def test_the_catalogue_holds_two_hundred_cases():
    assert len(CASES) + len(FS_CASES) + len(OUTPUT_CASES) + len(EDGE_CASES) >= 200


# ------------------------------------------------------------------ interruptions, then --resume
def _train_argv(out: Path) -> list[str]:
    return ["arithmetic", "train", "--preset", "columns", "--max-int", "19", "--train-fraction", "0.5", "--epochs",
            "12", "--hidden", "32", "--no-progress", "--out", str(out)]


def _interrupt(argv: list[str], out: Path, sig: int, after_rows: int) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "latentworks", *argv], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    metrics = out / "metrics.jsonl"
    while time.time() < deadline and proc.poll() is None:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= after_rows:
            proc.send_signal(sig)
            break
        time.sleep(0.02)
    proc.communicate(timeout=240)
    return proc.returncode


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The run each interrupted one must resume to, trained once (in a process of its own, as they are)."""
    ref = tmp_path_factory.mktemp("uninterrupted") / "ref"
    done = cli(*_train_argv(ref))
    assert done.returncode == 0, done.stderr[-800:]
    return ref


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 130), (signal.SIGKILL, -9)],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_an_interrupted_run_resumes_to_the_uninterrupted_one(tmp_path, uninterrupted, sig, code):
    ref = uninterrupted
    out = tmp_path / "run"
    returncode = _interrupt(_train_argv(out), out, sig, after_rows=7)
    if returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert returncode == code
    resumed = cli(*_train_argv(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-800:]
    assert (out / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()
    a, b = (json.loads((d / "results.json").read_text()) for d in (ref, out))
    assert a["test"] == b["test"] and a["train"]["steps"] == b["train"]["steps"]
    assert (out / "metrics.jsonl").read_text() == (ref / "metrics.jsonl").read_text()
