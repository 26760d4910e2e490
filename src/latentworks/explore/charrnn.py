"""Char-RNN runs: text generated after a prime, streamed as it comes.

Generation is incremental: one stream per request (``CharLSTM.stream`` or ``numpy_char_rnn.stream``) carries
the recurrent state from character to character, and the response sends what is new every few characters as
one NDJSON line ``{"text": "..."}``; the last line is ``{"done": true, "chars": N, "seconds": S}``. The
model lock is taken per chunk, so a long generation never holds up the other runs' requests for long.

This is the family's explorer module (its registry entry names it): :func:`load`, :func:`describe`,
:func:`title`, :func:`what`, :func:`capabilities` and :data:`ROUTES` say what a char-RNN run is to the page.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from fastapi.responses import StreamingResponse

from latentworks import registry
from latentworks.data.text import Vocab
from latentworks.errors import LatentworksError
from latentworks.explore import schemas
from latentworks.explore.routes import Route
from latentworks.explore.runs import Run, Runs
from latentworks.models.io import load_model
from latentworks.pipelines.charrnn import backend_of
from latentworks.runs import read_json

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


def _generate(runs: Runs, family: str | None) -> Callable[..., Any]:
    def generate(req: schemas.GenerateRequest):  # no return type: a stream or JSON, so no response model
        run = runs.get(req.run, family)
        if not req.stream:
            return generate_all(run, req, runs.compute)
        ids = start(run, req)  # bad options fail here, as a 4xx, before the stream starts
        return StreamingResponse(lines(run, ids, runs.compute), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return generate


# ------------------------------------------------------------------ what a char-RNN run is to the page


def load(run: Run) -> None:
    """The model (CPU, eval mode), its vocabulary, its backend and a prime its vocabulary can spell."""
    path = run.path
    if not (path / "vocab.json").is_file():
        raise LatentworksError(f"{path / 'vocab.json'} is missing; the char-RNN run folder is incomplete, retrain it")
    try:
        vocab = Vocab.from_json(read_json(path / "vocab.json"))
    except (KeyError, TypeError, ValueError) as err:
        raise LatentworksError(f"{path / 'vocab.json'} is damaged ({type(err).__name__}); retrain the run") from None
    run.model = load_model(path, expect=registry.kind_names(run.family), map_location="cpu")
    prime = next((p for p in ("The ", "Harr", "the ") if set(p) <= set(vocab.chars)), vocab.chars[0])
    run.extra = {"vocab": vocab, "backend": backend_of(run.model), "example_prime": prime}


VIEW = "charrnn.js"  # the page's module that shows these runs (static/charrnn.js), loaded by the run picker


def describe(run: Run) -> dict[str, Any]:
    """What ``GET /api/runs`` adds: the vocabulary's size, the backend and a prime to start from."""
    return {"vocab_size": run.extra["vocab"].size, "backend": run.extra["backend"],
            "example_prime": run.extra["example_prime"]}


def title(run: Run) -> str:
    return f"char-RNN · {registry.kind(run.kind).title} · {run.extra['vocab'].size} characters"


def what(run: Run) -> str:
    """The model, as the run picker's label names it."""
    return run.kind_title()


def capabilities(run: Run) -> list[str]:
    return ["generate", "stream"]


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/charrnn/generate",
          "`{run, prime (1..500 chars), length: 1..2000, temperature: 0..5, top_k?, seed, stream}`",
          "NDJSON lines (below), or `{prime, text}` with `stream: false`", _generate),
)

__all__ = ["ROUTES", "capabilities", "describe", "generate_all", "lines", "load", "start", "title", "what"]
