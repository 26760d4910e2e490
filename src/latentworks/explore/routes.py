"""What an endpoint is: :class:`Route`, the checked-body wrapper :func:`on_run` and the upload parser.

The server serves its own routes (``/api``, ``/api/runs``) and each family's, which the family's explorer module
(the one its registry entry names) lists as ``ROUTES``; :data:`latentworks.explore.server.ROUTES` joins them into
the one table the app, ``GET /api`` and ``docs/explore-api.md`` are built from. This module sits below both so
that neither imports the other.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from latentworks.explore.runs import ApiError, Runs

# the served runs and the family whose runs the route serves (None: any) -> the function FastAPI calls
Build = Callable[[Runs, str | None], Callable[..., Any]]


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class Route:
    """One JSON endpoint. The app is built from :data:`latentworks.explore.server.ROUTES`, ``GET /api`` lists it
    and the table in ``docs/explore-api.md`` is generated from it (``python docs/explore_routes.py``)."""

    method: str
    path: str
    body: str  # what the request sends, as the docs' table shows it (markdown)
    answer: str  # what comes back (markdown)
    build: Build
    family: str | None = None  # set by the server from the registry for the routes a family's module lists

    @property
    def summary(self) -> str:
        """One plain line for ``GET /api``."""
        text = f"{self.body} -> {self.answer}" if self.body else self.answer
        return text.replace("`", "").replace("\\|", "|")


def on_run(handler: Callable[[Any, Any], dict[str, Any]], body: type) -> Build:
    """A JSON body checked against ``body``, then ``handler(run, request)`` under the runs' lock."""

    def build(runs: Runs, family: str | None) -> Callable[..., dict[str, Any]]:
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


def parse_upload(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes | None]:
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
        raise ApiError(f"the request body is not valid JSON ({one_line(str(err), 80)}); send one JSON object") from None
    if not isinstance(fields, dict):
        raise ApiError("the request body must be a JSON object such as {\"run\": ..., \"image\": ...}")
    return fields, None


__all__ = ["Build", "Route", "on_run", "one_line", "parse_upload"]
