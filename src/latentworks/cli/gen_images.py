"""``latentworks gen reconstruct | encode | decode``: your images through a finished generative run's model, and
latent vectors back into images (a thin face on :mod:`latentworks.latent.tools`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from latentworks.cli import limits
from latentworks.cli.common import Output, Positional, output_path
from latentworks.cli.gen_tools import Run, figure_path, load_run, print_path
from latentworks.cli.parsing import parse


@dataclass
class Files:
    images: Positional[list[str]]  # image files (cropped to a square and resized to the model)


@dataclass
class Images:
    at: Run
    files: Files  # (a group of its own, so that the run folder stays the first positional argument)
    label: int | None = None  # conditional models: the class shown
    invert: bool = False  # dark-on-light drawings → MNIST's light-on-dark
    out: Output = field(default_factory=Output)


def reconstruct(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import reconstruct as run_reconstruct

    a = parse(Images, argv, prog=prog, description="Your images through a CAE / VAE / CVAE.")
    model = load_run(a.at, a)
    result = run_reconstruct(model, a.files.images, labels=a.label, invert=a.invert,
                             out=figure_path(a.at, a.out, "reconstruct"))
    print(f"mean pixel MSE {float(result.info['mse'].mean()):.5f} over {len(result.images)} image(s)")
    return print_path(result)


def encode(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import encode as run_encode

    a = parse(Images, argv, prog=prog, description="Latent vectors of your images (CAE / VAE / CVAE), as JSON "
              "(to stdout, or -o FILE).")
    model = load_run(a.at, a)
    output = output_path(a.out.output, overwrite=a.out.overwrite, suffixes=(".json",))
    result = run_encode(model, a.files.images, labels=a.label, invert=a.invert, out=output)
    if output is not None:
        return print_path(result)
    payload = {"kind": getattr(model, "kind", None), "latent_dim": int(result.latents.shape[1]),
               "files": list(a.files.images), "z": result.latents.astype("float64").round(6).tolist()}
    print(json.dumps(payload))
    return 0


@dataclass
class LatentsFile:
    latents: Positional[str]  # JSON with {"z": [[...], ...]}


@dataclass
class Decode:
    at: Run
    file: LatentsFile
    label: int | None = None
    out: Output = field(default_factory=Output)


def decode(argv: list[str], prog: str) -> int:
    from latentworks.latent.tools import decode_latents
    from latentworks.latent.user_images import read_latents_json

    a = parse(Decode, argv, prog=prog, description="Decode latent vectors from a JSON file (what `encode -o` "
              "writes).")
    model = load_run(a.at, a)
    z, labels = read_latents_json(a.file.latents)
    label = a.label if a.label is not None else labels
    for value in labels if a.label is None and labels else ():
        limits.label(value, model, "label")  # the file's labels are held to what --label is
    return print_path(decode_latents(model, z, labels=label,
                                     out=figure_path(a.at, a.out, f"decode_{Path(a.file.latents).stem}")))


__all__ = ["decode", "encode", "reconstruct"]
