"""The generative study's measured figures: automatic latent arithmetic on a numbered sample grid (cells picked by
a measured attribute, the result measured too) and the digit reader's view of each model's classes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks.studies.generative_runs import LABELS


def ink(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    return x.reshape(len(x), -1).mean(1)


def luminance(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:
        x = x @ np.array([0.299, 0.587, 0.114], np.float32)
    return x.reshape(len(x), -1).mean(1)


def _as_batch(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


def attribute_arithmetic(model, seed: int, n: int, attribute: Callable[[np.ndarray], np.ndarray], name: str,
                         out: Path, classify=None, k: int = 3) -> dict[str, Any]:
    """Automatic latent arithmetic on the numbered ``sample_grid(model, n, seed)``: A − B + C.

    With a digit reader (``classify``): A = the ``k`` cells of the most common confident digit with the most
    ``name``, B = the ``k`` of the same digit with the least, C = the ``k`` cells of another digit with the
    least; the result should read as C's digit with more ``name``. Without: A = most, B = least, C = the ``k``
    cells around the median. Measured: ``name`` of the decoded mean(C) and of the result, and the result's digit.
    """
    from latentworks.latent.tools import decode_latents, latent_arithmetic, sample_grid

    grid = sample_grid(model, n, seed)
    attr = attribute(grid.images)
    order = np.argsort(attr, kind="stable")
    picks: dict[str, list[int]] | None = None
    digit_a = digit_c = None
    preds = None
    if classify is not None:
        p, c = classify(_as_batch(grid.images))
        preds, conf = np.asarray(torch.as_tensor(p).cpu()), np.asarray(torch.as_tensor(c).cpu())
        confident = conf >= 0.8
        counts = np.bincount(preds[confident], minlength=10)
        ranked = [d for d in np.argsort(-counts, kind="stable") if counts[d] >= k]
        if len(ranked) >= 2 and counts[ranked[0]] >= 2 * k:
            digit_a, digit_c = int(ranked[0]), int(ranked[1])
            cells_a = [i for i in order if preds[i] == digit_a and confident[i]]
            cells_c = [i for i in order if preds[i] == digit_c and confident[i]]
            picks = {"a": cells_a[-k:][::-1], "b": cells_a[:k], "c": cells_c[:k]}
    if picks is None:
        mid = len(order) // 2
        picks = {"a": list(order[-k:][::-1]), "b": list(order[:k]), "c": list(order[mid - k // 2: mid - k // 2 + k])}
    picks = {key: [int(i) for i in v] for key, v in picks.items()}
    res = latent_arithmetic(model, seed, n, picks["a"], picks["b"], picks["c"], out=out)
    mean_c = decode_latents(model, res.info["mean_c"][None]).images
    row: dict[str, Any] = {
        "cells": picks, "attribute": name,
        f"{name}_a": float(attribute(grid.images[picks["a"]]).mean()),
        f"{name}_b": float(attribute(grid.images[picks["b"]]).mean()),
        f"{name}_mean_c": float(attribute(mean_c)[0]),
        f"{name}_result": float(attribute(res.images)[0]),
        "digit_a": digit_a, "digit_c": digit_c, "figure": str(out),
    }
    if classify is not None:
        p, c = classify(_as_batch(res.images))
        row["result_digit"], row["result_confidence"] = int(p[0]), float(c[0])
    return row


def _class_bars(series: dict[str, list[float | None]], colors: dict[str, str] | None = None) -> tuple[Any, Any]:
    """One group of bars per digit, one bar per series (None values are left out)."""
    from latentworks.report.plots import grouped_bars

    return grouped_bars([str(d) for d in range(10)], series, title="", xlabel="", ylabel="", colors=colors)


def class_histogram_figure(hists: dict[str, list[int]], n: int, path: Path) -> Path:
    from latentworks.report.plots import legend_outside, save_figure

    fig, ax = _class_bars(hists)
    expected = n / 10
    ax.axhline(expected, color="k", lw=0.8, ls="--", label=f"uniform ({expected:g})")
    ax.axhspan(0.9 * expected, 1.1 * expected, color="k", alpha=0.07, label="±10 %")
    ax.set(xticks=range(10), xlabel="digit the reader sees", ylabel="samples",
           title=f"reader's classes over {n:,} samples per model")
    legend_outside(ax)
    return save_figure(fig, path)


def class_fld_figure(evals: dict[str, dict[str, Any]], path: Path) -> Path | None:
    """FLD within each digit per model, beside real train digits (what a perfect generator would score)."""
    from latentworks.report.plots import legend_outside, save_figure

    def measured(values: list[float | None] | None) -> bool:  # None: too few samples of the class
        return bool(values) and any(v is not None for v in values)

    series = {LABELS[k]: v["fld_per_class"] for k, v in evals.items() if measured(v.get("fld_per_class"))}
    floor = next((v["fld_per_class_floor"] for v in evals.values() if measured(v.get("fld_per_class_floor"))), None)
    if not series or floor is None:
        return None
    series["real train digits"] = floor
    fig, ax = _class_bars(series, {"real train digits": "0.55"})
    ax.set(xticks=range(10), xlabel="digit (the reader's class for samples, the label for real digits)",
           ylabel="FLD within the class", title="which digits each model draws worst")
    legend_outside(ax)
    return save_figure(fig, path)
