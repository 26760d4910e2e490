"""Benchmark: char models on Tiny Shakespeare, validation nats/char within a 10-minute training budget.

    python benchmarks/charrnn_shakespeare.py --models torch-10min torch [--budget 600] [--threads 2]
    python benchmarks/charrnn_shakespeare.py --models numpy --threads 1
    python benchmarks/charrnn_shakespeare.py --models torch-10min --no-bf16 [--carry-state]

Each model trains in turn, in one invocation, for ``--budget`` seconds of training wall time (periodic, capped
validation passes excluded); its loss is then measured once on the whole held-out split (the last 10 %, 111,540
characters, nanoGPT's split). Beside it, the run records its validation curve against training seconds: the
periodic passes read ``eval.val_batches`` chunks, and a step's time is its share of the run's training seconds
(the step cost is flat for these models). Anchors: nanoGPT's baby GPT 1.4697 (~3 min on one A100) and its CPU
recipe 1.88.

* ``numpy``: the from-scratch NumPy vanilla RNN (target <= 1.9, issue 4);
* ``torch``: the ``torch-lstm`` recipe as earlier rounds benchmarked it (2 x 256, T 100, B 32, Adam 3e-3, constant
  rate; target <= 1.75, issue 4);
* ``torch-10min``: the ``shakespeare-10min`` recipe as it ships (issue 28: <= 1.45 within 10 minutes on 2 cores).

Results are merged into ``<out>/charrnn_shakespeare.json`` under each model's name; the curves of every model it
holds are drawn in ``<out>/charrnn_shakespeare.png``. ``--no-bf16`` runs the recipe in float32 (a CPU without
bfloat16 units refuses ``--bf16``); ``--carry-state`` carries each row's LSTM state to its next window; both are
recorded in the model's entry, which is named after them (``torch-10min+fp32+carry``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from latentworks.pipelines.charrnn import train_charrnn
from latentworks.recipes.charrnn import recipe
from latentworks.report.plots import line_plot
from latentworks.runs import cpu_model as _cpu_model
from latentworks.runs import environment, read_json, write_json
from latentworks.runs import load_average as _load

# Each model: its recipe and the benchmark's settings as dotted overrides of it.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    # From-scratch NumPy vanilla RNN: the fastest route to a low loss per wall-clock second on one core.
    "numpy": ("default", {"model.cell": "rnn", "model.hidden": 256, "data.seq_len": 50, "train.batch_size": 64,
                          "train.optimizer": "adam", "train.lr": 2e-3, "train.eval_every": 500,
                          "eval.val_batches": 20}),
    # torch LSTM 2 x 256 on random 100-character windows (char-rnn's architecture, fewer steps).
    "torch": ("torch-lstm", {"model.hidden": 256, "model.layers": 2, "model.embed_dim": 64, "data.seq_len": 100,
                             "train.batch_size": 32, "train.optimizer": "adam", "train.lr": 3e-3,
                             "train.eval_every": 200, "eval.val_batches": 5}),
    # The recipe as it ships: its step count is what fits 10 minutes on the development box.
    "torch-10min": ("shakespeare-10min", {}),
}
TARGETS = {"numpy": 1.9, "torch": 1.75, "torch-10min": 1.45}
ANCHORS = {"nanoGPT baby GPT (A100)": 1.4697, "nanoGPT CPU recipe": 1.88}


def entry_name(name: str, args: argparse.Namespace) -> str:
    """The model's name with the variant flags it ran under (they change only the torch models)."""
    variant = "".join(tag for tag, on in (("+fp32", args.no_bf16), ("+carry", args.carry_state)) if on)
    return name + variant if name.startswith("torch") else name


def run_model(name: str, args: argparse.Namespace) -> dict[str, Any]:
    run_dir = Path(args.run_dir or args.out) / f"charrnn_shakespeare_{entry_name(name, args)}"
    recipe_name, preset = MODELS[name]
    changes = {"data.text": args.text, "train.device": args.device, "eval.sample_every": 10**9,
               "train.checkpoint_every": 10**9, "train.progress": False, "eval.primes": ["ROMEO:\n", "Harr"],
               **preset}
    if args.threads is not None:
        changes["train.threads"] = args.threads
    if name.startswith("torch") and args.no_bf16:
        changes["model.bf16"] = False
    if name.startswith("torch") and args.carry_state:
        changes["model.carry_state"] = True
    if name != "torch-10min":  # the older models run for the budget; the recipe stops at its own step count
        changes.update({"train.steps": 10**9, "train.time_limit_s": args.budget or 600})
    elif args.budget is not None:
        changes["train.time_limit_s"] = args.budget
    cfg = recipe(recipe_name, **changes)
    started, load_before, t0 = time.strftime("%Y-%m-%d %H:%M:%S %Z"), _load(), time.perf_counter()
    res = train_charrnn(cfg, run_dir, overwrite=True)  # every run retrains; an earlier one is moved aside
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    per_step = res["train_seconds"] / max(res["steps"], 1)
    curve = [(round(r["step"] * per_step, 1), r["eval/val_loss"]) for r in rows if "eval/val_loss" in r]
    print(f"{name}: val {res['val_loss']:.4f} nats/char (target {TARGETS[name]}) after {res['steps']} steps, "
          f"{res['train_seconds']:.0f} s, {res['chars_per_sec']:,.0f} chars/s, load {load_before} -> {_load()}")
    return {
        "date": started, "recipe": recipe_name, "preset": preset, "threads": cfg.train.threads,
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "load_before": load_before,
                    "load_after": _load()},
        "val_loss": res["val_loss"], "target": TARGETS[name], "met": res["val_loss"] <= TARGETS[name],
        "val_acc": res["val_acc"], "train_loss": res["train_loss"], "steps": res["steps"],
        "train_seconds": res["train_seconds"], "chars_per_sec": res["chars_per_sec"],
        "epochs_of_text": res["epochs_of_text"], "parameters": res.get("parameters"),
        "curve_seconds_val_loss": curve, "total_seconds": time.perf_counter() - t0, "samples": res["samples"],
        "completions": res["completions"], "run_dir": str(run_dir), "environment": environment(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["torch-10min", "torch"])
    ap.add_argument("--backend", choices=["numpy", "torch"], help="one model (the earlier rounds' flag)")
    ap.add_argument("--budget", type=float, help="training wall-clock seconds (default 600; the torch-10min "
                                                 "recipe stops at its own step count, within 600 s on our box)")
    ap.add_argument("--threads", type=int, help="BLAS / torch threads (default: each recipe's)")
    ap.add_argument("--no-bf16", action="store_true", help="the torch models in float32")
    ap.add_argument("--carry-state", action="store_true", help="the torch models carry state between windows")
    ap.add_argument("--text", default="tinyshakespeare")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="benchmarks/out")
    ap.add_argument("--run-dir", help="folder for the run folders (default --out)")
    args = ap.parse_args(argv)
    models = [args.backend] if args.backend else args.models
    command = "python benchmarks/charrnn_shakespeare.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out) / "charrnn_shakespeare.json"
    merged = read_json(out) if out.is_file() else {"benchmark": "charrnn_shakespeare"}
    if (args.no_bf16 or args.carry_state) and not any(m.startswith("torch") for m in models):
        ap.error("--no-bf16 and --carry-state change the torch models; add one to --models")
    for name in models:
        merged[entry_name(name, args)] = {**run_model(name, args), "command": command}
        write_json(out, merged)
    # Every model the JSON holds a curve for, this invocation's and earlier ones', each labelled with its date.
    curves = {f"{name} ({entry['date'][:16]})": ([s for s, _ in entry["curve_seconds_val_loss"]],
                                                [v for _, v in entry["curve_seconds_val_loss"]])
              for name, entry in merged.items() if isinstance(entry, dict) and entry.get("curve_seconds_val_loss")}
    end = max(max(xs, default=0) for xs, _ in curves.values())
    anchors = {label: ([0, end], [value, value]) for label, value in ANCHORS.items()}
    line_plot({**curves, **anchors}, Path(args.out) / "charrnn_shakespeare.png",
              styles={label: "--" for label in anchors}, title="Tiny Shakespeare: validation loss vs training time",
              xlabel="training seconds (2-core CPU)", ylabel="val nats/char (periodic passes)", ylim=(1.3, 2.6))
    return merged


if __name__ == "__main__":
    main()
