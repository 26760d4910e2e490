"""Benchmark: NumPy char-RNN speed, the min-char-rnn recipe vs our best NumPy settings, in the same run.

    python benchmarks/charrnn_speed.py [--budget 150] [--text tinyshakespeare] [--out benchmarks/out]

Both runs get the same wall-clock budget on Tiny Shakespeare (1 BLAS thread each, one after the other):

* ``min-char-rnn``: our own code in Karpathy's recipe mode (vanilla RNN, H 100, T 25, batch 1, Adagrad
  0.1, element-wise clip +-5, summed loss, N(0, 0.01) init). The original gist is not run; anchors.md
  measured it at about 5.6k chars/s on this machine, which is reported beside our mode's own rate.
* ``best``: the same model size trained our way: minibatched float32 (vanilla RNN, H 100, T 50, batch 128,
  Adam 3e-3, mean per-character loss, Xavier/orthogonal init).

chars/s counts training time only (validation passes excluded). "Time to the baseline's loss" is the training
time at which the best run's whole-split validation loss first reaches the baseline's final one.
Writes ``<out>/charrnn_speed.json``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from latentworks.pipelines.charrnn import train_charrnn
from latentworks.recipes.charrnn import RunConfig, recipe
from latentworks.runs import RunDir, environment, write_json
from latentworks.runs import cpu_model as _cpu_model  # noqa: E402
from latentworks.runs import load_average as _load

GIST_CHARS_PER_SEC = 5600  # anchors.md §5: the original min-char-rnn gist on this machine


def _curve(run_dir: Path, batch: int, seq_len: int, final: dict) -> list[tuple[float, int, float]]:
    """(training seconds, step, validation nats/char) at every evaluation, plus the final whole-split one."""
    pts = [(r["step"] * batch * seq_len / r["chars_per_sec"], r["step"], r["eval/val_loss"])
           for r in RunDir(run_dir, create=False).read_metrics() if "eval/val_loss" in r]
    pts.append((final["train_seconds"], final["steps"], final["val_loss"]))
    return pts


def _run(name: str, cfg: RunConfig, work: Path) -> dict:
    print(f"[{time.strftime('%H:%M:%S')}] {name}: load {_load()}", flush=True)
    res = train_charrnn(cfg, work / name, overwrite=True)  # a reused --work folder: the old run is moved aside
    curve = _curve(work / name, cfg.train.batch_size, cfg.data.seq_len, res)
    print(f"  {res['chars_per_sec']:,.0f} chars/s, {res['steps']} steps, val {res['val_loss']:.4f}")
    m, t = cfg.model, cfg.train
    config = {"model": m.cell, "hidden": m.hidden, "seq_len": cfg.data.seq_len, "batch": t.batch_size,
              "optimizer": t.optimizer, "lr": t.lr, "clip": t.clip,
              "min_char_rnn": m.init == "min_char_rnn" and m.loss_reduction == "sum"}
    return {"config": config,
            "chars_per_sec": res["chars_per_sec"], "steps": res["steps"],
            "train_seconds": res["train_seconds"],
            "val_loss": res["val_loss"], "train_loss": res["train_loss"], "curve": curve,
            "sample": res["samples"], "load_after": _load()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=150, help="wall-clock seconds per run")
    ap.add_argument("--text", default="tinyshakespeare")
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--model", default="rnn", choices=["rnn", "lstm"])
    ap.add_argument("--best-threads", type=int, default=1,
                    help="BLAS threads for the best run (the batch-1 recipe is fastest on one)")
    ap.add_argument("--out", default="benchmarks/out")
    ap.add_argument("--work", help="folder for the two run folders (default: a temporary folder)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="charrnn_speed_"))
    common = {"data.text": args.text, "train.steps": 10**9, "train.time_limit_s": args.budget,
              "eval.val_batches": None, "eval.sample_every": 10**9, "train.checkpoint_every": 10**9,
              "eval.generate_length": 200, "train.progress": False, "train.threads": 1, "eval.primes": ["The "]}
    started, load_before = time.strftime("%Y-%m-%d %H:%M:%S %Z"), _load()
    base = _run("min-char-rnn", recipe("min-char-rnn", **common, **{"train.eval_every": 10_000}), work)
    best = _run("best", recipe("default", **{
        **common, "model.cell": args.model, "model.hidden": args.hidden, "data.seq_len": args.seq_len,
        "train.batch_size": args.batch, "train.optimizer": "adam", "train.lr": args.lr, "train.eval_every": 200,
        "train.threads": args.best_threads}), work)
    target = base["val_loss"]
    reach = next((t for t, _, v in best["curve"] if v <= target), None)
    result = {
        "benchmark": "charrnn_speed", "date": started,
        "command": "python benchmarks/charrnn_speed.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k != "work"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "load_before": load_before,
                    "load_after": _load(), "note": f"1 BLAS thread for min-char-rnn, {args.best_threads} for best; "
                                         "other jobs may share the box (see load)"},
        "budget_s": args.budget, "min_char_rnn": base, "best": best,
        "speedup_vs_min_char_rnn_mode": best["chars_per_sec"] / base["chars_per_sec"],
        "gist_anchor_chars_per_sec": GIST_CHARS_PER_SEC,
        "speedup_vs_gist_anchor": best["chars_per_sec"] / GIST_CHARS_PER_SEC,
        "min_char_rnn_mode_vs_gist_anchor": base["chars_per_sec"] / GIST_CHARS_PER_SEC,
        "time_to_baseline_val": {"target_val_loss": target, "min_char_rnn_s": base["train_seconds"],
                                 "best_s": reach,
                                 "time_speedup": None if reach is None else base["train_seconds"] / reach},
        "environment": environment(),
    }
    out = Path(args.out) / "charrnn_speed.json"
    write_json(out, result)
    print(f"best {best['chars_per_sec']:,.0f} vs min-char-rnn mode {base['chars_per_sec']:,.0f} chars/s "
          f"({result['speedup_vs_min_char_rnn_mode']:.1f}x; {result['speedup_vs_gist_anchor']:.1f}x the "
          f"gist's 5.6k); baseline val {target:.4f} after {base['train_seconds']:.0f} s, best reached it "
          f"after {reach if reach is None else round(reach, 1)} s -> {out}")


if __name__ == "__main__":
    main()
