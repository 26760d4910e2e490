"""``latentworks explore``: one local web page, and the JSON API behind it, for trained run folders.

Why FastAPI + uvicorn and a hand-written page
---------------------------------------------
The models are torch modules that must be decoded on the server, loaded once and kept warm; the page needs a
handful of small JSON endpoints, one streaming response (char-RNN text as it is generated) and static files.
FastAPI gives typed request bodies with bounds (pydantic ``Field(le=...)``), so every limit is declared beside
the field it limits and a bad request becomes a 4xx JSON line without hand-written parsing; uvicorn is the
small, pure-Python-installable ASGI server it is usually run with, started programmatically from the CLI.
Both come from PyPI as wheels and need nothing at run time from the internet. The page itself is plain
HTML/CSS and a few ES modules without a framework or a build step, shipped as package data
(``latentworks/explore/static``), so it works offline: no CDN, no web font, no external script. Plots (the
latent map) are drawn on a ``<canvas>`` by hand. The server binds to 127.0.0.1 unless ``--host`` says otherwise.

The JSON API (everything the page does; usable from a notebook or a script)
-----------------------------------------------------------------------------
Images travel as base64 PNG data URLs (``"data:image/png;base64,..."``) at the model's own resolution.
Latents are lists of numbers, ``z: [[...], ...]`` (one row per image). Run ids are the run folders' paths
relative to the common parent of the folders served (stable across restarts). Errors are always JSON
``{"error": "one line naming the problem and the fix"}``: 400/413/422 for a bad request, 404 for an unknown
run id or path, 500 only for a bug (and the server keeps serving). It answers only its own page: another
``Host`` or ``Origin`` gets 403, a POST that is not JSON 415 (:mod:`latentworks.explore.guard`).

The endpoints are :data:`latentworks.explore.server.ROUTES` (the one list the app is built from); ``GET /api``
lists them and ``docs/explore-api.md`` has them as a table, generated from it, with examples.
"""

from latentworks.explore.server import create_app

__all__ = ["create_app"]
