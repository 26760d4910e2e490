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
run id or path, 500 only for a bug (and the server keeps serving).

``GET  /api``                      this list, as JSON
``GET  /api/runs``                 ``[{id, kind, family, title, latent_dim, num_classes, codes, image_shape,
                                   capabilities, ...}]``
``POST /api/sample``               ``{run, n<=16, seed, scale, truncate?, label?, code?}`` → n×n ``images``, ``z``,
                                   ``labels``
``POST /api/decode``               ``{run, z: [[...]] (<=256 rows), label? | labels?, code?}`` → ``images``
``POST /api/interpolate``          ``{run, a: [...], b: [...], steps<=64, method: lerp|slerp, label?}`` → ``images``,
                                   ``z``
``POST /api/vector``               ``{run, a, b, c, label?}`` → decode(a − b + c): ``image``, ``z``
``POST /api/directions``           ``{run, k<=16}`` → ``directions: [{name, vector (unit), scale}]`` and ``source``
                                   (``dimensions`` for latents <= 16, else ``pca`` of encoded held-out images or
                                   ``ganspace``: principal directions of sampled latents' first-layer features)
``POST /api/map``                  ``{run, points<=2000, seed}`` → ``points: [[x, y]]``, ``labels``, ``basis``
                                   (``mean``, ``components``: the 2-D plane in latent space), ``source``, ``note``
``POST /api/map/point``            ``{run, index, points, seed}`` → that held-out image's ``z``, ``label``, ``image``
``POST /api/encode``               an image upload → ``z``, ``input`` (the image as the model sees it)
``POST /api/reconstruct``          an image upload → ``z``, ``input``, ``image`` (reconstruction), ``mse``
                                   uploads: JSON ``{run, image: data URL or base64, label?, invert?}`` or
                                   multipart form fields ``run``, ``label``, ``invert`` and a ``file``; at most
                                   2 MB and 4,096×4,096 pixels
``POST /api/arithmetic/answer``    ``{run, query, image?, seed?}`` → ``query``, ``answer`` (text) or ``answer_image``,
                                   ``read`` (what the model / digit reader reads), ``query_image`` (img2text)
``POST /api/arithmetic/handwriting`` ``{run, query?, seed}`` → a query drawn with MNIST test-split digits
``POST /api/charrnn/generate``     ``{run, prime<=500 chars, length<=2000, temperature, top_k?, seed, stream}``
                                   → streamed NDJSON lines ``{"text": "..."}`` then ``{"done": true, ...}``
                                   (``stream: false``: one JSON ``{text}``)

``docs/explore-api.md`` has the same list with examples.
"""

from latentworks.explore.server import create_app

__all__ = ["create_app"]
