"""``latentworks charrnn train | sample | study``."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from latentworks.cli import limits
from latentworks.cli.common import Output, Positional, output_path
from latentworks.cli.parsing import TrainFamily, option_hints, parse, train_command
from latentworks.config import require
from latentworks.recipes import charrnn as recipes
from latentworks.recipes.studies import PROFILES

FAMILY = TrainFamily(recipes=recipes, selectors={"backend": ("--backend",), "name": ("--recipe",)},
                     default_recipe=lambda chosen: "torch-lstm" if chosen.get("backend") == "torch" else "default",
                     run_classes=lambda: list(recipes.RUN_CLASSES.values()))


def _hints(chosen: type) -> dict[str, str]:
    names = {cls: backend for backend, cls in recipes.RUN_CLASSES.items()}
    return option_hints(FAMILY.run_classes(), chosen, lambda cls: f"the {names[cls]} backend")


SUMMARY = ("val_loss", "val_acc", "train_loss", "chars_per_sec", "steps", "elapsed_s", "completion_hits", "samples")


def train(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.charrnn import train_charrnn

    named = "|".join(n for n in recipes.recipe_names() if n.split("-")[0] not in PROFILES)  # not a study's own
    return train_command(FAMILY, argv, prog, f"Train a character model (--backend numpy|torch, --recipe {named}) "
                         "and report held-out nats/char.", train_charrnn,
                         lambda r: {k: r.get(k) for k in SUMMARY}, _hints)


@dataclass
class Sample:
    run: Positional[str]  # a finished char-RNN run folder (either backend)
    prime: str = "The "  # text to warm the state up on
    temperature: float = 0.8  # 0 = greedy argmax
    length: int = 1000  # characters to generate
    top_k: int | None = None  # sample only among the k most likely characters
    seed: int = 0  # same seed, same text
    out: Output = field(default_factory=Output)  # write the text (prime included) here instead of stdout


def sample(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.charrnn import sample_charrnn
    from latentworks.runs import atomic_write_bytes

    a = parse(Sample, argv, prog=prog, description="Generate text from a trained char-RNN run.")
    require(0 <= a.length <= 1_000_000, "length", a.length, "must lie in 0..1000000")
    limits.seed(a.seed)
    limits.between(a.temperature, "temperature", 0, 100, "0 is greedy; above a few the text is noise")
    require(a.top_k is None or a.top_k >= 1, "top_k", a.top_k, "must be at least 1 (or left out)")
    output = output_path(a.out.output, overwrite=a.out.overwrite, suffixes=None)
    text = a.prime + sample_charrnn(a.run, a.prime, a.temperature, a.length, a.top_k, a.seed)
    if output is not None:
        atomic_write_bytes(output, text.encode())
        print(f"wrote {len(text)} characters to {output}", file=sys.stderr)
    else:
        print(text)
    return 0


def study(argv: list[str], prog: str) -> int:
    from latentworks.cli.report import RunStudy, run_study_command

    a = parse(RunStudy, argv, prog=prog, description="The char-RNN part of the study alone.")
    summary = run_study_command(a, only=["charrnn"])
    print(json.dumps({"out": str(Path(a.out).resolve()), "metrics": summary["studies"]["charrnn"]["metrics"]}))
    return 0


__all__ = ["FAMILY", "sample", "study", "train"]
