"""A catalogue of bad inputs across every command, run as a user would: the CLI in a subprocess.

For each case: exit code 2, at most two lines on stderr, no traceback, the expected words in the message, and
every file that existed before is unchanged (hashed before and after). The world the cases run in holds finished
tiny runs of each family, damaged copies of them, odd files, and (as root) a read-only and a full file system.
Interruptions (SIGINT, SIGTERM, SIGKILL) followed by --resume are checked against the uninterrupted run at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

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
    ("gen-foreign-option", ["gen", "train", "--model", "dcgan", "--beta", "2", "--out", "{new}"], "option of the vae"),
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
    ("interpolate-steps", ["gen", "interpolate", "{vae}", "--steps", "1"], "at least 2"),
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
    return subprocess.run([sys.executable, "-m", "latentworks", *argv], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


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
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    done = [cli("gen", "train", "--model", "vae", *TINY_GEN, "--out", str(root / "vae")),
            cli("arithmetic", "train", *TINY_T2T, "--out", str(root / "t2t"))]
    (root / "corpus.txt").write_text(TEXT)
    done.append(cli("charrnn", "train", "--text", str(root / "corpus.txt"), "--steps", "6", "--hidden", "8",
                    "--seq-len", "8", "--batch", "4", "--eval-every", "6", "--generate-length", "10",
                    "--no-progress", "--out", str(root / "char")))
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
def outcomes(world):
    """Every case, run in parallel subprocesses once; the hashes of the world before and after."""
    root, mounts = world
    cases = CASES + [c for c in FS_CASES if mounts["ro" if c[0].startswith("readonly") else "full"]]
    before = snapshot(root)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip([c[0] for c in cases],
                           pool.map(lambda c: cli(*_fill(c[1], root, c[0])), cases)))
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
def output_outcomes(world):
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
    with ThreadPoolExecutor(max_workers=3) as pool:  # a text→image run, and two default outputs made once
        made = list(pool.map(lambda argv: cli(*argv), [
            ["arithmetic", "train", "--task", "text2img", "--max-int", "9", "--epochs", "1", "--hidden", "16",
             "--data-dir", "embedded", "--no-progress", "--out", str(root / "t2i")],
            ["gen", "sample", str(root / "vae"), "--n", "2", "--seed", "5"],
            ["gen", "directions", str(root / "vae"), "--n", "2", "--steps", "3"]]))
    assert all(p.returncode == 0 for p in made), [p.stderr[-500:] for p in made]
    names = {"out": out, "study": study, "t2i": root / "t2i", "vae_figure": figure}

    def fill(arg: str, case_id: str) -> str:
        for key, value in names.items():
            arg = arg.replace("{" + key + "}", str(value))
        return _fill([arg], root, case_id)[0]

    def run(case):
        case_id, cwd, argv, _ = case
        return subprocess.run([sys.executable, "-m", "latentworks", *(fill(a, case_id) for a in argv)],
                              capture_output=True, text=True, env=ENV, timeout=300,
                              cwd=fill(cwd, case_id) if cwd else None)

    before = tree(root)
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = dict(zip([c[0] for c in OUTPUT_CASES], pool.map(run, OUTPUT_CASES)))
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


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 130), (signal.SIGKILL, -9)],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_an_interrupted_run_resumes_to_the_uninterrupted_one(tmp_path, sig, code):
    ref = tmp_path / "ref"
    assert cli(*_train_argv(ref)).returncode == 0
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
