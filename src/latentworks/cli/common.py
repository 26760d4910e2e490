"""Argument helpers shared by every verb."""

from __future__ import annotations

import argparse

from latentworks.errors import LatentworksError


def add_common(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    if seed:
        p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same numbers on CPU)")
    p.add_argument("--data-dir", default=None,
                   help="folder with the datasets (else $LATENTWORKS_DATA, the cache, or the embedded sample); "
                        "'embedded' forces the embedded MNIST sample (4,000 train / 1,000 test digits)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")


def fraction_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise LatentworksError(f"--train-fractions must be numbers separated by commas, got {text!r}") from None
    if not values or any(not 0 < v < 1 for v in values):
        raise LatentworksError(f"train fractions must lie strictly between 0 and 1, got {text!r}")
    return values
