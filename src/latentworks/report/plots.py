"""Figures shared by every experiment family: curves, bars and image grids, always written as PNG."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from latentworks.report.pictures import tile  # noqa: E402


def legend_outside(ax, **kwargs) -> None:
    """The legend right of the axes, never over the data (``save_figure``'s tight box keeps it in the picture)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, **kwargs)


def headroom(ax, share: float = 0.12) -> None:
    """Room above the tallest bar for its count, so no label crosses the frame."""
    if ax.get_yscale() == "linear":
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + share * (high - low))
    else:
        ax.margins(y=share)


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG (atomically) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def line_plot(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    ylim: tuple[float, float] | None = None,
    styles: dict[str, str] | None = None,
) -> Path:
    """One line per series name: ``{name: (xs, ys)}``."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, (styles or {}).get(name, "-"), label=name, marker="." if len(xs) < 30 else None)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logx:
        ax.set_xscale("log")
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return save_figure(fig, path)


def bar_plot(labels: Sequence[str], values: Sequence[float], path: str | Path, *, title: str, ylabel: str,
             xlabel: str = "", log: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    bars = ax.bar(list(labels), list(values), color="#4878a8")
    ax.bar_label(bars, fmt="%g", fontsize=8)
    ax.set(title=title, ylabel=ylabel, xlabel=xlabel)
    if log:
        ax.set_yscale("symlog")
        ax.set_ylim(0, max([*values, 1]) * 3)  # a decade's headroom in log space: counts stay inside the frame
    else:
        headroom(ax)
    return save_figure(fig, path)


def grouped_bars(categories: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str,
                 xlabel: str, ylabel: str, colors: dict[str, str] | None = None, value_labels: str | None = None):
    """One group of bars per category, one bar per series (None values left out); returns (fig, ax) so a
    caller can add reference lines before :func:`save_figure`. ``value_labels``: a format such as ``"{:.0%}"``
    written on each bar."""
    fig, ax = plt.subplots(figsize=(max(5.0, min(9.0, 1.0 + 0.9 * len(categories) * max(len(series), 1) / 2)), 3.8))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [c + (i - (len(series) - 1) / 2) * width for c, v in enumerate(values) if v is not None]
        ys = [v for v in values if v is not None]
        bars = ax.bar(xs, ys, width, label=name, color=(colors or {}).get(name))
        if value_labels:
            ax.bar_label(bars, labels=[value_labels.format(v) for v in ys], fontsize=8)
    ax.set_xticks(range(len(categories)), list(categories))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if value_labels:
        headroom(ax)
    return fig, ax


def image_rows(
    rows: Sequence[np.ndarray], labels: Sequence[str], path: str | Path, *, title: str, cmap: str = "gray",
    marks: Sequence[Sequence[tuple[int, int, str]]] | None = None,
) -> Path:
    """Each row is an image (H, W) or (H, W, 3) in [0, 1], shown with its label on the left. ``marks``: per row,
    the pixel columns ``(left, right, note)`` of the cells to frame in red, with the note under the frame (a
    drawn answer the digit reader reads as something else)."""
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(len(rows), 1, figsize=(6, (0.95 if marks else 0.75) * len(rows) + 0.6), squeeze=False)
    for i, (ax, img, label) in enumerate(zip(axes[:, 0], rows, labels)):
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9, family="monospace")
        for left, right, note in (marks[i] if marks and i < len(marks) else ()):
            h = np.asarray(img).shape[0]
            ax.add_patch(Rectangle((left - 0.5, -0.5), right - left, h, fill=False, edgecolor="red", linewidth=2))
            ax.text((left + right) / 2, h + 1, note, color="red", fontsize=7, ha="center", va="top",
                    clip_on=False)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def text_table_figure(rows: Sequence[Sequence[str]], columns: Sequence[str], path: str | Path, *,
                      title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 0.32 * len(rows) + 0.9))
    ax.axis("off")
    table = ax.table(cellText=[list(r) for r in rows], colLabels=list(columns), loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for cell in table.get_celld().values():
        cell.get_text().set_family("monospace")
    ax.set_title(title, fontsize=11)
    return save_figure(fig, path)


def image_grid(images: np.ndarray, path: str | Path, *, nrow: int, title: str = "", numbered: bool = False) -> Path:
    """``images`` (N, H, W) or (N, H, W, 3) in [0, 1] as a grid; ``numbered`` writes each cell's index.

    One mosaic in one axes: a 20x20 grid draws in a fraction of a second, not one axes per cell.
    """
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    ncol = int(np.ceil(n / nrow))
    mosaic = tile(images, nrow)
    scale = max(0.5, min(1.2, 64 / max(h, w)))
    fig, ax = plt.subplots(figsize=(ncol * scale + 0.2, nrow * scale + (0.5 if title else 0.1)))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if numbered:
        for i in range(n):
            r, c = divmod(i, ncol)
            ax.text(c * (w + 2) + 1, r * (h + 2) + 1, str(i), color="yellow", fontsize=6, va="top",
                    bbox={"facecolor": "black", "alpha": 0.4, "pad": 0.5, "linewidth": 0})
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
