"""Benchmark: the NumPy RNN's forward + backward alone (no optimizer, no data loading), chars/s.

    python benchmarks/charrnn_kernel.py [--seconds 3] [--out benchmarks/out]

It bounds what any training setting can reach: ``charrnn_speed.py`` times whole training runs, this times the
BPTT kernel for a grid of (threads, hidden, batch, seq_len) on random ids (vocabulary 65, as Tiny Shakespeare).
Writes ``<out>/charrnn_kernel.json``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from latentworks.models.numpy_char_rnn import NumpyCharConfig, NumpyRNN
from latentworks.runs import cpu_model, environment, load_average, write_json

GRID = [(100, 1, 25), (100, 128, 50), (100, 256, 50), (100, 512, 50), (100, 1024, 25), (128, 512, 50)]


def chars_per_sec(hidden: int, batch: int, seq_len: int, seconds: float, vocab: int = 65) -> float:
    rng = np.random.default_rng(0)
    model = NumpyRNN.init(NumpyCharConfig(hidden=hidden, vocab_size=vocab), rng)
    x, y = rng.integers(0, vocab, (batch, seq_len)), rng.integers(0, vocab, (batch, seq_len))
    model.forward_backward(x, y)  # warm-up
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.forward_backward(x, y)
        n += 1
    return n * batch * seq_len / (time.perf_counter() - started)


def main() -> None:
    from threadpoolctl import threadpool_limits

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="timing window per setting")
    ap.add_argument("--out", default="benchmarks/out")
    args = ap.parse_args()
    rows, load_before = [], load_average()
    for threads in (1, 2):
        with threadpool_limits(threads, "blas"):
            for hidden, batch, seq_len in GRID:
                rate = chars_per_sec(hidden, batch, seq_len, args.seconds)
                rows.append({"threads": threads, "hidden": hidden, "batch": batch, "seq_len": seq_len,
                             "chars_per_sec": round(rate)})
                print(f"threads {threads} H {hidden} B {batch:4d} T {seq_len}: {rate:10,.0f} chars/s", flush=True)
    out = Path(args.out) / "charrnn_kernel.json"
    write_json(out, {"benchmark": "charrnn_kernel", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                     "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_before": load_before,
                                 "load_after": load_average()},
                     "rows": rows, "environment": environment()})
    print(out)


if __name__ == "__main__":
    main()
