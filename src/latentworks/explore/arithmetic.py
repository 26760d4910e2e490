"""Arithmetic runs: answer a typed query (text, or the drawn answer for text→image), read a drawn or MNIST
handwritten query (image→text) and say what the model reads and what it answers.

"What it reads": the ``glyph-columns`` image→text model reads each glyph itself (its own CNN); for the others the
package's frozen digit reader reads the glyphs, which shows what the picture says to a good reader.

This is the family's explorer module (its registry entry names it): :func:`load`, :func:`describe`,
:func:`title`, :func:`what`, :func:`capabilities` and :data:`ROUTES` say what an arithmetic run is to the page;
what it can do follows from its task (:mod:`latentworks.pipelines.tasks`) and its kind's capabilities.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from latentworks import registry
from latentworks.data.arithmetic import encode, evaluate, format_query
from latentworks.data.glyphs import render_strip
from latentworks.errors import LatentworksError
from latentworks.explore import queries, schemas
from latentworks.explore.images import data_url, decode_base64, grey_array, mnist_cells, read_upload
from latentworks.explore.routes import Route, on_run
from latentworks.explore.runs import ApiError, Run
from latentworks.models.inference import inference
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import run_info
from latentworks.pipelines.tasks import task as task_of


@functools.lru_cache(maxsize=1)
def packaged_reader():
    """The frozen digit reader shipped with the package (None if it is missing)."""
    from latentworks.pipelines.digit_reader import PACKAGED_READER

    try:  # the kind that names digits, as the registry says (the packaged reader)
        return load_model(PACKAGED_READER, expect=registry.kind_names(capability="classify"))
    except LatentworksError:
        return None


def _read(run: Run, glyphs: torch.Tensor) -> tuple[str | None, str | None]:
    """What ``glyphs`` (1, L, 28, 28) uint8 say, and who read them: the model itself, else the packaged reader."""
    spec, model = run.extra["spec"], run.model
    if callable(getattr(model, "read", None)):
        with inference(model):
            ids = model.read(glyphs.float() / 255.0).argmax(-1)[0].tolist()
        return "".join(spec.charset[i] for i in ids), "model"
    reader = packaged_reader()
    if reader is None:
        return None, None
    from latentworks.pipelines.digit_reader import read_glyphs

    return read_glyphs(reader, glyphs, spec.charset)[0], "digit reader"


def _expected(run: Run, text: str | None) -> str | None:
    """The true answer of ``text`` (None when it is not a query of this run, e.g. a misread glyph)."""
    if not text or not text.strip():
        return None
    try:
        return str(evaluate(*queries.parse(run, text)))
    except LatentworksError:
        return None


def _sampler(run: Run):
    """MNIST test-split handwriting for this run's charset (the run's data folder, else the look-up, else the
    embedded sample), built once."""
    if "sampler" not in run.cache:
        from latentworks.pipelines.tasks import test_sampler

        data_dir = ((run.config or {}).get("data") or {}).get("data_dir")
        spec = run.extra["spec"]
        try:
            run.cache["sampler"] = test_sampler(spec, data_dir)
        except LatentworksError:
            run.cache["sampler"] = test_sampler(spec, "embedded")
    return run.cache["sampler"]


def _query_ids(run: Run, query: str) -> tuple[str, torch.Tensor, Any, Any]:
    """The query written as the model reads it, its ids, the model that answers it and that model's spec (the
    run's own, or both widened to longer operands)."""
    i, op, j = queries.parse(run, query)
    spec = queries.spec_for(run, i, j)
    model = queries.model_for(run, spec)  # one line when this model cannot take operands that long
    text = format_query(i, op, j, spec)
    return text, torch.from_numpy(encode([text], spec)), model, spec


def handwriting(run: Run, req: schemas.HandwritingRequest) -> dict[str, Any]:
    """A query (given, or random from ``seed``) written with MNIST test-split digits, as a 28-pixel strip."""
    if not task_of(run.extra["task"]).images_in:
        raise ApiError(f"run {run.id!r} is a {run.extra['task']} run; handwriting is for image→text runs")
    spec = run.extra["spec"]
    query = req.query
    if query is None or not query.strip():
        rng = np.random.default_rng(req.seed)
        i, j = (int(v) for v in rng.integers(0, spec.max_int + 1, size=2))
        query = f"{i}{spec.ops[int(rng.integers(len(spec.ops)))]}{j}"
    text, x, _, _ = _query_ids(run, query)
    glyphs = _sampler(run).render(x, torch.Generator().manual_seed(req.seed))
    return {"query": text, "image": data_url(render_strip(glyphs[0].numpy())), "seed": req.seed}


def answer(run: Run, req: schemas.AnswerRequest) -> dict[str, Any]:
    """The model's answer, the true answer, and where the query stands against training (``split``); image→text
    runs add what was read and the true answer of that reading, so a misreading and a miscalculation differ."""
    task, spec = run.extra["task"], run.extra["spec"]
    t = task_of(task)
    if t.images_in:
        return _answer_handwriting(run, req)
    if not req.query.strip():
        raise ApiError(f"empty query; type one such as '12{spec.ops[0]}34'")
    text, x, model, wide = _query_ids(run, req.query)
    told = {"task": task, "query": text, "expected": _expected(run, text), **queries.tag_text(run, text)}
    if not t.images_out:
        return {**told, "answer": t.respond(model, x, wide)}
    images = torch.from_numpy(t.respond(model, x, spec, seed=req.seed)).clamp(0, 1)
    reader = packaged_reader()
    read = None
    if reader is not None:
        from latentworks.pipelines.digit_reader import read_glyphs

        read = read_glyphs(reader, images[None], spec.charset)[0]
    return {**told, "answer_image": data_url(render_strip((images.numpy() * 255).round().astype(np.uint8))),
            "read": read, "read_by": "digit reader" if read else None}


def _answer_handwriting(run: Run, req: schemas.AnswerRequest) -> dict[str, Any]:
    """Read the drawn or handwritten query, then answer: the reading (the model's own where it reads glyphs into
    symbols; else the digit reader's, which the model never sees: it reads and computes in one step)."""
    task, spec, model = run.extra["task"], run.extra["spec"], run.model
    if req.image:
        strip = grey_array(read_upload(decode_base64(req.image)))
        glyphs = torch.from_numpy(mnist_cells(strip, spec.query_len))[None]
        text = _query_ids(run, req.query)[0] if req.query.strip() else None
    else:
        if not req.query.strip():
            raise ApiError("send a query to draw in MNIST test handwriting, or image: the query drawn")
        text, x, _, _ = _query_ids(run, req.query)
        glyphs = _sampler(run).render(x, torch.Generator().manual_seed(req.seed))
    read, read_by = _read(run, glyphs)
    read_expected = _expected(run, read)
    # model_reads: "symbols" (it reads each glyph into a character, shown), "invented" (into classes of its own,
    # which have no names), "none" (pixels to answer in one step); only "symbols" makes the reading its own
    reads = "symbols" if read_by == "model" else "invented" if hasattr(model, "symbol_of") else "none"
    return {"task": task, "query": text, "read": read, "read_by": read_by, "model_reads": reads,
            "answer": task_of(task).respond(model, glyphs, spec), "read_expected": read_expected,
            "expected": _expected(run, text) if text else read_expected,
            **queries.tag_text(run, text or read), "split_of": "query" if text else "read",
            "query_image": data_url(render_strip(glyphs[0].numpy()))}


# ------------------------------------------------------------------ what an arithmetic run is to the page


def load(run: Run) -> None:
    """The model (CPU, eval mode), and the task and query spec it was trained on."""
    task, spec, _ = run_info(run.path)
    run.model = load_model(run.path, expect=task_of(task).kinds, map_location="cpu")
    run.extra = {"task": task, "spec": spec}


VIEW = "arith.js"  # the page's module that shows these runs (static/arith.js), loaded by the run picker


def describe(run: Run) -> dict[str, Any]:
    """What ``GET /api/runs`` adds: the task, the query's shape and, for image→text, the strip's shape."""
    spec = run.extra["spec"]
    return {"task": run.extra["task"], "query_len": spec.query_len, "answer_len": spec.answer_len,
            "max_int": spec.max_int, "ops": spec.ops, "layout": spec.layout,
            "image_shape": [1, 28, 28 * spec.query_len] if task_of(run.extra["task"]).images_in else None}


def title(run: Run) -> str:
    spec = run.extra["spec"]
    ops = " or ".join(spec.ops).replace("-", "−").replace("*", "×")
    return f"{task_of(run.extra['task']).title} · trained on 0..{spec.max_int} {ops} 0..{spec.max_int}"


def what(run: Run) -> str:
    """The task and the model, as the run picker's label names them."""
    return f"{task_of(run.extra['task']).title} {run.kind_title()}"


def capabilities(run: Run) -> list[str]:
    """What the page offers for the run, from what its kind declares it can do."""
    kind = registry.kind(run.kind)
    caps = ["answer"]
    if kind.can("handwriting"):
        caps += ["handwriting", "sketch"]  # sketch: the page lets the user draw the query by hand
    if kind.can("draw"):
        caps += ["draw", "restyle"]  # restyle: the answer drawn again in another hand
    return caps


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/arithmetic/answer", "`{run, query (≤ 64 chars), image?, seed}`",
          "`{task, query, answer \\| answer_image, expected, split, split_note}`; image→text adds `read, read_by, "
          "model_reads, read_expected, split_of, query_image`", on_run(answer, schemas.AnswerRequest)),
    Route("POST", "/api/arithmetic/handwriting", "`{run, query?, seed}`",
          "`{query, image, seed}`: the query in MNIST test-split handwriting",
          on_run(handwriting, schemas.HandwritingRequest)),
)

__all__ = ["ROUTES", "answer", "capabilities", "describe", "handwriting", "load", "packaged_reader", "title", "what"]
