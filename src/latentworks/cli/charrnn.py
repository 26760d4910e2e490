"""``latentworks charrnn train | sample | study``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from latentworks.errors import LatentworksError


def add_parser(sub) -> None:
    p = sub.add_parser("charrnn", help="character RNNs: NumPy from scratch or torch LSTM, sampling, studies")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = verbs.add_parser("train", help="train a character model and report held-out nats/char")
    t.add_argument("--text", default="default",
                   help="UTF-8 file, 'default' (stdlib pydoc topics) or 'tinyshakespeare' (data folders)")
    t.add_argument("--ascii", dest="ascii_only", action="store_true",
                   help="keep printable ASCII only (case kept)")
    t.add_argument("--backend", default="numpy", choices=["numpy", "torch"],
                   help="numpy: from-scratch RNN/LSTM (default); torch: multi-layer LSTM (CPU/GPU, torchrun)")
    t.add_argument("--model", choices=["rnn", "lstm"], help="numpy: rnn (default) or lstm; torch: lstm")
    t.add_argument("--hidden", type=int, help="hidden units (default 256)")
    t.add_argument("--layers", type=int, help="torch LSTM layers (default 2)")
    t.add_argument("--embed-dim", type=int, help="torch: character embedding size (default 64)")
    t.add_argument("--dropout", type=float, help="torch: dropout between layers (default 0)")
    t.add_argument("--seq-len", type=int, help="characters per BPTT chunk / training window (default 50)")
    t.add_argument("--batch", type=int, help="sequences per step (default 32)")
    t.add_argument("--optimizer", choices=["sgd", "rmsprop", "adam", "adagrad", "adamw"], help="default adam")
    t.add_argument("--lr", type=float, help="learning rate (default 2e-3)")
    t.add_argument("--steps", type=int, help="optimizer steps (default 2000)")
    t.add_argument("--clip", choices=["elementwise", "norm", "none"],
                   help="numpy: element-wise (default) or global-norm clipping; torch clips the global norm")
    t.add_argument("--clip-value", type=float, help="clip threshold (default 5)")
    t.add_argument("--schedule", choices=["constant", "cosine", "linear", "onecycle"],
                   help="torch LR schedule")
    t.add_argument("--min-char-rnn", action="store_true",
                   help="Karpathy's recipe: RNN, H 100, T 25, batch 1, Adagrad 0.1, clip +-5 "
                        "(given options override)")
    t.add_argument("--eval-every", type=int, help="steps between validation passes (default 500)")
    t.add_argument("--sample-every", type=int, help="steps between printed samples (default 500)")
    t.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 500)")
    t.add_argument("--primes", help="comma-separated priming strings for samples (default 'The ,Harr')")
    t.add_argument("--temperatures", help="comma-separated sampling temperatures (default 0.8)")
    t.add_argument("--threads", type=int, help="BLAS / torch threads (numpy default 1)")
    t.add_argument("--time-limit", dest="time_limit_s", type=float,
                   help="stop after this many seconds of training (as if --steps were reached)")
    t.add_argument("--out", required=True, help="run folder to write")
    t.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    _common(t)
    t.set_defaults(handler=_train)

    s = verbs.add_parser("sample", help="generate text from a trained run (either backend)")
    s.add_argument("run_dir")
    s.add_argument("--prime", default="The ", help="text to warm the state up on (default 'The ')")
    s.add_argument("--temperature", type=float, default=0.8, help="0 = greedy argmax")
    s.add_argument("--length", type=int, default=1000)
    s.add_argument("--top-k", type=int, help="sample only among the k most likely characters")
    s.add_argument("--seed", type=int, default=0, help="same seed, same text")
    s.add_argument("-o", "--output", help="write the text (prime included) to this file instead of stdout")
    s.set_defaults(handler=_sample)

    st = verbs.add_parser("study", help="the char-RNN study alone: curves, optimizers, temperatures, grid")
    st.add_argument("--profile", default="quick", choices=["test", "quick", "full"])
    st.add_argument("--out", default="runs/charrnn-study")
    _common(st)
    st.set_defaults(handler=_study)


def _common(p: argparse.ArgumentParser) -> None:
    if not any(a.dest == "seed" for a in p._actions):
        p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same numbers on CPU)")
    p.add_argument("--data-dir", default=None, help="folder holding tinyshakespeare/input.txt")
    p.add_argument("--device", default="auto", help="torch backend: auto | cpu | cuda | cuda:N")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise LatentworksError(f"{name} must be numbers separated by commas, got {text!r}") from None
    if not values:
        raise LatentworksError(f"{name} is empty; pass e.g. 0.5,0.8")
    return values


def config_from_args(args):
    from latentworks.pipelines.charrnn import CharRNNConfig, find_text

    names = ("model", "hidden", "layers", "embed_dim", "dropout", "seq_len", "batch", "optimizer", "lr",
             "steps", "clip", "clip_value", "schedule", "eval_every", "sample_every", "checkpoint_every",
             "threads", "time_limit_s")
    kw = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.primes is not None:
        kw["primes"] = [p for p in args.primes.split(",") if p]
    if args.temperatures is not None:
        kw["temperatures"] = _floats(args.temperatures, "--temperatures")
    kw.update(text=find_text(args.text, args.data_dir), ascii_only=args.ascii_only, backend=args.backend,
              seed=args.seed, device=args.device, progress=args.progress)
    return CharRNNConfig.min_char_rnn_recipe(**kw) if args.min_char_rnn else CharRNNConfig(**kw)


def _train(args) -> int:
    from latentworks.pipelines.charrnn import train_charrnn

    res = train_charrnn(config_from_args(args), args.out, resume=args.resume)
    if res is not None:
        keys = ("val_loss", "val_acc", "train_loss", "chars_per_sec", "steps", "elapsed_s",
                "completion_hits")
        print(json.dumps({"out": args.out, **{k: res.get(k) for k in keys}, "samples": res["samples"]}))
    return 0


def _sample(args) -> int:
    from latentworks.pipelines.charrnn import sample_charrnn

    text = args.prime + sample_charrnn(args.run_dir, args.prime, args.temperature, args.length, args.top_k,
                                       args.seed)
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {len(text)} characters to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def _study(args) -> int:
    from latentworks.studies.registry import run_study

    summary = run_study(args.profile, args.out, only=["charrnn"], data_dir=args.data_dir, seed=args.seed,
                        progress=args.progress, device=args.device)
    print(json.dumps({"out": args.out, "report": str(Path(args.out) / "report.html"),
                      "metrics": summary["studies"]["charrnn"]["metrics"]}))
    return 0
