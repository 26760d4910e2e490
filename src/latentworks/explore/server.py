"""The FastAPI app: :func:`create_app` serves the page (``/``, ``/static/...``) and the JSON API (``/api/...``)
for a set of run folders; :mod:`latentworks.explore` lists the endpoints.

Every answer to a bad request is a 4xx JSON ``{"error": "one line"}``: request bodies are checked by the
pydantic models in :mod:`latentworks.explore.schemas`, bodies above :data:`MAX_BODY` bytes are refused before
they are read in full, and handlers for validation errors, ``LatentworksError`` (400 or its own status) and
anything else (500, still one line) keep tracebacks off the wire. Model work runs one request at a time under
the runs' lock, in worker threads, so the event loop keeps answering.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
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
from latentworks.explore.runs import ApiError, Runs

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 4 * 1024 * 1024  # a 2 MB image as base64 in JSON, with room to spare

ENDPOINTS = {
    "GET /api/runs": "the served runs: id, kind, family, title, latent_dim, num_classes, codes, image_shape, "
                     "capabilities",
    "POST /api/sample": "{run, n<=16, seed, scale, truncate?, label?, code?} -> images, z, labels",
    "POST /api/decode": "{run, z: [[...]] (<=256 rows), label? | labels?, code?} -> images",
    "POST /api/interpolate": "{run, a, b, steps<=64, method: lerp|slerp, label?} -> images, z",
    "POST /api/vector": "{run, a, b, c, label?} -> image of decode(a - b + c), z",
    "POST /api/directions": "{run, k<=16} -> directions [{name, vector, scale}], source",
    "POST /api/map": "{run, points<=2000, seed} -> points [[x, y]], labels, basis {mean, components}",
    "POST /api/map/point": "{run, index, points, seed} -> z, label, input, image",
    "POST /api/encode": "JSON {run, image (data URL), label?, invert?} or multipart (file) -> z, input",
    "POST /api/reconstruct": "as /api/encode -> z, input, image, mse",
    "POST /api/arithmetic/answer": "{run, query, image?, seed} -> answer or answer_image, read, expected",
    "POST /api/arithmetic/handwriting": "{run, query?, seed} -> query, image (MNIST test-split digits)",
    "POST /api/charrnn/generate": "{run, prime<=500, length<=2000, temperature, top_k?, seed, stream} -> NDJSON",
}


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
    async def _user_error(_request: Request, err: LatentworksError) -> JSONResponse:
        return _error(getattr(err, "status", 400), str(err))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException) -> JSONResponse:
        if err.status_code == 404:
            return _error(404, f"no such path {request.url.path!r}; GET /api lists the endpoints")
        if err.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}; GET /api lists the "
                               "endpoints and their methods")
        return _error(err.status_code, str(err.detail))

    @app.exception_handler(Exception)
    async def _bug(_request: Request, err: Exception) -> JSONResponse:
        return _error(500, f"internal error ({type(err).__name__}: {err}); the server keeps running, please "
                           "report this with the request that caused it")


class BodyLimit:
    """ASGI middleware: request bodies over ``limit`` bytes get a 413 JSON line without being read in full."""

    def __init__(self, app: Any, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def _refuse(self, send: Callable, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        too_big = f"the request body is over {self.limit // 2**20} MB; send a smaller one (images: at most 2 MB)"
        length = dict(scope.get("headers", [])).get(b"content-length")
        try:
            if length is not None and int(length) > self.limit:
                return await self._refuse(send, 413, too_big)
        except ValueError:
            return await self._refuse(send, 400, "the Content-Length header is not a number")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._refuse(send, 413, too_big)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


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


def create_app(run_dirs: list[str | Path] | Runs, threads: int | None = None) -> FastAPI:
    """The explorer for ``run_dirs`` (folders, or already loaded :class:`Runs`); models are loaded here, once."""
    runs = run_dirs if isinstance(run_dirs, Runs) else Runs.load(list(run_dirs))
    # One decode is a few milliseconds: more intra-op threads barely help it, and on a busy small machine they wait
    # on each other (measured on 2 shared cores: 1 thread 1.1 ms median / 5 ms p90 per 64×64 decode, 2 threads
    # 1.2 / 44 ms). Half the cores, at most 4, leaves the browser and the rest of the machine room.
    torch.set_num_threads(max(1, threads or min(4, (os.cpu_count() or 2) // 2)))
    app = FastAPI(title="latentworks explore", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runs = runs
    app.add_middleware(BodyLimit)
    _install_handlers(app)
    lock = runs.compute

    def locked(fn: Callable, family: str, req: Any) -> Any:
        run = runs.get(req.run, family)
        with lock:
            return fn(run, req)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api")
    def api_index() -> dict[str, Any]:
        return {"endpoints": ENDPOINTS, "runs": len(runs.by_id), "docs": "docs/explore-api.md"}

    @app.get("/api/runs")
    def list_runs() -> list[dict[str, Any]]:
        return runs.describe()

    @app.post("/api/sample")
    def sample(req: schemas.SampleRequest) -> dict[str, Any]:
        return locked(generative.sample, "generative", req)

    @app.post("/api/decode")
    def decode(req: schemas.DecodeRequest) -> dict[str, Any]:
        return locked(generative.decode_rows, "generative", req)

    @app.post("/api/interpolate")
    def interpolate(req: schemas.InterpolateRequest) -> dict[str, Any]:
        return locked(generative.interpolate, "generative", req)

    @app.post("/api/vector")
    def vector(req: schemas.VectorRequest) -> dict[str, Any]:
        return locked(generative.vector, "generative", req)

    @app.post("/api/directions")
    def directions(req: schemas.DirectionsRequest) -> dict[str, Any]:
        return locked(space.directions, "generative", req)

    @app.post("/api/map")
    def latent_map(req: schemas.MapRequest) -> dict[str, Any]:
        return locked(space.latent_map, "generative", req)

    @app.post("/api/map/point")
    def map_point(req: schemas.MapPointRequest) -> dict[str, Any]:
        return locked(space.map_point, "generative", req)

    async def upload(request: Request, reconstruct: bool) -> dict[str, Any]:
        fields, file = _parse_upload(request.headers.get("content-type", ""), await request.body())
        req = schemas.UploadJson.model_validate(fields)
        run = runs.get(req.run, "generative")
        data = generative.upload_bytes(fields, file)

        def work() -> dict[str, Any]:
            with lock:
                return generative.encode_upload(run, data, req.label, req.invert, reconstruct)

        return await run_in_threadpool(work)

    @app.post("/api/encode")
    async def encode(request: Request) -> dict[str, Any]:
        return await upload(request, False)

    @app.post("/api/reconstruct")
    async def reconstruct(request: Request) -> dict[str, Any]:
        return await upload(request, True)

    @app.post("/api/arithmetic/answer")
    def arithmetic_answer(req: schemas.AnswerRequest) -> dict[str, Any]:
        return locked(arithmetic.answer, "arithmetic", req)

    @app.post("/api/arithmetic/handwriting")
    def arithmetic_handwriting(req: schemas.HandwritingRequest) -> dict[str, Any]:
        return locked(arithmetic.handwriting, "arithmetic", req)

    @app.post("/api/charrnn/generate", response_model=None)
    def charrnn_generate(req: schemas.GenerateRequest) -> StreamingResponse | dict[str, Any]:
        run = runs.get(req.run, "charrnn")
        if not req.stream:
            return charrnn.generate_all(run, req, lock)
        ids = charrnn.start(run, req)  # bad options fail here, as a 4xx, before the stream starts
        return StreamingResponse(charrnn.lines(run, ids, lock), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


__all__ = ["ENDPOINTS", "MAX_BODY", "create_app"]
