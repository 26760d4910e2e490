"""Benchmark: the course's text→text model at the course's settings, ours against its Keras peer, paired.

    pip install -e ".[keras-peer]"          # TensorFlow (CPU) and Keras 3: only this benchmark needs them
    python benchmarks/keras_peer.py [--pairs 2] [--train-fraction 0.1] [--seed 0] [--threads 1]
                                    [--keras-threads 0] [--out benchmarks/out]

Both sides train the model of ``../shared/reference/course-notebooks.md`` §2 (V23): one-hot characters (13) →
LSTM 256 → repeat 3 → LSTM 256 (sequences) → per-step softmax over 13, categorical cross-entropy, Adam 1e-3, 20
epochs of batch 8 with a reshuffle every epoch (the hedzd V23 copy's settings, §3.1), on the same queries:
latentworks' V23 data and its split (``split_queries``, split seed 0). Ours is ``latentworks arithmetic train
--preset course`` (Keras initialisers); theirs is written here from that description in Keras 3 on TensorFlow
(its own default initialisers are the same kind). Runs alternate, ours first, each in its own process, so
neither library's threads or memory sit beside the other's.

Recorded per run: the training time (ours: ``train.seconds`` of results.json less its ``eval_seconds``, the
per-epoch curve points on 2 × 1,000 queries that Keras's ``fit`` does not compute, both also recorded; theirs:
the time spent in ``fit``), training examples/s from it, the whole process's wall time, exact match and
per-char on the whole held-out split (both scored by ``metrics.arithmetic.score_answers``), the threads, and the
load average before and after. Writes ``<out>/keras_peer.json``. Exits 2, saying how to install, when TensorFlow
is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from latentworks.data.arithmetic import ArithmeticSpec, decode, one_hot
from latentworks.data.arithmetic_dataset import build_text_dataset, split_queries
from latentworks.metrics.arithmetic import score_answers
from latentworks.runs import cpu_model, load_average, read_json, write_json

INSTALL = 'the Keras peer needs TensorFlow: pip install -e ".[keras-peer]" (tensorflow-cpu, Keras 3 with it)'
EPOCHS, BATCH, HIDDEN = 20, 8, 256  # the course's settings (course-notebooks.md §3.1, hedzd V23 copy)


def _split(fraction: float) -> tuple:
    """(train, test) of latentworks' V23 queries, split as ``latentworks arithmetic train`` splits them."""
    spec = ArithmeticSpec()
    data = build_text_dataset(spec)
    train_idx, test_idx = split_queries(len(data), fraction, 0)
    return spec, data.subset(train_idx), data.subset(test_idx)


def keras_child(args: argparse.Namespace) -> None:
    """Train and score the Keras model in this process; write its record to ``args.child``."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if args.keras_threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.keras_threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.keras_threads)
    keras.utils.set_random_seed(args.seed)
    spec, train, test = _split(args.train_fraction)
    vocab = spec.vocab_size
    x_train, y_train = one_hot(train.x, vocab), one_hot(train.y, vocab)
    model = keras.Sequential([
        keras.Input((None, vocab)),
        keras.layers.LSTM(HIDDEN),
        keras.layers.RepeatVector(spec.answer_len),
        keras.layers.LSTM(HIDDEN, return_sequences=True),
        keras.layers.TimeDistributed(keras.layers.Dense(vocab, activation="softmax")),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    fit_start, fit_cpu = time.perf_counter(), time.process_time()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=BATCH, verbose=0)
    fit_seconds, fit_cpu = time.perf_counter() - fit_start, time.process_time() - fit_cpu
    probs = model.predict(one_hot(test.x, vocab), batch_size=1024, verbose=0)
    scores = score_answers(decode(probs.argmax(-1), spec), test.answers)
    write_json(Path(args.child), {
        "train_seconds": round(fit_seconds, 2),
        "examples_per_sec": round(len(train) * args.epochs / fit_seconds, 1), "train_cpu_seconds": round(fit_cpu, 2),
        "exact_match": scores.exact_match, "char_accuracy": scores.char_accuracy, "test_queries": scores.n,
        "parameters": int(model.count_params()),
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)",
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "default (all cores)"},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__}})


def _ours(args: argparse.Namespace, work: Path) -> dict:
    out = work / "run"
    cmd = [sys.executable, "-m", "latentworks", "arithmetic", "train", "--task", "text2text", "--preset", "course",
           "--train-fraction", str(args.train_fraction), "--seed", str(args.seed), "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--no-progress", "--out", str(out)]
    with _clock() as took:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    results = read_json(out / "results.json")
    test, train = results["test"], results["train"]
    steps_only = train["seconds"] - train["eval_seconds"]  # Keras's fit computes no curve points
    return {"train_seconds": round(steps_only, 2), "fit_seconds": train["seconds"],
            "eval_seconds": train["eval_seconds"],
            "examples_per_sec": round(train["queries"] * args.epochs / steps_only, 1),
            **took, "exact_match": test["exact_match"],
            "char_accuracy": test["char_accuracy"], "test_queries": test["n"], "parameters": train["parameters"],
            "threads": {"torch": args.threads}, "command": " ".join(cmd[1:])}


def _theirs(args: argparse.Namespace, work: Path) -> dict:
    record = work / "keras.json"
    cmd = [sys.executable, __file__, "--child", str(record), "--train-fraction", str(args.train_fraction),
           "--seed", str(args.seed), "--epochs", str(args.epochs), "--keras-threads", str(args.keras_threads)]
    with _clock() as took:
        subprocess.run(cmd, check=True)
    return {**json.loads(record.read_text()), **took}


@contextlib.contextmanager
def _clock() -> Iterator[dict[str, float]]:
    """The wall time and the CPU time (all threads, user + system) of the child processes run inside."""
    took: dict[str, float] = {}
    wall, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    yield took
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    took["process_seconds"] = round(time.perf_counter() - wall, 2)
    took["process_cpu_seconds"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)


def _summary(runs: list[dict]) -> dict:
    side = {name: [r for r in runs if r["side"] == name] for name in ("ours", "keras")}
    pairs = [k["train_seconds"] / o["train_seconds"] for o, k in zip(side["ours"], side["keras"])]
    fits = [k["train_seconds"] / o["fit_seconds"] for o, k in zip(side["ours"], side["keras"])]
    walls = [k["process_seconds"] / o["process_seconds"] for o, k in zip(side["ours"], side["keras"])]
    out = {name: {"train_seconds": [r["train_seconds"] for r in rs], "examples_per_sec": [r["examples_per_sec"]
                  for r in rs], "exact_match": rs[0]["exact_match"], "char_accuracy": rs[0]["char_accuracy"]}
           for name, rs in side.items()}
    out["speedup_per_pair"] = [round(s, 2) for s in pairs]
    out["speedup_median"] = round(statistics.median(pairs), 2)
    out["speedup_with_our_curves_per_pair"] = [round(s, 2) for s in fits]
    out["process_speedup_per_pair"] = [round(s, 2) for s in walls]
    out["process_cpu_ratio_per_pair"] = [round(k["process_cpu_seconds"] / o["process_cpu_seconds"], 2)
                                         for o, k in zip(side["ours"], side["keras"])]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=2, help="(ours, theirs) pairs, run alternately")
    ap.add_argument("--train-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=EPOCHS, help="the course's 20; fewer only to try the script")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for ours (the RNN recipes pin one)")
    ap.add_argument("--keras-threads", type=int, default=0, help="TensorFlow intra/inter-op threads (0: its default)")
    ap.add_argument("--out", default="benchmarks/out")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: train the Keras side, write its record here
    args = ap.parse_args()
    if args.pairs < 1 or args.epochs < 1 or args.threads < 1 or args.keras_threads < 0:
        ap.error("--pairs, --epochs and --threads must be at least 1, --keras-threads at least 0")
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
        print(f"keras_peer: {INSTALL}", file=sys.stderr)
        sys.exit(2)
    if args.child:
        keras_child(args)
        return
    started, runs = time.strftime("%Y-%m-%d %H:%M:%S %Z"), []
    with tempfile.TemporaryDirectory(prefix="keras_peer_") as tmp:
        for i in range(args.pairs):
            for side, fn in (("ours", _ours), ("keras", _theirs)):
                work = Path(tmp) / f"{side}-{i}"
                work.mkdir()
                before = load_average()
                print(f"[{time.strftime('%H:%M:%S')}] pair {i + 1}, {side}: load {before}", flush=True)
                record = {"side": side, "pair": i + 1, "load_before": before, **fn(args, work),
                          "load_after": load_average()}
                print(f"  {record['train_seconds']:.1f} s training ({record['examples_per_sec']:,.0f} examples/s), "
                      f"exact {record['exact_match']:.2%}, per-char {record['char_accuracy']:.2%}", flush=True)
                runs.append(record)
    result = {"started": started, "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpu": cpu_model(),
              "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
              "settings": {"train_fraction": args.train_fraction, "seed": args.seed, "epochs": args.epochs,
                           "batch": BATCH, "hidden": HIDDEN, "split_seed": 0},
              "summary": _summary(runs), "runs": runs}
    path = Path(args.out) / "keras_peer.json"
    write_json(path, result)
    s = result["summary"]
    print(f"training time, Keras / ours per pair: {s['speedup_per_pair']} (median {s['speedup_median']}×); "
          f"wrote {path}")


if __name__ == "__main__":
    main()
