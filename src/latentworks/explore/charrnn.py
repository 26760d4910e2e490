"""Char-RNN runs: text generated after a prime, streamed as it comes.

Generation is incremental: one stream per request (``CharLSTM.stream`` or ``numpy_char_rnn.stream``) carries
the recurrent state from character to character, and the response sends what is new every few characters as
one NDJSON line ``{"text": "..."}``; the last line is ``{"done": true, "chars": N, "seconds": S}``. The
model lock is taken per chunk, so a long generation never holds up the other runs' requests for long.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from latentworks.explore import schemas
from latentworks.explore.runs import Run

CHUNK_CHARS = 16
CHUNK_SECONDS = 0.05


def start(run: Run, req: schemas.GenerateRequest) -> Iterator[int]:
    """The id stream for a request, with every option checked before the first character."""
    vocab, model = run.extra["vocab"], run.model
    ids = vocab.encode(req.prime)  # a character outside the vocabulary is a one-line LatentworksError
    top_k = req.top_k if req.top_k is not None and req.top_k < vocab.size else None
    rng = np.random.default_rng(req.seed)
    if run.extra["backend"] == "numpy":
        from latentworks.models.numpy_char_rnn import stream

        return stream(model, ids, req.length, req.temperature, top_k, rng)
    return model.stream(ids, req.length, req.temperature, top_k, rng)


def _take(run: Run, ids: Iterator[int], lock: threading.Lock) -> list[int]:
    """The next chunk of ids, under the model lock (one intra-op thread: per-character steps are latency-bound)."""
    out: list[int] = []
    with lock:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            t0 = time.perf_counter()
            for i in ids:
                out.append(i)
                if len(out) >= CHUNK_CHARS or time.perf_counter() - t0 > CHUNK_SECONDS:
                    break
        finally:
            torch.set_num_threads(threads)
    return out


def lines(run: Run, ids: Iterator[int], lock: threading.Lock) -> Iterator[bytes]:
    """NDJSON lines of new text, then the closing line."""
    vocab, t0, total = run.extra["vocab"], time.perf_counter(), 0
    while True:
        chunk = _take(run, ids, lock)
        if not chunk:
            break
        total += len(chunk)
        yield (json.dumps({"text": vocab.decode(chunk)}) + "\n").encode()
    yield (json.dumps({"done": True, "chars": total, "seconds": round(time.perf_counter() - t0, 3)}) + "\n").encode()


def generate_all(run: Run, req: schemas.GenerateRequest, lock: threading.Lock) -> dict[str, Any]:
    ids = start(run, req)
    text = []
    while chunk := _take(run, ids, lock):
        text.append(run.extra["vocab"].decode(chunk))
    return {"prime": req.prime, "text": "".join(text)}


__all__ = ["generate_all", "lines", "start"]
