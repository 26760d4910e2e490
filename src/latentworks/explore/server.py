"""The FastAPI app: :func:`create_app` serves the page (``/``, ``/static/...``) and the JSON API (``/api/...``)
for a set of run folders; :data:`ROUTES` is the one list of the API's endpoints.

Every answer to a bad request is a 4xx JSON ``{"error": "one line"}``: :class:`~latentworks.explore.guard.Guard`
lets in only the explorer's own page (Host, Origin, content type) and bounded bodies, request bodies are checked
by the pydantic models in :mod:`latentworks.explore.schemas`, and handlers for validation errors and
``LatentworksError`` (400 or its own status) keep tracebacks off the wire; anything else is a one-line 500 and
one log line. No answer holds an absolute path: run folders are named by their ids. Model work runs one request
at a time under the runs' lock, in worker threads, so the event loop keeps answering.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from latentworks.errors import LatentworksError
from latentworks.explore import arithmetic, charrnn, generative, schemas, space
from latentworks.explore.guard import MAX_BODY, Guard
from latentworks.explore.runs import ApiError, Runs

STATIC = Path(__file__).resolve().parent / "static"

def _line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": _line(message)}, status_code=status)


def _validation_message(errors: list[dict[str, Any]]) -> tuple[int, str]:
    first = errors[0] if errors else {}
    kind = first.get("type", "")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    where = ".".join(loc) or "the request body"
    if kind == "json_invalid":
        return 400, (f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')}); "
                     "send one JSON object")
    if kind == "missing" and not loc:
        return 400, "the request body is missing; send a JSON object (GET /api lists each endpoint's fields)"
    if kind == "extra_forbidden":
        return 422, f"unknown field {where!r}; GET /api lists each endpoint's fields"
    if kind == "missing":
        return 422, f"{where} is missing; add it to the request (GET /api lists each endpoint's fields)"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return 422, f"{where}: {first.get('msg', 'invalid value')}; fix that field{more}"


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        return _error(*_validation_message(list(err.errors())))

    @app.exception_handler(ValidationError)
    async def _invalid(_request: Request, err: ValidationError) -> JSONResponse:
        return _error(*_validation_message(list(err.errors())))

    @app.exception_handler(LatentworksError)
    async def _user_error(request: Request, err: LatentworksError) -> JSONResponse:
        return _error(getattr(err, "status", 400), _relative(str(err), request.app.state.runs))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException) -> JSONResponse:
        if err.status_code == 404:
            return _error(404, f"no such path {request.url.path!r}; GET /api lists the endpoints")
        if err.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}; GET /api lists the "
                               "endpoints and their methods")
        return _error(err.status_code, str(err.detail))

    @app.exception_handler(Exception)  # only what the Guard itself raises comes here
    async def _bug(_request: Request, err: Exception) -> JSONResponse:
        return _error(500, f"internal error ({type(err).__name__}); the server keeps running, please report this "
                           "with the request that caused it")


def _relative(message: str, runs: Runs) -> str:
    """``message`` with each served run folder's absolute path replaced by its run id."""
    for run in sorted(runs.by_id.values(), key=lambda r: -len(str(r.path))):
        message = message.replace(str(run.path), run.id)
    return message


def _parse_upload(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes | None]:
    """JSON or multipart/form-data → (fields, file bytes or None)."""
    if content_type.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
                                                  + body)
        if not msg.is_multipart():
            raise ApiError("the multipart body cannot be parsed; send a form with a 'file' field")
        fields: dict[str, Any] = {}
        file = None
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "file" or part.get_filename():
                file = payload
            elif name:
                fields[str(name)] = payload.decode("utf-8", "replace")
        if file is None:
            raise ApiError("the form has no 'file' field; attach the image as 'file'")
        fields.setdefault("image", "(multipart file)")
        return fields, file
    if content_type and not content_type.startswith("application/json"):
        raise ApiError(f"unsupported content type {content_type.split(';')[0]!r}; send JSON or multipart/form-data",
                       415)
    try:
        fields = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(f"the request body is not valid JSON ({_line(str(err), 80)}); send one JSON object") from None
    if not isinstance(fields, dict):
        raise ApiError("the request body must be a JSON object such as {\"run\": ..., \"image\": ...}")
    return fields, None


# ------------------------------------------------------------------ the endpoints: one table

Build = Callable[[Runs], Callable[..., Any]]


@dataclass(frozen=True)
class Route:
    """One JSON endpoint. The app is built from :data:`ROUTES`, ``GET /api`` lists it and the table in
    ``docs/explore-api.md`` is generated from it (``python docs/explore_routes.py``)."""

    method: str
    path: str
    body: str  # what the request sends, as the docs' table shows it (markdown)
    answer: str  # what comes back (markdown)
    build: Build  # the served runs -> the function FastAPI calls

    @property
    def summary(self) -> str:
        """One plain line for ``GET /api``."""
        text = f"{self.body} -> {self.answer}" if self.body else self.answer
        return text.replace("`", "").replace("\\|", "|")


def _on_run(handler: Callable[[Any, Any], dict[str, Any]], family: str, body: type) -> Build:
    """A JSON body checked against ``body``, then ``handler(run, request)`` under the runs' lock."""

    def build(runs: Runs) -> Callable[..., dict[str, Any]]:
        def endpoint(req: Any) -> dict[str, Any]:
            run = runs.get(req.run, family)
            with runs.compute:
                return handler(run, req)

        # FastAPI reads the body's model from the signature
        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("req", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=body)],
            return_annotation=dict[str, Any])
        return endpoint

    return build


def _index(runs: Runs) -> Callable[[], dict[str, Any]]:
    def api_index() -> dict[str, Any]:
        return {"endpoints": ENDPOINTS, "runs": len(runs.by_id), "docs": "docs/explore-api.md"}

    return api_index


def _list_runs(runs: Runs) -> Callable[[], list[dict[str, Any]]]:
    def list_runs() -> list[dict[str, Any]]:
        return runs.describe()

    return list_runs


def _upload(reconstruct: bool) -> Build:
    """An image upload (JSON or multipart, see :func:`_parse_upload`) encoded, or also reconstructed."""

    def build(runs: Runs) -> Callable[..., Any]:
        async def upload(request: Request) -> dict[str, Any]:
            fields, file = _parse_upload(request.headers.get("content-type", ""), await request.body())
            req = schemas.UploadJson.model_validate(fields)
            run = runs.get(req.run, "generative")
            data = generative.upload_bytes(fields, file)

            def work() -> dict[str, Any]:
                with runs.compute:
                    return generative.encode_upload(run, data, req.label, req.invert, reconstruct)

            return await run_in_threadpool(work)

        return upload

    return build


def _charrnn_generate(runs: Runs) -> Callable[..., Any]:
    def generate(req: schemas.GenerateRequest):  # no return type: a stream or JSON, so no response model
        run = runs.get(req.run, "charrnn")
        if not req.stream:
            return charrnn.generate_all(run, req, runs.compute)
        ids = charrnn.start(run, req)  # bad options fail here, as a 4xx, before the stream starts
        return StreamingResponse(charrnn.lines(run, ids, runs.compute), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return generate


GEN = "generative"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api", "", "the endpoints, one line each", _index),
    Route("GET", "/api/runs", "", "`[{id, kind, family, title, label, recipe, headline, finished_at, study, "
          "capabilities, ...}]`, the newest study first; generative runs add "
          "`latent_dim`, `num_classes`, `codes`, `image_shape`; arithmetic runs `task`, `query_len`, `max_int`, "
          "`ops`; char-RNNs `vocab_size`, `backend`, `example_prime`", _list_runs),
    Route("POST", "/api/sample", "`{run, n: 1..16, seed, scale: (0, 10], truncate?, label?, code?}`",
          "`{n, seed, images (n×n, row by row), z, labels}`", _on_run(generative.sample, GEN, schemas.SampleRequest)),
    Route("POST", "/api/decode", "`{run, z: 1..256 rows, label? \\| labels?, code?}`", "`{images}`",
          _on_run(generative.decode_rows, GEN, schemas.DecodeRequest)),
    Route("POST", "/api/interpolate", "`{run, a, b, steps: 2..64, method: \"lerp\" \\| \"slerp\", label?}`",
          "`{images, z, method}` (endpoints exact)", _on_run(generative.interpolate, GEN, schemas.InterpolateRequest)),
    Route("POST", "/api/vector", "`{run, a, b, c, label?}`", "`{image, z}` of decode(a − b + c)",
          _on_run(generative.vector, GEN, schemas.VectorRequest)),
    Route("POST", "/api/directions", "`{run, k: 1..16}`",
          "`{source, note, latent_dim, directions: [{name, vector (unit), scale}]}`",
          _on_run(space.directions, GEN, schemas.DirectionsRequest)),
    Route("POST", "/api/map", "`{run, points: 10..2000, seed}`",
          "`{points: [[x, y]], labels, source, data, note, basis: {mean, components}}`",
          _on_run(space.latent_map, GEN, schemas.MapRequest)),
    Route("POST", "/api/map/point", "`{run, points, seed, index}`", "`{index, z, label, input, image}`",
          _on_run(space.map_point, GEN, schemas.MapPointRequest)),
    Route("POST", "/api/encode", "upload (below)", "`{z, input, label}`", _upload(False)),
    Route("POST", "/api/reconstruct", "upload (below)", "`{z, input, label, image, mse}`", _upload(True)),
    Route("POST", "/api/arithmetic/answer", "`{run, query (≤ 64 chars), image?, seed}`",
          "`{task, query, answer \\| answer_image, expected, split, split_note}`; image→text adds `read, read_by, "
          "model_reads, read_expected, split_of, query_image`",
          _on_run(arithmetic.answer, "arithmetic", schemas.AnswerRequest)),
    Route("POST", "/api/arithmetic/handwriting", "`{run, query?, seed}`",
          "`{query, image, seed}`: the query in MNIST test-split handwriting",
          _on_run(arithmetic.handwriting, "arithmetic", schemas.HandwritingRequest)),
    Route("POST", "/api/charrnn/generate",
          "`{run, prime (1..500 chars), length: 1..2000, temperature: 0..5, top_k?, seed, stream}`",
          "NDJSON lines (below), or `{prime, text}` with `stream: false`", _charrnn_generate),
)
ENDPOINTS = {f"{r.method} {r.path}": r.summary for r in ROUTES}


def create_app(run_dirs: list[str | Path] | Runs, threads: int | None = None, host: str = "127.0.0.1") -> FastAPI:
    """The explorer for ``run_dirs`` (folders, or already loaded :class:`Runs`); models are loaded here, once.
    ``host`` is the address it is served on (besides 127.0.0.1 and localhost): no other ``Host`` is answered."""
    runs = run_dirs if isinstance(run_dirs, Runs) else Runs.load(list(run_dirs))
    # One decode is a few milliseconds: more intra-op threads barely help it, and on a busy small machine they wait
    # on each other (measured on 2 shared cores: 1 thread 1.1 ms median / 5 ms p90 per 64×64 decode, 2 threads
    # 1.2 / 44 ms). Half the cores, at most 4, leaves the browser and the rest of the machine room.
    torch.set_num_threads(max(1, threads or min(4, (os.cpu_count() or 2) // 2)))
    app = FastAPI(title="latentworks explore", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runs = runs
    app.add_middleware(Guard, host=host)
    _install_handlers(app)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    for route in ROUTES:
        app.add_api_route(route.path, route.build(runs), methods=[route.method])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


__all__ = ["ENDPOINTS", "MAX_BODY", "ROUTES", "Route", "create_app"]
