"""The FastAPI app: :func:`create_app` serves the page (``/``, ``/static/...``) and the JSON API (``/api/...``)
for a set of run folders; :data:`ROUTES` is the one list of the API's endpoints: the server's own two, then each
family's as the family's explorer module (named by its registry entry) lists them, in the registry's order.

Every answer to a bad request is a 4xx JSON ``{"error": "one line"}``: :class:`~latentworks.explore.guard.Guard`
lets in only the explorer's own page (Host, Origin, content type) and bounded bodies, request bodies are checked
by the pydantic models in :mod:`latentworks.explore.schemas`, and handlers for validation errors and
``LatentworksError`` (400 or its own status) keep tracebacks off the wire; anything else is a one-line 500 and
one log line. No answer holds an absolute path: run folders are named by their ids. Model work runs one request
at a time under the runs' lock, in worker threads, so the event loop keeps answering.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from latentworks import registry
from latentworks.errors import LatentworksError
from latentworks.explore.guard import MAX_BODY, Guard
from latentworks.explore.routes import Route, one_line
from latentworks.explore.runs import Runs

STATIC = Path(__file__).resolve().parent / "static"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status)


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


# ------------------------------------------------------------------ the endpoints: one table


def _index(runs: Runs, _family: str | None) -> Callable[[], dict[str, Any]]:
    def api_index() -> dict[str, Any]:
        return {"endpoints": ENDPOINTS, "runs": len(runs.by_id), "docs": "docs/explore-api.md"}

    return api_index


def _list_runs(runs: Runs, _family: str | None) -> Callable[[], list[dict[str, Any]]]:
    def list_runs() -> list[dict[str, Any]]:
        return runs.describe()

    return list_runs


def _family_routes() -> tuple[Route, ...]:
    """Each family's endpoints as its explorer module lists them, in the registry's order of families, each bound
    to that family's runs."""
    return tuple(replace(route, family=fam.name) for fam in registry.families()
                 for route in fam.explorer_module().ROUTES)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api", "", "the endpoints, one line each", _index),
    Route("GET", "/api/runs", "", "`[{id, kind, family, family_title, view, title, label, recipe, headline, "
          "finished_at, study, capabilities, ...}]`, the newest study first; generative runs add "
          "`latent_dim`, `num_classes`, `codes`, `image_shape`; arithmetic runs `task`, `query_len`, `max_int`, "
          "`ops`; char-RNNs `vocab_size`, `backend`, `example_prime`", _list_runs),
    *_family_routes(),
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
        app.add_api_route(route.path, route.build(runs, route.family), methods=[route.method])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


__all__ = ["ENDPOINTS", "MAX_BODY", "ROUTES", "Route", "create_app"]
