"""Latent tools on any generative model: each returns arrays and, given ``out``, writes its figure.

* :func:`sample_grid` — an n×n grid from one seed, cells numbered 0..n²-1 row by row (pick indices from it);
* :func:`interpolate` — two random points and the line (or great circle) between them;
* :func:`traverse` — a path through several random points: a PNG strip, or a GIF when ``out`` ends in .gif;
* :func:`latent_arithmetic` — mean(A) − mean(B) + mean(C) by cell indices of a numbered grid (seed 002);
* :func:`sweep_dim` — vary one latent coordinate;
* :func:`manifold` — the decoded grid over normal quantiles of a 2-D latent;
* :func:`code_grid` — a GAN with an InfoGAN code: one row per code value, the same noise down each column;
* :func:`reconstruct`, :func:`encode`, :func:`decode_latents` — user images through a CAE / VAE / CVAE.

Images are numpy float32 in [0, 1], ``(N, H, W)`` grey or ``(N, H, W, 3)`` RGB; latents ``(N, latent_dim)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks.errors import LatentworksError
from latentworks.latent.core import (
    batched,
    check_latents,
    decode,
    generator,
    info_codes,
    interpolate_latents,
    latent_dim,
    model_kind,
    parse_indices,
    path_through,
    resolve_labels,
    sample_latents,
    set_code,
)
from latentworks.latent.user_images import images_for_model, write_latents_json
from latentworks.report.pictures import to_numpy_images, write_gif

MAX_GRID = 40  # 1,600 cells; numbers stop being readable well before this


@dataclass
class LatentResult:
    """What a tool made: ``images`` (decoded), their ``latents``, the ``labels`` used (conditional models),
    the figure ``path`` when one was written, and tool-specific ``info``."""

    images: np.ndarray
    latents: np.ndarray
    labels: np.ndarray | None = None
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _np(x: torch.Tensor | None) -> np.ndarray | None:
    return None if x is None else x.detach().cpu().numpy()


def _strip(cells: Sequence[np.ndarray | None], width: int | None = None) -> np.ndarray:
    """Images side by side with a 1-pixel grey gap; ``None`` cells (and padding to ``width``) stay black."""
    shape = next(c for c in cells if c is not None).shape
    cells = [*cells, *[None] * (max(width or 0, len(cells)) - len(cells))]
    black = np.zeros(shape, np.float32)
    parts = []
    for i, c in enumerate(cells):
        parts.append(black if c is None else c)
        if i < len(cells) - 1:
            both = c is not None and cells[i + 1] is not None
            parts.append(np.full((shape[0], 1, *shape[2:]), 0.35 if both else 0.0, np.float32))
    return np.concatenate(parts, axis=1)


def _grid_figure(images: np.ndarray, out, *, nrow: int, title: str, numbered: bool = False) -> Path:
    # why here: matplotlib takes about a second to import; the API and the explorer use these tools without figures
    from latentworks.report.plots import image_grid

    return image_grid(images, out, nrow=nrow, title=title, numbered=numbered)


def _rows_figure(rows: list[np.ndarray], labels: list[str], out, *, title: str) -> Path:
    # why here: as in _grid_figure, matplotlib only when a figure is drawn
    from latentworks.report.plots import image_rows

    return image_rows(rows, labels, out, title=title)


# ------------------------------------------------------------------ sampling


def sample_grid(model, n: int, seed: int, labels=None, truncate: float | None = None, scale: float = 1.0,
                out: str | Path | None = None) -> LatentResult:
    """n×n samples from ``seed``; cell ``i`` (row ``i // n``, column ``i % n``) decodes ``latents[i]``.

    Conditional models default to labels 0, 1, …, 9, 0, … (one digit per column on a 10-wide grid).
    """
    if not 1 <= n <= MAX_GRID:
        raise LatentworksError(f"--n must be between 1 and {MAX_GRID} (an n×n grid), got {n}")
    gen = generator(seed)
    z = sample_latents(model, n * n, gen, truncate, scale)
    lab = resolve_labels(model, n * n, labels)
    images = decode(model, z, lab)
    path = None
    if out is not None:
        extra = "".join([f", truncate {truncate}" if truncate else "",
                         f", scale {scale:g}" if scale != 1 else "",
                         f", label {labels}" if isinstance(labels, int) else ""])
        path = _grid_figure(images, out, nrow=n, numbered=True,
                            title=f"{model_kind(model)}: {n}×{n} samples, latent seed {seed}{extra}")
    return LatentResult(images, z.numpy(), _np(lab), path,
                        {"seed": seed, "n": n, "truncate": truncate, "scale": scale})


# ------------------------------------------------------------------ paths


def interpolate(model, seed: int, steps: int, slerp: bool = False, labels=None,
                out: str | Path | None = None) -> LatentResult:
    """Two random points from ``seed`` and ``steps`` points between them, endpoints included.

    ``images[0]`` and ``images[-1]`` decode exactly the two random points (``info["endpoints"]``).
    """
    gen = generator(seed)
    ends = sample_latents(model, 2, gen)
    path_z = interpolate_latents(ends[0], ends[1], steps, slerp)
    lab = resolve_labels(model, steps, labels, gen, default="random")
    images = decode(model, path_z, lab)
    path = None
    if out is not None:
        ends_img = decode(model, ends, None if lab is None else lab[:2])
        top = _strip([ends_img[0], *[None] * (steps - 2), ends_img[1]])
        how = "slerp" if slerp else "lerp"
        path = _rows_figure([top, _strip(list(images))], ["two random points", f"{how}, {steps} steps"], out,
                            title=f"{model_kind(model)}: interpolation, latent seed {seed}")
    return LatentResult(images, path_z.numpy(), _np(lab), path,
                        {"seed": seed, "steps": steps, "slerp": slerp, "endpoints": ends.numpy()})


def traverse(model, points: int, steps: int, seed: int, slerp: bool = False, labels=None,
             out: str | Path | None = None, duration_ms: int = 80) -> LatentResult:
    """A path through ``points`` random points in ``steps`` frames; ``out`` *.gif → animation, else PNG."""
    gen = generator(seed)
    knots = sample_latents(model, points, gen)
    path_z = path_through(knots, steps, slerp)
    lab = resolve_labels(model, steps, labels, gen, default="random")
    images = decode(model, path_z, lab)
    path = None
    if out is not None:
        if str(out).lower().endswith(".gif"):
            path = write_gif(images, out, duration_ms=duration_ms)
        else:
            per_row = min(steps, 20)
            path = _grid_figure(images, out, nrow=-(-steps // per_row),
                                title=f"{model_kind(model)}: path through {points} points, latent seed {seed}")
    return LatentResult(images, path_z.numpy(), _np(lab), path,
                        {"seed": seed, "points": points, "steps": steps, "knots": knots.numpy()})


# ------------------------------------------------------------------ arithmetic


def latent_arithmetic(model, grid_seed: int, n: int, a_idx, b_idx, c_idx, *, labels=None,
                      truncate: float | None = None, scale: float = 1.0, result_label: int | None = None,
                      out: str | Path | None = None) -> LatentResult:
    """Decode mean(A) − mean(B) + mean(C); A, B, C are cell indices of ``sample_grid(model, n, grid_seed)``.

    Pass the same ``labels`` / ``truncate`` / ``scale`` as the grid you picked the indices from. Conditional
    models decode the result with ``result_label`` (default: the label of the first C cell).
    ``info`` holds ``mean_a``, ``mean_b``, ``mean_c`` and the picked ``cells``.
    """
    groups = {"--a": parse_indices(a_idx, "--a"), "--b": parse_indices(b_idx, "--b"),
              "--c": parse_indices(c_idx, "--c")}
    cells = n * n
    for name, idx in groups.items():
        for i in idx:
            if not 0 <= i < cells:
                raise LatentworksError(f"grid index {i} in {name} is out of range: a {n}×{n} grid has cells "
                                       f"0..{cells - 1}")
    grid = sample_grid(model, n, grid_seed, labels=labels, truncate=truncate, scale=scale)
    z = torch.from_numpy(grid.latents)
    a, b, c = (z[idx].mean(0) for idx in groups.values())
    result = (a - b + c).unsqueeze(0)
    res_label = None
    if getattr(model, "conditional", False):
        res_label = result_label if result_label is not None else int(grid.labels[groups["--c"][0]])
    lab = resolve_labels(model, 1, res_label)
    images = decode(model, result, lab)
    path = None
    if out is not None:
        means = decode(model, torch.stack([a, b, c]), None if lab is None else lab.expand(3))
        width = max(len(v) for v in groups.values()) + 1
        rows, names = [], []
        for (name, idx), mean_img in zip(groups.items(), means):
            rows.append(_strip([*grid.images[idx], *[None] * (width - len(idx)), mean_img]))
            names.append(f"{name[2:].upper()} {','.join(map(str, idx))} → mean")
        rows.append(_strip([*[None] * width, images[0]]))
        names.append("A − B + C")
        path = _rows_figure(rows, names, out,
                            title=f"{model_kind(model)}: arithmetic on the {n}×{n} grid, latent seed {grid_seed}")
    return LatentResult(images, result.numpy(), _np(lab), path, {
        "mean_a": a.numpy(), "mean_b": b.numpy(), "mean_c": c.numpy(),
        "cells": {k[2:]: v for k, v in groups.items()}, "grid_seed": grid_seed, "n": n,
    })


# ------------------------------------------------------------------ one coordinate, 2-D manifold


def sweep_dim(model, dim: int, lo: float, hi: float, steps: int, seed: int, rows: int = 1, labels=None,
              out: str | Path | None = None) -> LatentResult:
    """``rows`` random points from ``seed``, each with coordinate ``dim`` swept from ``lo`` to ``hi``."""
    d = latent_dim(model)
    if not 0 <= dim < d:
        raise LatentworksError(f"--dim {dim} is out of range: this model's latent_dim is {d}, "
                               f"so dims 0..{d - 1}")
    if steps < 2:
        raise LatentworksError(f"--steps must be at least 2, got {steps}")
    if rows < 1:
        raise LatentworksError(f"--rows must be at least 1, got {rows}")
    gen = generator(seed)
    base = sample_latents(model, rows, gen)
    z = base.repeat_interleave(steps, dim=0)
    z[:, dim] = torch.linspace(lo, hi, steps).repeat(rows)
    lab = resolve_labels(model, rows * steps, labels, gen, default="random")
    images = decode(model, z, lab)
    path = None
    if out is not None:
        path = _grid_figure(images, out, nrow=rows,
                            title=f"{model_kind(model)}: z[{dim}] from {lo:g} to {hi:g}, latent seed {seed}")
    return LatentResult(images, z.numpy(), _np(lab), path, {"dim": dim, "values": np.linspace(lo, hi, steps)})


def manifold(model, n: int = 20, labels=None, out: str | Path | None = None) -> LatentResult:
    """2-D latent: decode z = (Φ⁻¹(q_col), Φ⁻¹(q_row)), quantiles q = (i + ½)/n; high z[1] at the top.

    Conditional models use ``labels`` (default class 0) for every cell."""
    d = latent_dim(model)
    if d != 2:
        raise LatentworksError(f"manifold needs a 2-D latent space; this {model_kind(model)} model's "
                               f"latent_dim is {d} (train one with latent_dim 2)")
    if not 2 <= n <= MAX_GRID:
        raise LatentworksError(f"--n must be between 2 and {MAX_GRID}, got {n}")
    q = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(n, dtype=torch.float64) + 0.5) / n).float()
    ys, xs = torch.meshgrid(q.flip(0), q, indexing="ij")
    z = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
    if labels is None and model_is_cond(model):
        labels = 0
    lab = resolve_labels(model, n * n, labels)
    images = decode(model, z, lab)
    path = None
    if out is not None:
        path = _grid_figure(images, out, nrow=n, title=f"{model_kind(model)}: 2-D latent manifold "
                                                       f"(±{float(q[-1]):.2f}σ)")
    return LatentResult(images, z.numpy(), _np(lab), path, {"quantiles": q.numpy()})


def code_grid(model, seed: int, columns: int = 10, out: str | Path | None = None) -> LatentResult:
    """One row per value of an InfoGAN code, ``columns`` random latents from ``seed`` across.

    Row ``k`` sets each latent's code to ``k`` with :func:`~latentworks.latent.core.set_code`: the same numbers
    in another order, so only the code changes down a column."""
    codes = info_codes(model)
    if not codes:
        raise LatentworksError(f"this {model_kind(model)} model has no InfoGAN code; train a dcgan with --codes K")
    if not 1 <= columns <= MAX_GRID:
        raise LatentworksError(f"--n must be between 1 and {MAX_GRID}, got {columns}")
    base = sample_latents(model, columns, generator(seed))
    z = torch.cat([set_code(model, base, k) for k in range(codes)])
    images = decode(model, z)
    path = None
    if out is not None:
        path = _grid_figure(images, out, nrow=codes,
                            title=f"{model_kind(model)}: code 0..{codes - 1} by row, latent seed {seed}")
    return LatentResult(images, z.numpy(), None, path, {"seed": seed, "codes": codes})


def model_is_cond(model) -> bool:
    return bool(getattr(model, "conditional", False))


# ------------------------------------------------------------------ user images (CAE / VAE / CVAE)


def _need_encoder(model) -> None:
    if not callable(getattr(model, "encode", None)):
        raise LatentworksError(f"a {model_kind(model)} model has no encoder; reconstruct and encode need a "
                               "CAE, VAE or CVAE run")


def _cond_labels(model, n: int, labels) -> torch.Tensor | None:
    if model_is_cond(model) and labels is None:
        raise LatentworksError(f"this {model_kind(model)} model is conditional; "
                               "pass --label (the digit shown)")
    return resolve_labels(model, n, labels)


def encode(model, images, labels=None, invert: bool = False, out: str | Path | None = None,
           names: Sequence[str] | None = None, batch: int = 256) -> LatentResult:
    """Latents of user images (file paths or arrays); ``out`` writes JSON (``{"z": [[...]], ...}``)."""
    _need_encoder(model)
    x = images_for_model(model, images, invert)
    lab = _cond_labels(model, len(x), labels)
    codes = batched(model, model.encode, x, lab, batch)  # a VAE's encode gives (mean, log-variance): keep the mean
    z = torch.cat([(c[0] if isinstance(c, (tuple, list)) else c).float().cpu() for c in codes])
    if names is None and isinstance(images, (list, tuple)) and images and isinstance(images[0], (str, Path)):
        names = [str(p) for p in images]
    path = None
    if out is not None:
        path = write_latents_json(out, z.numpy(), kind=model_kind(model), names=names,
                                  labels=None if lab is None else lab.tolist())
    return LatentResult(to_numpy_images(x), z.numpy(), _np(lab), path, {"files": names})


def reconstruct(model, images, labels=None, invert: bool = False, out: str | Path | None = None,
                batch: int = 256) -> LatentResult:
    """Reconstructions, with ``info["inputs"]`` and per-image ``info["mse"]`` (pixel MSE in [0, 1])."""
    _need_encoder(model)
    x = images_for_model(model, images, invert)
    lab = _cond_labels(model, len(x), labels)
    rec = torch.cat([r.float().cpu() for r in batched(model, model.reconstruct, x, lab, batch)]).clamp(0, 1)
    mse = ((rec - x) ** 2).flatten(1).mean(1)
    enc = encode(model, x, None if lab is None else lab, batch=batch)
    inputs, outputs = to_numpy_images(x), to_numpy_images(rec)
    path = None
    if out is not None:
        per_row = min(len(x), 10)
        cells = []
        for s in range(0, len(x), per_row):
            pad = [np.zeros_like(inputs[0])] * (per_row - len(inputs[s:s + per_row]))
            cells += [*inputs[s:s + per_row], *pad, *outputs[s:s + per_row], *pad]
        path = _grid_figure(np.stack(cells), out, nrow=len(cells) // per_row,
                            title=f"{model_kind(model)}: input (upper) / reconstruction (lower) rows, "
                                  f"mean MSE {float(mse.mean()):.4f}")
    return LatentResult(outputs, enc.latents, _np(lab), path, {"inputs": inputs, "mse": mse.numpy()})


def decode_latents(model, z, labels=None, out: str | Path | None = None) -> LatentResult:
    """Decode given latents (e.g. from ``encode -o z.json``); a latent-size mismatch is a one-line error."""
    z = check_latents(model, z)
    lab = resolve_labels(model, len(z), labels)
    images = decode(model, z, lab)
    path = None
    if out is not None:
        per_row = min(len(z), 10)
        path = _grid_figure(images, out, nrow=-(-len(z) // per_row), numbered=len(z) > 1,
                            title=f"{model_kind(model)}: {len(z)} decoded latents")
    return LatentResult(images, z.numpy(), _np(lab), path)
