"""Principal directions of a generative model's latent space, and how much variance each explains.

* Autoencoders (CAE / VAE / CVAE) whose held-out images can be loaded: principal components of the encoded
  held-out images (the posterior mean for VAEs), ``source="pca"``.
* GANs, and autoencoders without their data: GANSpace (Härkönen et al. 2020), ``source="ganspace"``: principal
  components of the generator's first-layer features over sampled latents, carried back to latent space by
  least squares (a generator without a first dense layer: principal directions of the sampled latents).

Each direction is a unit vector with a ``scale`` (the latent distance of one standard deviation along it) and
its explained variance: its share of the total variance of the space analysed (the encoded latents for ``pca``,
first-layer features for ``ganspace``). ``latentworks gen directions``, ``GenerativeRun.directions``
and the explorer's sliders all come from here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from latentworks.data.images import MNIST_NAMES, load_image_dataset
from latentworks.errors import LatentworksError
from latentworks.latent.core import batched, decode, generator, model_kind, resolve_labels, sample_latents
from latentworks.latent.tools import _strip
from latentworks.models.inference import inference

GANSPACE_SAMPLES = 2000
HELDOUT_POINTS = 1000  # encoded held-out images behind an autoencoder's PCA


class Pca(NamedTuple):
    mean: torch.Tensor  # (D,)
    components: torch.Tensor  # (k, D) unit rows, sign fixed so the largest entry is positive
    std: torch.Tensor  # (k,) standard deviation along each component
    ratio: torch.Tensor  # (k,) share of the total variance along each component


@dataclass
class Directions:
    """Unit ``vectors`` (k, latent_dim), the latent ``scale`` of one σ along each, the ``explained_variance``
    (share of the total, in [0, 1]) per direction, the ``source`` (pca | ganspace) and a ``note``
    saying why a fallback was taken (or None)."""

    vectors: np.ndarray
    scale: np.ndarray
    explained_variance: np.ndarray
    source: str
    note: str | None = None


def pca(z: torch.Tensor, k: int) -> Pca:
    """The top-``k`` principal components of the rows of ``z``."""
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
    dof = max(len(z) - 1, 1)
    std = s[:k] / dof ** 0.5
    # the total from the data itself: the randomised SVD sees only its top singular values
    total = ((z - mean) ** 2).sum() / dof
    return Pca(mean, comps * flip, std, std ** 2 / total.clamp_min(1e-30))


class _Stop(Exception):
    pass


def first_layer(model) -> torch.nn.Module | None:
    """The generator's (or decoder's) first dense layer, whose output GANSpace analyses."""
    net = model.sampler() if hasattr(model, "sampler") else getattr(model, "decoder", None)
    net = getattr(net, "net", net)
    return getattr(net, "dense", None)


def ganspace(model, k: int, seed: int = 0, samples: int = GANSPACE_SAMPLES) -> tuple[torch.Tensor, ...]:
    """Unit latent directions (k, D), the latent distance of one σ along each, and each one's share of the
    first-layer features' variance (see the module docstring)."""
    dense = first_layer(model)
    z = sample_latents(model, samples, generator(seed))
    if dense is None:  # no first dense layer to read: principal directions of the latents themselves
        p = pca(z, k)
        return p.components, p.std, p.ratio
    labels = resolve_labels(model, len(z), None)
    feats: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        feats.append(output.detach().flatten(1).float().cpu())
        raise _Stop  # the features are all we need: skip the rest of the generator

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
    p = pca(y, k)
    x = (y - p.mean) @ p.components.T  # (N, k) coordinates of each sample's features
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    coef = torch.linalg.lstsq(design, z.double()).solution[:k]  # (k, D): feature component → latent change
    norms = coef.norm(dim=1).clamp_min(1e-12)
    return (coef / norms[:, None]).float(), (x.std(0) * norms).float(), p.ratio.float()


def load_heldout(model, data: Any) -> tuple[torch.Tensor, torch.Tensor | None, str, str | None]:
    """The test split named by a generative run's ``data`` config (uint8 images, labels, source) and a note when
    MNIST fell back to the embedded sample; the original error when nothing could be loaded."""
    c = model.config
    args = dict(split="test", holdout=data.holdout, background=data.background, progress=False, quiet=True)
    try:
        x, y, source = load_image_dataset(data.data, int(c.image_size), int(c.channels), data.data_dir, **args)
        return x, y, source, None
    except LatentworksError as err:
        if data.data not in MNIST_NAMES or data.data_dir == "embedded":
            raise
        try:
            x, y, source = load_image_dataset(data.data, int(c.image_size), int(c.channels), "embedded", **args)
        except LatentworksError:
            raise err from None
        return x, y, source, (f"{data.data} was not found ({str(err)[:120]}); the embedded MNIST sample is used "
                              "instead")


def encode_subset(model, x: torch.Tensor, y: torch.Tensor | None, points: int,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """A seeded subset of ``points`` images (sorted indices) and their latents (the posterior mean for VAEs)."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(x), size=min(points, len(x)), replace=False))
    xs = x[torch.from_numpy(idx)]
    ys = y[torch.from_numpy(idx)] if y is not None else None
    conditional = getattr(model, "conditional", False)
    if conditional and ys is None:
        raise LatentworksError(f"this {model_kind(model)} model is conditional but its held-out images have no "
                               "labels")
    outs = batched(model, lambda a, b: model.encode(a, b), xs, ys if conditional else None, batch=250)
    z = torch.cat([(o[0] if isinstance(o, (tuple, list)) else o).float().cpu() for o in outs])
    return xs, ys, z


def principal_directions(model, k: int = 10, *, seed: int = 0, data: Any = None,
                         encoded: torch.Tensor | None = None, note: str | None = None) -> Directions:
    """The top ``k`` directions (at most latent_dim): PCA of ``encoded`` held-out latents when given, else of the
    held-out images of ``data`` (a generative run's data config) for a model with an encoder, else GANSpace from
    ``seed``."""
    if k < 1:
        raise LatentworksError(f"--n must be at least 1 (directions to show), got {k}")
    k = min(k, int(model.config.latent_dim))  # more would repeat directions already found
    has_encoder = callable(getattr(model, "encode", None))
    if encoded is None and data is None and has_encoder and note is None:
        note = "no config.json names the held-out images; directions from the decoder instead"
    if encoded is None and data is not None and has_encoder:
        try:
            x, y, _, note = load_heldout(model, data)
            encoded = encode_subset(model, x, y, HELDOUT_POINTS, seed)[2]
        except LatentworksError as err:
            note = f"held-out images unavailable ({err}); directions from the decoder instead"
    if encoded is not None:
        p = pca(encoded.double(), k)
        vectors, scale, ratio, source = p.components, p.std, p.ratio, "pca"
    else:
        vectors, scale, ratio = ganspace(model, k, seed)
        source = "ganspace"
    return Directions(vectors.numpy(), scale.numpy(), ratio.numpy(), source, note)


def directions_figure(model, dirs: Directions, out: str | Path, *, seed: int = 0, steps: int = 7,
                      span: float = 3.0, label: int | None = None) -> Path:
    """One row per direction: a random latent from ``seed`` moved from −``span`` σ to +``span`` σ along it."""
    from latentworks.report.plots import image_rows  # matplotlib: loaded only when a figure is drawn

    if steps < 2:
        raise LatentworksError(f"--steps must be at least 2, got {steps}")
    if not span > 0:
        raise LatentworksError(f"--span must be above 0 (σ on each side), got {span}")
    base = sample_latents(model, 1, generator(seed))[0].double()
    sigmas = torch.linspace(-span, span, steps, dtype=torch.float64)
    if label is None and getattr(model, "conditional", False):
        label = 0  # one class for the whole figure, as the manifold does
    rows, names = [], []
    for i, (v, s, r) in enumerate(zip(dirs.vectors, dirs.scale, dirs.explained_variance)):
        z = base + sigmas[:, None] * float(s) * torch.from_numpy(np.asarray(v, np.float64))
        rows.append(_strip(list(decode(model, z.float(), label))))
        names.append(f"PC{i + 1} {r:.1%}")
    title = (f"{model_kind(model)}: {len(rows)} {dirs.source} directions, −{span:g}σ … +{span:g}σ, "
             f"latent seed {seed}")
    return image_rows(rows, names, out, title=title)


__all__ = ["Directions", "GANSPACE_SAMPLES", "HELDOUT_POINTS", "Pca", "directions_figure", "encode_subset",
           "first_layer", "ganspace", "load_heldout", "pca", "principal_directions"]
