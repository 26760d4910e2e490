"""Benchmark: char models on Tiny Shakespeare, validation nats/char within a 10-minute training budget.

    python benchmarks/charrnn_shakespeare.py --backend numpy [--budget 600] [--threads 1]
    python benchmarks/charrnn_shakespeare.py --backend torch [--budget 600] [--threads 1]

Targets (issue 4): NumPy model <= 1.9 and torch LSTM <= 1.75 validation nats/char within 10 minutes on 2 CPU
cores. The budget is training wall time including the periodic (capped) validation passes; the reported loss
is then measured once on the whole held-out split (the last 10 %, 111,540 characters, nanoGPT's split).
Results are merged into ``<out>/charrnn_shakespeare.json`` under the backend's name.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from latentworks.pipelines.charrnn import train_charrnn
from latentworks.recipes.charrnn import recipe
from latentworks.runs import cpu_model as _cpu_model  # noqa: E402
from latentworks.runs import environment, write_json
from latentworks.runs import load_average as _load

# Each backend's recipe and the benchmark's settings as dotted overrides of it.
RECIPES = {"numpy": "default", "torch": "torch-lstm"}
PRESETS = {
    # From-scratch NumPy vanilla RNN: the fastest route to a low loss per wall-clock second on one core.
    "numpy": {"model.cell": "rnn", "model.hidden": 256, "data.seq_len": 50, "train.batch_size": 64,
              "train.optimizer": "adam", "train.lr": 2e-3, "train.eval_every": 500, "eval.val_batches": 20},
    # torch LSTM 2 x 256 on random 100-character windows (char-rnn's architecture, fewer steps).
    "torch": {"model.hidden": 256, "model.layers": 2, "model.embed_dim": 64, "data.seq_len": 100,
              "train.batch_size": 32, "train.optimizer": "adam", "train.lr": 3e-3, "train.eval_every": 200,
              "eval.val_batches": 5},
}
TARGETS = {"numpy": 1.9, "torch": 1.75}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", required=True, choices=sorted(PRESETS))
    ap.add_argument("--budget", type=float, default=600, help="training wall-clock seconds")
    ap.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    ap.add_argument("--text", default="tinyshakespeare")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="benchmarks/out")
    ap.add_argument("--run-dir", help="run folder (default <out>/charrnn_shakespeare_<backend>)")
    args = ap.parse_args()
    run_dir = Path(args.run_dir or Path(args.out) / f"charrnn_shakespeare_{args.backend}")
    cfg = recipe(RECIPES[args.backend], **{
        "data.text": args.text, "train.steps": 10**9, "train.time_limit_s": args.budget,
        "train.threads": args.threads, "train.device": args.device, "eval.sample_every": 10**9,
        "train.checkpoint_every": 10**9, "train.progress": False, "eval.primes": ["ROMEO:\n", "Harr"],
        **PRESETS[args.backend]})
    started, load_before, t0 = time.strftime("%Y-%m-%d %H:%M:%S %Z"), _load(), time.perf_counter()
    res = train_charrnn(cfg, run_dir, overwrite=True)  # every run retrains; an earlier one is moved aside
    entry = {
        "date": started, "command": f"python benchmarks/charrnn_shakespeare.py --backend {args.backend} "
                                    f"--budget {args.budget:g} --threads {args.threads}",
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "load_before": load_before,
                    "load_after": _load(), "note": "2 cores shared with other jobs"},
        "preset": PRESETS[args.backend], "budget_s": args.budget, "threads": args.threads,
        "val_loss": res["val_loss"], "target": TARGETS[args.backend],
        "met": res["val_loss"] <= TARGETS[args.backend],
        "val_acc": res["val_acc"], "train_loss": res["train_loss"], "steps": res["steps"],
        "train_seconds": res["train_seconds"], "chars_per_sec": res["chars_per_sec"],
        "epochs_of_text": res["epochs_of_text"], "parameters": res.get("parameters"),
        "total_seconds": time.perf_counter() - t0, "samples": res["samples"],
        "completions": res["completions"],
        "run_dir": str(run_dir), "environment": environment(),
    }
    out = Path(args.out) / "charrnn_shakespeare.json"
    merged = json.loads(out.read_text()) if out.is_file() else {"benchmark": "charrnn_shakespeare"}
    merged[args.backend] = entry
    write_json(out, merged)
    print(f"{args.backend}: val {res['val_loss']:.4f} nats/char (target {TARGETS[args.backend]}) after "
          f"{res['steps']} steps, {res['chars_per_sec']:,.0f} chars/s, load {load_before} -> {_load()}")


if __name__ == "__main__":
    main()
