"""The shape of a generative run's latent space: slider directions and the 2-D map of held-out images.

* directions — latents of at most 16 numbers get one slider per coordinate; larger ones get their top principal
  directions: of the encoded held-out images for autoencoders (CAE / VAE / CVAE), and GANSpace-style for GANs
  (Härkönen et al. 2020): principal components of the generator's first-layer features over many sampled
  latents, carried back to latent space by least squares. An autoencoder whose data cannot be found falls back
  to the GANSpace directions of its decoder. Each direction is a unit vector with a ``scale``: the latent
  distance of one standard deviation along it, so sliders move in σ units.
* map — held-out images (the run's own test split, a seeded subset) encoded and projected on the first two
  principal components of their latents (or the latent itself when it is 2-D), with their class labels.

Both are computed on first use and cached on the run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch

from latentworks.errors import LatentworksError
from latentworks.explore import schemas
from latentworks.explore.images import data_url
from latentworks.explore.runs import AUTOENCODER_KINDS, ApiError, Run
from latentworks.latent.core import batched, decode, generator, resolve_labels, sample_latents
from latentworks.models.inference import inference

GANSPACE_SAMPLES = 2000


def _heldout(run: Run) -> tuple[torch.Tensor, torch.Tensor | None, str, str | None]:
    """The run's whole test split (uint8 images, labels, source) and a note when a fallback was used."""
    if "heldout" in run.cache:
        return run.cache["heldout"]
    if run.config is None:
        raise ApiError(f"run {run.id!r} has no config.json, so its held-out images are unknown; the map needs the "
                       "run folder a training wrote")
    from latentworks.data.images import MNIST_NAMES, load_image_dataset
    from latentworks.recipes.generative import from_json

    try:
        d = from_json(run.config).data
    except LatentworksError as err:
        raise ApiError(f"run {run.id!r}: config.json cannot be read ({err})") from None
    c = run.model.config
    args = dict(split="test", holdout=d.holdout, background=d.background, progress=False, quiet=True)
    note = None
    try:
        x, y, source = load_image_dataset(d.data, int(c.image_size), int(c.channels), d.data_dir, **args)
    except LatentworksError as err:
        if d.data not in MNIST_NAMES or d.data_dir == "embedded":
            raise ApiError(f"the held-out images of run {run.id!r} cannot be loaded: {err}") from None
        try:
            x, y, source = load_image_dataset(d.data, int(c.image_size), int(c.channels), "embedded", **args)
        except LatentworksError:
            raise ApiError(f"the held-out images of run {run.id!r} cannot be loaded: {err}") from None
        note = f"{d.data} was not found ({str(err)[:120]}); the map shows the embedded MNIST sample instead"
    run.cache["heldout"] = (x, y, source, note)
    return run.cache["heldout"]


def _encoded(run: Run, points: int, seed: int) -> dict[str, Any]:
    """A seeded subset of the held-out images and their latents (the posterior mean for VAEs)."""
    key = ("encoded", points, seed)
    if key not in run.cache:
        x, y, source, note = _heldout(run)
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(x), size=min(points, len(x)), replace=False))
        xs = x[torch.from_numpy(idx)]
        ys = y[torch.from_numpy(idx)] if y is not None else None
        model = run.model
        labels = ys if getattr(model, "conditional", False) else None
        if getattr(model, "conditional", False) and labels is None:
            raise ApiError(f"run {run.id!r} is conditional but its held-out images have no labels")
        outs = batched(model, lambda a, b: model.encode(a, b), xs, labels, batch=250)
        z = torch.cat([(o[0] if isinstance(o, (tuple, list)) else o).float().cpu() for o in outs])
        run.cache[key] = {"x": xs, "y": ys, "z": z, "source": source, "note": note}
    return run.cache[key]


def _pca(z: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, top-k unit components (k, D) with a fixed sign, and the standard deviation along each."""
    mean = z.mean(0)
    if min(z.shape) > 256:  # wide feature matrices: a randomised SVD, seeded so the directions stay the same
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            _, s, v = torch.pca_lowrank(z - mean, q=min(k + 10, min(z.shape)), center=False, niter=4)
        comps = v.T[:k]
    else:
        _, s, vh = torch.linalg.svd(z - mean, full_matrices=False)
        comps = vh[:k]
    flip = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))
    return mean, comps * flip, s[:k] / max(len(z) - 1, 1) ** 0.5


class _Stop(Exception):
    pass


def _first_layer(run: Run):
    model = run.model
    net = model.sampler() if hasattr(model, "sampler") else getattr(model, "decoder", None)
    net = getattr(net, "net", net)
    return getattr(net, "dense", None)


def ganspace(run: Run, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit latent directions (k, D) and the latent distance of one σ along each (GANSpace, see above)."""
    model = run.model
    dense = _first_layer(run)
    z = sample_latents(model, GANSPACE_SAMPLES, generator(0))
    if dense is None:  # no first dense layer to read: principal directions of the latents themselves
        _, comps, std = _pca(z, k)
        return comps, std
    labels = resolve_labels(model, len(z), None)
    feats: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        feats.append(output.detach().flatten(1).float().cpu())
        raise _Stop

    handle = dense.register_forward_hook(hook)
    try:
        with inference(model):
            for s in range(0, len(z), 500):
                with contextlib.suppress(_Stop):
                    model.decode(z[s:s + 500], None if labels is None else labels[s:s + 500])
    finally:
        handle.remove()
    y = torch.cat(feats).double()
    k = min(k, y.shape[1], len(z) - 2)
    mean_y, comps_y, _ = _pca(y, k)
    x = (y - mean_y) @ comps_y.T  # (N, k) coordinates of each sample's features
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    coef = torch.linalg.lstsq(design, z.double()).solution[:k]  # (k, D): feature component → latent change
    norms = coef.norm(dim=1).clamp_min(1e-12)
    return (coef / norms[:, None]).float(), (x.std(0) * norms).float()


def directions(run: Run, req: schemas.DirectionsRequest) -> dict[str, Any]:
    d = int(run.model.config.latent_dim)
    key = ("directions", req.k)
    if key in run.cache:
        return run.cache[key]
    note = None
    encoded = None
    if run.kind in AUTOENCODER_KINDS and run.config is not None:
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
        if encoded is not None:
            _, vectors, scale = _pca(encoded["z"].double(), req.k)
            source = "pca"
        else:
            vectors, scale = ganspace(run, req.k)
            source = "ganspace"
        names = [f"PC{i + 1}" for i in range(len(vectors))]
    out = {"source": source, "note": note, "latent_dim": d,
           "directions": [{"name": n, "vector": np.round(v.double().numpy(), 6).tolist(), "scale": round(float(s), 6)}
                          for n, v, s in zip(names, vectors, scale)]}
    run.cache[key] = out
    return out


def latent_map(run: Run, req: schemas.MapRequest) -> dict[str, Any]:
    if run.kind not in AUTOENCODER_KINDS:
        raise ApiError(f"run {run.id!r} is a {run.kind}, which has no encoder; the map needs a cae, vae or cvae run")
    enc = _encoded(run, req.points, req.seed)
    z = enc["z"].double()
    d = z.shape[1]
    if d <= 2:
        mean, comps = torch.zeros(d, dtype=z.dtype), torch.eye(2, d, dtype=z.dtype)
        source = "latent"
    else:
        mean, comps, _ = _pca(z, 2)
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


__all__ = ["directions", "ganspace", "latent_map", "map_point"]
