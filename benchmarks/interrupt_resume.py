"""Interrupt a run at random moments, resume it, and compare with the run that was never interrupted.

    python benchmarks/interrupt_resume.py [--kills 10] [--sigints 5] [--families vae dcgan text2text numpy-char]

For each family a small run is trained once without interruption (the reference). Then, for each trial, the same
command is started, a signal is sent at a random moment of its training (uniform between 5 % and 95 % of the
reference's wall time: SIGKILL, as a crash or an out-of-memory kill would, or SIGINT, as Ctrl-C), and the run is
continued with ``--resume`` until it finishes. A trial passes when the final ``model.safetensors`` is identical
byte for byte to the reference's, the held-out metrics in ``results.json`` are equal, and every row of
``metrics.jsonl`` is equal (the rows hold losses, learning rates and held-out curves, no timings). Results go to
``benchmarks/out/interrupt_resume.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from latentworks.runs import cpu_model, environment, load_average, write_json

OUT = Path(__file__).parent / "out"
ENV = {**os.environ, "LATENTWORKS_OFFLINE": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
TEXT = "the quick brown fox jumps over the lazy dog. Harry laughed at the owl. " * 300

FAMILIES = {
    "vae": ["gen", "train", "--model", "vae", "--preset", "quick", "--data-dir", "embedded", "--limit", "1024",
            "--epochs", "4", "--eval-images", "200", "--threads", "1", "--no-progress"],
    "dcgan": ["gen", "train", "--model", "dcgan", "--preset", "quick", "--data-dir", "embedded", "--limit", "1024",
              "--epochs", "4", "--eval-images", "200", "--threads", "1", "--no-progress"],
    "text2text": ["arithmetic", "train", "--task", "text2text", "--preset", "columns", "--max-int", "29",
                  "--train-fraction", "0.5", "--epochs", "12", "--no-progress"],
    "numpy-char": ["charrnn", "train", "--text", "{corpus}", "--steps", "600", "--hidden", "64", "--seq-len", "25",
                   "--batch", "16", "--eval-every", "100", "--checkpoint-every", "50", "--no-progress"],
}


def run(argv: list[str], out: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "latentworks", *argv, "--out", str(out)], env=ENV,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr[-600:]}")
    return proc.returncode, time.perf_counter() - t0


def interrupted(argv: list[str], out: Path, sig: int, after_s: float) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "latentworks", *argv, "--out", str(out)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=after_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(sig)
    proc.communicate()
    return proc.returncode


TIMINGS = ("chars_per_sec",)  # the NumPy loop logs its speed in each row; everything else must match


def rows(run: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


def same(ref: Path, other: Path) -> dict[str, bool]:
    a, b = (json.loads((d / "results.json").read_text()) for d in (ref, other))
    held_out = [k for k in ("test", "val_loss", "val_acc", "samples") if k in a]
    return {
        "weights": (ref / "model.safetensors").read_bytes() == (other / "model.safetensors").read_bytes(),
        "metrics": all(a[k] == b.get(k) for k in held_out),
        "rows": rows(ref) == rows(other),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=10, help="SIGKILL trials per family")
    ap.add_argument("--sigints", type=int, default=5, help="SIGINT trials per family")
    ap.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--seed", type=int, default=0, help="seed of the random moments")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="interrupt-resume-"))
    (work / "corpus.txt").write_text(TEXT)
    report = {"benchmark": "interrupt_resume", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "command": "python benchmarks/interrupt_resume.py " + " ".join(sys.argv[1:]),
              "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_before": load_average()},
              "families": {}}
    try:
        for family in args.families:
            argv = [a.format(corpus=work / "corpus.txt") for a in FAMILIES[family]]
            ref = work / family / "ref"
            _, wall = run(argv, ref)
            trials = []
            for sig, count in ((signal.SIGKILL, args.kills), (signal.SIGINT, args.sigints)):
                for i in range(count):
                    out = work / family / f"{sig.name}-{i}"
                    at = rng.uniform(0.05, 0.95) * wall
                    code = interrupted(argv, out, sig, at)
                    if code == 0:  # finished before the signal: nothing to resume
                        trials.append({"signal": sig.name, "at_s": round(at, 2), "interrupted": False})
                        continue
                    stopped_at = None
                    pointer = out / "checkpoints" / "latest.json"
                    if pointer.is_file():
                        stopped_at = json.loads(pointer.read_text())["step"]
                    # Killed before it wrote its config: nothing of the run exists, so it is started again.
                    again = "--resume" if (out / "config.json").is_file() else "--overwrite"
                    run([*argv, again], out)
                    result = {"signal": sig.name, "at_s": round(at, 2), "interrupted": True, "exit_code": code,
                              "checkpoint_step": stopped_at, "continued_with": again, **same(ref, out)}
                    trials.append(result)
                    print(family, result, flush=True)
                    shutil.rmtree(out)
            done = [t for t in trials if t["interrupted"]]
            report["families"][family] = {
                "reference_wall_s": round(wall, 1), "trials": trials, "interrupted": len(done),
                "identical": sum(t["weights"] and t["metrics"] and t["rows"] for t in done),
            }
            print(family, report["families"][family]["identical"], "of", len(done), "identical", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["machine"]["load_after"] = load_average()
    report["environment"] = environment()
    path = OUT / "interrupt_resume.json"
    if path.is_file():  # families measured earlier stay, with their own date and command
        earlier = json.loads(path.read_text()).get("families", {})
        report["families"] = {**{k: {**v, "measured": "earlier run"} for k, v in earlier.items()
                                 if k not in report["families"]}, **report["families"]}
    write_json(path, report)


if __name__ == "__main__":
    main()
