"""Generative runs (CAE, VAE, DCGAN, CVAE, cGAN): the handlers behind sample, decode, interpolate, vector
arithmetic and uploads. Each takes a loaded :class:`~latentworks.explore.runs.Run` and a checked request and
returns plain JSON; model work runs under the caller's lock, in eval mode without gradients
(:func:`latentworks.latent.core.decode` and ``batched`` see to that).

This is the family's explorer module (its registry entry names it): :func:`load`, :func:`describe`,
:func:`title`, :func:`what`, :func:`capabilities` and :data:`ROUTES` say what a generative run is to the page.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from latentworks import registry
from latentworks.errors import LatentworksError
from latentworks.explore import schemas, space
from latentworks.explore.images import data_url, data_urls, decode_base64, read_upload
from latentworks.explore.routes import Build, Route, on_run, parse_upload
from latentworks.explore.runs import ApiError, Run, Runs
from latentworks.latent import core
from latentworks.latent.core import decode, generator, interpolate_latents, resolve_labels, sample_latents
from latentworks.models.inference import inference
from latentworks.models.io import load_model


def _round(z: torch.Tensor | np.ndarray) -> list[list[float]]:
    return np.round(np.asarray(z, dtype=np.float64), 5).tolist()


def check_latent(run: Run, rows: list[list[float]], name: str = "z") -> torch.Tensor:
    """Rows of numbers → float32 (N, latent_dim), or a 400 naming the run's latent size."""
    d = int(run.model.config.latent_dim)
    for row in rows:
        if len(row) != d:
            raise ApiError(f"{name} has vectors of {len(row)} numbers but run {run.id!r} has latent_dim {d}; send "
                           f"{d} numbers per vector")
    return torch.tensor(rows, dtype=torch.float32)


def _labels(run: Run, n: int, label: int | None, labels: list[int] | None = None) -> torch.Tensor | None:
    """Conditional runs: the given label(s), else 0, 1, …, K−1 by cell; unconditional runs ignore none given."""
    model = run.model
    if not getattr(model, "conditional", False):
        if label is not None or labels:
            raise ApiError(f"run {run.id!r} ({run.kind}) is unconditional; drop label")
        return None
    return resolve_labels(model, n, labels if labels else label)


def set_code(run: Run, z: torch.Tensor, code: int | None) -> torch.Tensor:
    """InfoGAN-coded GANs: ``code`` in every latent (:func:`latentworks.latent.core.set_code`), else ``z``."""
    if code is None:
        return z
    try:
        return core.set_code(run.model, z, code)
    except LatentworksError as err:
        raise ApiError(f"run {run.id!r}: {err}; drop code or send one in range") from None


def _decode(run: Run, z: torch.Tensor, labels: torch.Tensor | None) -> np.ndarray:
    return decode(run.model, z, labels)


def sample(run: Run, req: schemas.SampleRequest) -> dict[str, Any]:
    """An n×n grid from ``seed``: cell i decodes ``z[i]`` with ``labels[i]``."""
    n = req.n * req.n
    z = sample_latents(run.model, n, generator(req.seed), req.truncate, req.scale)
    z = set_code(run, z, req.code)
    labels = _labels(run, n, req.label)
    images = _decode(run, z, labels)
    return {"n": req.n, "seed": req.seed, "images": data_urls(images), "z": _round(z),
            "labels": None if labels is None else labels.tolist()}


def decode_rows(run: Run, req: schemas.DecodeRequest) -> dict[str, Any]:
    z = set_code(run, check_latent(run, req.z), req.code)
    if req.labels is not None and len(req.labels) not in (1, len(z)):
        raise ApiError(f"{len(req.labels)} labels for {len(z)} latents; send one label or one per latent")
    images = _decode(run, z, _labels(run, len(z), req.label, req.labels))
    return {"images": data_urls(images)}


def interpolate(run: Run, req: schemas.InterpolateRequest) -> dict[str, Any]:
    a, b = check_latent(run, [req.a], "a")[0], check_latent(run, [req.b], "b")[0]
    path = interpolate_latents(a, b, req.steps, use_slerp=req.method == "slerp")
    labels = _labels(run, len(path), req.label)
    return {"images": data_urls(_decode(run, path, labels)), "z": _round(path), "method": req.method}


def vector(run: Run, req: schemas.VectorRequest) -> dict[str, Any]:
    """decode(a − b + c): vector arithmetic on three latents."""
    z = check_latent(run, [req.a, req.b, req.c], "a, b and c")
    result = (z[0] - z[1] + z[2])[None]
    return {"image": data_url(_decode(run, result, _labels(run, 1, req.label))[0]), "z": _round(result)[0]}


# ------------------------------------------------------------------ uploads (CAE / VAE / CVAE)


def _model_input(run: Run, data: bytes, invert: bool | None) -> torch.Tensor:
    """Uploaded bytes → (1, C, H, W) in [0, 1] as ``gen reconstruct`` reads a file: centre crop, resize."""
    from latentworks.latent.user_images import images_for_model

    img = read_upload(data)
    grey = int(run.model.config.channels) == 1
    if invert is None and grey:  # MNIST models read light ink on black: invert dark-on-light pictures
        invert = float(np.median(np.asarray(img.convert("L")))) > 127
    with tempfile.TemporaryDirectory(prefix="latentworks-explore-") as tmp:
        path = Path(tmp) / "upload.img"  # Pillow reads the format from the bytes, not the name
        path.write_bytes(data)
        return images_for_model(run.model, [path], bool(invert))


def upload_bytes(fields: dict[str, Any], file: bytes | None) -> bytes:
    """The image bytes of an upload: the multipart ``file`` or the JSON ``image`` (data URL / base64)."""
    if file is not None:
        return file
    image = fields.get("image")
    if not isinstance(image, str):
        raise ApiError("no image in the upload; send JSON {run, image: 'data:image/png;base64,...'} or a "
                       "multipart form with a 'file' field")
    return decode_base64(image)


def encode_upload(run: Run, data: bytes, label: int | None, invert: bool | None,
                  reconstruct: bool) -> dict[str, Any]:
    """z (and the reconstruction) of one uploaded picture."""
    model = run.model
    if not callable(getattr(model, "encode", None)):
        raise ApiError(f"run {run.id!r} is a {run.kind}, which has no encoder; uploads need a cae, vae or cvae run")
    x = _model_input(run, data, invert)
    if getattr(model, "conditional", False) and label is None:
        raise ApiError(f"run {run.id!r} is conditional; send label (the class shown, 0..{model.num_classes - 1})")
    labels = _labels(run, 1, label)
    try:
        with inference(model):
            z = model.encode(x, labels)
            z = (z[0] if isinstance(z, (tuple, list)) else z).float()
    except LatentworksError as err:
        raise ApiError(str(err)) from None
    from latentworks.report.pictures import to_numpy_images

    out = {"z": _round(z)[0], "input": data_url(to_numpy_images(x)[0]),
           "label": None if labels is None else int(labels[0])}
    if reconstruct:
        rec = _decode(run, z, labels)
        out["image"] = data_url(rec[0])
        out["mse"] = float(((torch.from_numpy(rec[0]) - torch.from_numpy(to_numpy_images(x)[0])) ** 2).mean())
    return out


# ------------------------------------------------------------------ what a generative run is to the page


def load(run: Run) -> None:
    """The model (CPU, eval mode); a config.json that is not one JSON object is ignored."""
    run.model = load_model(run.path, expect=registry.kind_names(run.family), map_location="cpu")
    run.config = run.config if isinstance(run.config, dict) else None


VIEW = "gen.js"  # the page's module that shows these runs (static/gen.js), loaded by the run picker


def describe(run: Run) -> dict[str, Any]:
    """What ``GET /api/runs`` adds: the latent size, the classes, the InfoGAN codes and the image shape."""
    c = run.model.config
    return {"latent_dim": int(c.latent_dim), "num_classes": int(getattr(run.model, "num_classes", 0)),
            "codes": int(getattr(c, "codes", 0) or 0),
            "image_shape": [int(c.channels), int(c.image_size), int(c.image_size)]}


def title(run: Run) -> str:
    """Kind, data, size and latent; a face run scored in the face network's space adds its FLD ratio, precision
    and recall (results.json's ``eval``, written by the study's faces part)."""
    c = run.model.config
    data = (run.config or {}).get("data", {}).get("data") or "images"
    data = Path(str(data)).name if "/" in str(data) else data
    ev = (run.results or {}).get("eval")
    scores = ""
    if isinstance(ev, dict) and "features" in ev and all(isinstance(ev.get(k), (int, float))
                                                          for k in ("fld_ratio", "precision", "recall")):
        scores = (f" · face FLD {ev['fld_ratio']:.2f}× floor, precision {ev['precision']:.0%}, "
                  f"recall {ev['recall']:.0%}")
    return f"{registry.kind(run.kind).title} · {data} {c.image_size}×{c.image_size} · latent {c.latent_dim}{scores}"


def what(run: Run) -> str:
    """The model, as the run picker's label names it."""
    return run.kind_title()


def capabilities(run: Run) -> list[str]:
    """What the page offers for the run, from what its kind declares it can do."""
    kind = registry.kind(run.kind)
    caps = ["sample", "decode", "interpolate", "vector", "directions", "scale"]
    if kind.can("label"):
        caps.append("labels")
    if kind.can("codes") and getattr(run.model.config, "codes", 0):
        caps.append("codes")
    if kind.can("encode"):
        caps += ["encode", "reconstruct", "upload"]
        if run.config is not None:
            caps.append("map")
    return caps


def _upload(reconstruct: bool) -> Build:
    """An image upload (JSON or multipart, see :func:`~latentworks.explore.routes.parse_upload`) encoded, or also
    reconstructed."""

    def build(runs: Runs, family: str | None) -> Callable[..., Any]:
        async def upload(request: Request) -> dict[str, Any]:
            fields, file = parse_upload(request.headers.get("content-type", ""), await request.body())
            req = schemas.UploadJson.model_validate(fields)
            run = runs.get(req.run, family)
            data = upload_bytes(fields, file)

            def work() -> dict[str, Any]:
                with runs.compute:
                    return encode_upload(run, data, req.label, req.invert, reconstruct)

            return await run_in_threadpool(work)

        return upload

    return build


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/sample", "`{run, n: 1..16, seed, scale: (0, 10], truncate?, label?, code?}`",
          "`{n, seed, images (n×n, row by row), z, labels}`", on_run(sample, schemas.SampleRequest)),
    Route("POST", "/api/decode", "`{run, z: 1..256 rows, label? \\| labels?, code?}`", "`{images}`",
          on_run(decode_rows, schemas.DecodeRequest)),
    Route("POST", "/api/interpolate", "`{run, a, b, steps: 2..64, method: \"lerp\" \\| \"slerp\", label?}`",
          "`{images, z, method}` (endpoints exact)", on_run(interpolate, schemas.InterpolateRequest)),
    Route("POST", "/api/vector", "`{run, a, b, c, label?}`", "`{image, z}` of decode(a − b + c)",
          on_run(vector, schemas.VectorRequest)),
    Route("POST", "/api/directions", "`{run, k: 1..16}`",
          "`{source, note, latent_dim, directions: [{name, vector (unit), scale}]}`",
          on_run(space.directions, schemas.DirectionsRequest)),
    Route("POST", "/api/map", "`{run, points: 10..2000, seed}`",
          "`{points: [[x, y]], labels, source, data, note, basis: {mean, components}}`",
          on_run(space.latent_map, schemas.MapRequest)),
    Route("POST", "/api/map/point", "`{run, points, seed, index}`", "`{index, z, label, input, image}`",
          on_run(space.map_point, schemas.MapPointRequest)),
    Route("POST", "/api/encode", "upload (below)", "`{z, input, label}`", _upload(False)),
    Route("POST", "/api/reconstruct", "upload (below)", "`{z, input, label, image, mse}`", _upload(True)),
)

__all__ = ["ROUTES", "capabilities", "check_latent", "decode_rows", "describe", "encode_upload", "interpolate",
           "load", "sample", "set_code", "title", "upload_bytes", "vector", "what"]
