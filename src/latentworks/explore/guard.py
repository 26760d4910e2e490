"""What the explorer lets in: :class:`Guard`, the one ASGI middleware every request passes first.

The explorer is a local page with the user's models behind it, so it answers only that page:

* **Host**: only the address it bound (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``, the ``--host``
  given, and the IP the request reached, each with the port actually served). A web page cannot choose the
  ``Host`` a browser sends, so this defeats DNS rebinding (another site's name pointed at 127.0.0.1 arrives with
  that name).
* **Origin**: a request a browser sends from another page carries that page's ``Origin``; any other than the
  explorer's own is refused, so no other site can drive it (a simple cross-origin POST needs no preflight).
  Scripts and curl send none and are let in. No CORS header is ever sent.
* **Content type**: a POST must say JSON (multipart only on the upload routes), so an HTML form cannot post.
* **Body**: over :data:`MAX_BODY` bytes is refused before it is read in full; JSON nested deeper than
  :data:`MAX_DEPTH` is refused before it is parsed (a parser's recursion is no way to find out).
* **Bugs**: anything a handler did not turn into an answer is a one-line JSON 500 and one log line.

Each refusal is a JSON ``{"error": "one line"}`` (403, 400, 413 or 415).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np

MAX_BODY = 4 * 1024 * 1024  # a 2 MB image as base64 in JSON, with room to spare
MAX_DEPTH = 32  # the deepest body the API takes is 3 levels (z: [[...]])
UPLOADS = ("/api/encode", "/api/reconstruct")  # the routes that also take multipart/form-data
LOG = logging.getLogger("latentworks.explore")

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def json_depth(body: bytes) -> int:
    """How deeply ``body``'s arrays and objects nest (brackets inside strings do not count), without parsing it."""
    bare = np.frombuffer(_STRING.sub(b"", body), np.uint8)
    if bare.size == 0:
        return 0
    step = ((bare == ord("[")) | (bare == ord("{"))).astype(np.int32) - ((bare == ord("]")) | (bare == ord("}")))
    return int(np.cumsum(step).max())


def _line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Guard:
    """ASGI middleware: Host, Origin, content type, body size and depth, and a one-line 500 for any bug.

    ``host`` is the address given to bind (``--host``); the port is the one the request arrived on."""

    def __init__(self, app: Any, host: str = "127.0.0.1", limit: int = MAX_BODY):
        self.app, self.limit = app, limit
        names = {"127.0.0.1", "localhost", "[::1]", host.lower()}
        self.names = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}

    def host_ok(self, host: str, server: Any) -> bool:
        if not server or server[1] is None:
            return False
        address, port = str(server[0]), server[1]
        names = set(self.names)
        with contextlib.suppress(ValueError):  # the IP the request reached (--host 0.0.0.0 from another machine):
            ip = ipaddress.ip_address(address)  # an IP literal names no DNS entry, so it cannot be rebound
            names.add(f"[{ip}]" if ip.version == 6 else str(ip))
        if host.lower() in {f"{n}:{port}" for n in names}:
            return True
        return port == 80 and host.lower() in names  # browsers leave the default port out

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host, origin = headers.get("host", ""), headers.get("origin")
        if not self.host_ok(host, scope.get("server")):
            return await _refuse(send, 403, f"Host {_line(host, 80)!r} is not this explorer's address; open the "
                                             "page at the URL it printed (http://127.0.0.1:PORT/)")
        if origin is not None and origin != f"http://{host}":
            return await _refuse(send, 403, f"requests from {_line(origin, 80)!r} are refused; the explorer "
                                             "answers only its own page (scripts: send no Origin header)")
        body = None
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            json_body = kind == "application/json"
            if not json_body and not (kind == "multipart/form-data" and scope["path"] in UPLOADS):
                forms = " or multipart/form-data" if scope["path"] in UPLOADS else ""
                return await _refuse(send, 415, f"send the body as Content-Type: application/json{forms} "
                                                f"(got {kind or 'none'!r})")
            body = await self._read(scope, receive, send, headers.get("content-length"))
            if body is None:
                return None
            # a big body is measured off the event loop, which keeps answering meanwhile
            depth = 0 if not json_body else json_depth(body) if len(body) < 2**16 else \
                await anyio.to_thread.run_sync(json_depth, body)
            if depth > MAX_DEPTH:
                return await _refuse(send, 400, f"the JSON body nests deeper than {MAX_DEPTH} levels; send a flat "
                                                "object (GET /api lists each endpoint's fields)")
        return await self._serve(scope, receive if body is None else _replay(body, receive), send)

    async def _read(self, scope: dict, receive: Callable, send: Callable, length: str | None) -> bytes | None:
        """The whole body, or None after refusing it (too big) or when the client went away."""
        too_big = f"the request body is over {self.limit // 2**20} MB; send a smaller one (images: at most 2 MB)"
        try:
            if length is not None and int(length) > self.limit:
                return await _refuse(send, 413, too_big)
        except ValueError:
            return await _refuse(send, 400, "the Content-Length header is not a number")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await _refuse(send, 413, too_big)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _serve(self, scope: dict, receive: Callable, send: Callable) -> None:
        started = False

        async def watch(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as err:  # a bug: one log line and one JSON line, never a traceback
            LOG.error("latentworks explore: 500 on %s %s: %s", scope["method"], scope["path"],
                      _line(f"{type(err).__name__}: {err}"))
            if not started:
                await _refuse(send, 500, f"internal error ({type(err).__name__}); the server keeps running, please "
                                         "report this with the request that caused it")


def _replay(body: bytes, receive: Callable) -> Callable:
    replayed = False

    async def replay() -> dict:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Callable, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["MAX_BODY", "MAX_DEPTH", "Guard", "json_depth"]
