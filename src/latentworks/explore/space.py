"""The shape of a generative run's latent space: slider directions and the 2-D map of held-out images.

* directions — latents of at most 16 numbers get one slider per coordinate; larger ones get their top principal
  directions: of the encoded held-out images for autoencoders (CAE / VAE / CVAE), and GANSpace-style for GANs
  (Härkönen et al. 2020): principal components of the generator's first-layer features over many sampled
  latents, carried back to latent space by least squares. An autoencoder whose data cannot be found falls back
  to the GANSpace directions of its decoder (:mod:`latentworks.latent.directions` computes them, as it does for
  ``latentworks gen directions``). Each direction is a unit vector with a ``scale``: the latent distance of one
  standard deviation along it, so sliders move in σ units.
* map — held-out images (the run's own test split, a seeded subset) encoded and projected on the first two
  principal components of their latents (or the latent itself when it is 2-D), with their class labels.

Both are computed on first use and cached on the run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentworks import registry
from latentworks.errors import LatentworksError
from latentworks.explore import schemas
from latentworks.explore.images import data_url
from latentworks.explore.runs import ApiError, Run
from latentworks.latent.core import decode
from latentworks.latent.directions import encode_subset, load_heldout, pca, principal_directions


def _heldout(run: Run) -> tuple[torch.Tensor, torch.Tensor | None, str, str | None]:
    """The run's whole test split (uint8 images, labels, source) and a note when a fallback was used."""
    if "heldout" in run.cache:
        return run.cache["heldout"]
    if run.config is None:
        raise ApiError(f"run {run.id!r} has no config.json, so its held-out images are unknown; the map needs the "
                       "run folder a training wrote")
    from latentworks.recipes.generative import from_json

    try:
        d = from_json(run.config).data
    except LatentworksError as err:
        raise ApiError(f"run {run.id!r}: config.json cannot be read ({err})") from None
    try:
        run.cache["heldout"] = load_heldout(run.model, d)
    except LatentworksError as err:
        raise ApiError(f"the held-out images of run {run.id!r} cannot be loaded: {err}") from None
    return run.cache["heldout"]


def _encoded(run: Run, points: int, seed: int) -> dict[str, Any]:
    """A seeded subset of the held-out images and their latents (the posterior mean for VAEs)."""
    key = ("encoded", points, seed)
    if key not in run.cache:
        x, y, source, note = _heldout(run)
        try:
            xs, ys, z = encode_subset(run.model, x, y, points, seed)
        except LatentworksError as err:
            raise ApiError(f"run {run.id!r}: {err}") from None
        run.cache[key] = {"x": xs, "y": ys, "z": z, "source": source, "note": note}
    return run.cache[key]


def directions(run: Run, req: schemas.DirectionsRequest) -> dict[str, Any]:
    d = int(run.model.config.latent_dim)
    key = ("directions", req.k)
    if key in run.cache:
        return run.cache[key]
    note = None
    encoded = None
    if registry.kind(run.kind).can("encode") and run.config is not None:
        try:
            encoded = _encoded(run, 1000, 0)
            note = encoded["note"]
        except ApiError as err:
            note = f"held-out images unavailable ({err}); directions from the decoder instead"
    if d <= 16:
        vectors, source = torch.eye(d), "dimensions"
        if encoded is not None:
            scale = encoded["z"].std(0)
        elif hasattr(run.model, "code_std"):
            scale = run.model.code_std.float().cpu()
        else:
            scale = torch.ones(d)
        names = [f"z[{i}]" for i in range(d)]
    else:
        found = principal_directions(run.model, req.k, encoded=None if encoded is None else encoded["z"])
        vectors, scale, source = found.vectors, found.scale, found.source
        names = [f"PC{i + 1}" for i in range(len(vectors))]
    out = {"source": source, "note": note, "latent_dim": d,
           "directions": [{"name": n, "vector": np.round(np.asarray(v, np.float64), 6).tolist(),
                           "scale": round(float(s), 6)} for n, v, s in zip(names, vectors, scale)]}
    run.cache[key] = out
    return out


def latent_map(run: Run, req: schemas.MapRequest) -> dict[str, Any]:
    if not registry.kind(run.kind).can("encode"):
        raise ApiError(f"run {run.id!r} is a {run.kind}, which has no encoder; the map needs a "
                       f"{', '.join(registry.kind_names(capability='encode'))} run")
    enc = _encoded(run, req.points, req.seed)
    z = enc["z"].double()
    d = z.shape[1]
    if d <= 2:
        mean, comps = torch.zeros(d, dtype=z.dtype), torch.eye(2, d, dtype=z.dtype)
        source = "latent"
    else:
        mean, comps = pca(z, 2)[:2]
        source = "pca"
    xy = (z - mean) @ comps.T
    labels = None if enc["y"] is None else enc["y"].tolist()
    return {"points": np.round(xy.numpy(), 4).tolist(), "labels": labels, "source": source, "note": enc["note"],
            "data": enc["source"], "basis": {"mean": np.round(mean.numpy(), 6).tolist(),
                                             "components": np.round(comps.numpy(), 6).tolist()}}


def map_point(run: Run, req: schemas.MapPointRequest) -> dict[str, Any]:
    """One held-out image of the map: its latent, label, the image itself and its decoding."""
    latent_map(run, req)  # the same subset (cached)
    enc = _encoded(run, req.points, req.seed)
    if req.index >= len(enc["z"]):
        raise ApiError(f"index {req.index} is beyond the map's {len(enc['z'])} points")
    from latentworks.report.pictures import to_numpy_images

    z = enc["z"][req.index:req.index + 1]
    label = None if enc["y"] is None else int(enc["y"][req.index])
    labels = torch.tensor([label]) if getattr(run.model, "conditional", False) else None
    return {"index": req.index, "z": np.round(z[0].double().numpy(), 5).tolist(), "label": label,
            "input": data_url(to_numpy_images(enc["x"][req.index:req.index + 1].float() / 255.0)[0]),
            "image": data_url(decode(run.model, z, labels)[0])}


__all__ = ["directions", "latent_map", "map_point"]
