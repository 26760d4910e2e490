"""``latentworks gen sample | interpolate | traverse | arith | sweep-dim | manifold | codes | directions``: the latent
tools on a finished generative run folder, each a thin face on :mod:`latentworks.latent`, and what every ``gen``
tool shares (the run argument, its model loaded and checked, the figure's path). Your images through a model are
``gen_images.py``'s verbs, the MNIST evaluation ``gen_eval.py``'s.

Every tool writes a PNG (default: ``RUN/figures/<verb>_….png``) and prints its path; every output goes through
:func:`latentworks.cli.common.output_path` (nothing replaced without --overwrite, no ``-o`` into a run folder).
User mistakes are one-line errors (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from latentworks.cli import limits
from latentworks.cli.common import PNG, Device, Output, Positional, output_path
from latentworks.cli.parsing import parse
from latentworks.config import flag_alias, validate
from latentworks.recipes.generative import KINDS


@dataclass
class Run:
    run: Positional[str]  # a finished generative run folder
    device: Device = field(default_factory=Device)


@dataclass
class Sampling:
    truncate: float | None = None  # re-sample latent entries beyond ±T standard deviations
    scale: float = 1.0  # multiply the latents (e.g. 0.17)


def load_run(run: Run, options: object = None):
    """The run's model, once ``options`` (the verb's, ``run`` among them) passed their checks; a class label it
    does not know, or any label for an unconditional model, is refused, not ignored."""
    from latentworks.models.io import load_model
    from latentworks.training.trainer import pick_device

    validate(options if options is not None else run)
    model = load_model(run.run, expect=KINDS, map_location=str(pick_device(run.device.device)))
    for name in ("label", "result_label"):
        limits.label(getattr(options, name, None), model, name)
    return model


def figure_path(run: Run, output: Output, name: str, suffix: str = ".png", formats: tuple[str, ...] = PNG) -> Path:
    """``-o``, or the verb's own figure in ``RUN/figures/``; either never replaces a file without --overwrite."""
    return output_path(output.output, overwrite=output.overwrite, default=Path(run.run) / "figures" / f"{name}{suffix}",
                       own=run.run, suffixes=formats)


def print_path(result) -> int:
    print(result.path)
    return 0


# ------------------------------------------------------------------ sampling and paths
@dataclass
class Sample:
    at: Run
    n: int = 10  # grid side (n×n samples)
    seed: int = 0  # same seed, same picture
    sampling: Sampling = field(default_factory=Sampling)
    label: int | None = None  # conditional models: the class of every cell (default 0..9 by column)
    out: Output = field(default_factory=Output)

    def check(self) -> None:
        limits.seed(self.seed)


def sample(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import sample_grid

    a = parse(Sample, argv, prog=prog, description="An n×n grid of samples, cells numbered for picking indices.")
    model = load_run(a.at, a)
    s = a.sampling
    tag = "".join([f"_t{s.truncate:g}" if s.truncate else "", f"_s{s.scale:g}" if s.scale != 1 else "",
                   f"_label{a.label}" if a.label is not None else ""])
    return print_path(sample_grid(model, a.n, a.seed, labels=a.label, truncate=s.truncate, scale=s.scale,
                                  out=figure_path(a.at, a.out, f"sample_n{a.n}_seed{a.seed}{tag}")))


@dataclass
class Interpolate:
    at: Run
    seed: int = 4  # which two random points
    steps: int = 10  # points on the line, endpoints included (2 to 4,096)
    slerp: bool = False  # spherical interpolation (norm interpolated linearly)
    label: int | None = None  # conditional models: the class along the path (default: random)
    out: Output = field(default_factory=Output)

    def check(self) -> None:
        limits.seed(self.seed)
        limits.images(self.steps, "steps", 2)


def interpolate(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import interpolate as run_interpolate

    a = parse(Interpolate, argv, prog=prog, description="Two random points and the line between them.")
    model = load_run(a.at, a)
    how = "slerp" if a.slerp else "lerp"
    return print_path(run_interpolate(model, a.seed, a.steps, slerp=a.slerp, labels=a.label,
                                      out=figure_path(a.at, a.out, f"interpolate_{how}_seed{a.seed}")))


@dataclass
class Traverse:
    at: Run
    seed: int = 0
    points: int = 10  # random points to pass through (2 to 4,096)
    steps: int = 100  # frames along the whole path (2 to 4,096)
    slerp: bool = False
    label: int | None = None  # conditional models: the class along the path
    frame_ms: int = 80  # GIF frame duration in milliseconds (1 to 60,000)
    out: Output = field(default_factory=Output)  # a .gif animates, a .png is a strip (default: GIF above 40 steps)

    def check(self) -> None:
        limits.seed(self.seed)
        limits.images(self.points, "points", 2)
        limits.images(self.steps, "steps", 2)
        limits.between(self.frame_ms, "frame_ms", 1, limits.MAX_FRAME_MS, "a frame's time in milliseconds")


def traverse(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import traverse as run_traverse

    a = parse(Traverse, argv, prog=prog, description="A path through several random points: PNG strip or GIF.")
    model = load_run(a.at, a)
    suffix = ".gif" if a.steps > 40 else ".png"
    out = figure_path(a.at, a.out, f"traverse_p{a.points}_seed{a.seed}", suffix, (".png", ".gif"))
    return print_path(run_traverse(model, a.points, a.steps, a.seed, slerp=a.slerp, labels=a.label, out=out,
                                   duration_ms=a.frame_ms))


@dataclass
class Arith:
    at: Run
    grid_seed: int  # the --seed of the `gen sample` grid
    a: str  # cell indices of A, e.g. 17,23,5
    b: str  # cell indices of B
    c: str  # cell indices of C
    n: int = 10  # the grid's side (as given to `gen sample`)
    sampling: Sampling = field(default_factory=Sampling)
    label: int | None = None  # the grid's --label, if it had one
    result_label: int | None = None  # conditional models: class of the result (default: C's first)
    out: Output = field(default_factory=Output)

    def check(self) -> None:
        limits.seed(self.grid_seed, "grid_seed")


def arith(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import latent_arithmetic

    a = parse(Arith, argv, prog=prog, description="Decode mean(A) − mean(B) + mean(C) by cell indices of a "
              "numbered sample grid.")
    model = load_run(a.at, a)
    return print_path(latent_arithmetic(model, a.grid_seed, a.n, a.a, a.b, a.c, labels=a.label,
                                        truncate=a.sampling.truncate, scale=a.sampling.scale,
                                        result_label=a.result_label,
                                        out=figure_path(a.at, a.out, f"arith_seed{a.grid_seed}")))


@dataclass
class SweepDim:
    at: Run
    dim: int  # latent coordinate (0-based)
    lo: Annotated[float, flag_alias("--from")] = -3.0  # first value of the coordinate
    hi: Annotated[float, flag_alias("--to")] = 3.0  # last value of the coordinate
    steps: int = 11  # steps × rows: at most 4,096 images
    rows: int = 1  # random base points, one row each
    seed: int = 0
    label: int | None = None
    out: Output = field(default_factory=Output)

    def check(self) -> None:
        limits.seed(self.seed)
        limits.between(self.lo, "from", -1e6, 1e6, "a finite latent value")
        limits.between(self.hi, "to", -1e6, 1e6, "a finite latent value")
        limits.images(self.steps, "steps", 2)
        limits.images(self.rows, "rows")
        limits.images(self.steps * self.rows, "steps")


def sweep_dim(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import sweep_dim as run_sweep

    a = parse(SweepDim, argv, prog=prog, description="Vary one latent coordinate.")
    model = load_run(a.at, a)
    return print_path(run_sweep(model, a.dim, a.lo, a.hi, a.steps, a.seed, rows=a.rows, labels=a.label,
                                out=figure_path(a.at, a.out, f"sweep_dim{a.dim}_seed{a.seed}")))


@dataclass
class Codes:
    at: Run
    n: int = 10  # columns (random latents)
    seed: int = 0
    out: Output = field(default_factory=Output)

    def check(self) -> None:
        limits.seed(self.seed)


def codes(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import code_grid

    a = parse(Codes, argv, prog=prog, description="A GAN trained with --codes: one row per code value, the same "
              "noise down each column.")
    model = load_run(a.at, a)
    return print_path(code_grid(model, a.seed, a.n, out=figure_path(a.at, a.out, f"codes_seed{a.seed}")))


@dataclass
class Manifold:
    at: Run
    n: int = 20  # grid side
    label: int | None = None  # conditional models: the class (default 0)
    out: Output = field(default_factory=Output)


def manifold(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import manifold as run_manifold

    a = parse(Manifold, argv, prog=prog, description="The decoded grid over normal quantiles of a 2-D latent.")
    model = load_run(a.at, a)
    return print_path(run_manifold(model, a.n, labels=a.label, out=figure_path(a.at, a.out, f"manifold_n{a.n}")))


# ------------------------------------------------------------------ principal directions
@dataclass
class Directions:
    at: Run
    n: int = 10  # directions to show (the top n)
    seed: int = 0  # the held-out subset (autoencoders) or sampled latents (GANSpace), and the figure's base point
    steps: int = 7  # images along each direction (n × steps: at most 4,096 images)
    span: float = 3.0  # from −span σ to +span σ
    label: int | None = None  # conditional models: the class shown (default 0)
    out: Output = field(default_factory=Output)

    def check(self) -> None:
        limits.seed(self.seed)
        limits.images(self.n * self.steps, "n")
        limits.between(self.span, "span", 1e-6, 1e3, "standard deviations either side")


def directions(argv: list[str], prog: str) -> int:
    from latentworks.latent.directions import directions_figure, principal_directions
    from latentworks.recipes.generative import from_json
    from latentworks.runs import read_json

    a = parse(Directions, argv, prog=prog, description="The top principal directions of the latent space (PCA of "
              "encoded held-out images for autoencoders, GANSpace for GANs): one row of images along each, and "
              "the variance each explains.")
    model = load_run(a.at, a)
    out = figure_path(a.at, a.out, f"directions_n{a.n}_seed{a.seed}")
    config = Path(a.at.run) / "config.json"  # names the held-out images an autoencoder's PCA encodes
    found = principal_directions(model, a.n, seed=a.seed,
                                 data=from_json(read_json(config)).data if config.is_file() else None)
    path = directions_figure(model, found, out, seed=a.seed, steps=a.steps, span=a.span, label=a.label)
    space = "encoded held-out latents" if found.source == "pca" else "first-layer features"
    print(f"{found.source}: explained variance of the {space}" + (f" ({found.note})" if found.note else ""))
    for i, (share, scale) in enumerate(zip(found.explained_variance, found.scale)):
        print(f"PC{i + 1:<3} {share:7.2%}   σ = {scale:.4f} latent units")
    print(path)
    return 0


__all__ = ["Run", "Sampling", "arith", "codes", "directions", "figure_path", "interpolate", "load_run", "manifold",
           "print_path", "sample", "sweep_dim", "traverse"]
