"""``latentworks gen train``: one generative model into a run folder (the latent tools are in ``gen_tools``)."""

from __future__ import annotations

import json

from latentworks.cli.parsing import TrainFamily, option_hints, parse_train
from latentworks.recipes import generative as recipes

FAMILY = TrainFamily(recipes=recipes, selectors={"kind": ("--model", "--kind"), "name": ("--preset", "--recipe")},
                     default_recipe=lambda chosen: "default",
                     run_classes=lambda: list(recipes.RUN_CLASSES.values()))


def _hints(chosen: type) -> dict[str, str]:
    names = {cls: kind for kind, cls in recipes.RUN_CLASSES.items()}
    return option_hints(FAMILY.run_classes(), chosen, lambda cls: f"the {names[cls]} model")


def train(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.generative import train_generative

    parsed = parse_train(FAMILY, argv, prog, "Train one generative model (--model cae|vae|dcgan|cvae|cgan) into a "
                         "run folder; --preset picks a recipe (default, notebook, quick, full, faces).", _hints)
    if parsed is None:
        return 0
    cfg, opts = parsed
    results = train_generative(cfg, opts.out, resume=opts.resume, overwrite=opts.overwrite)
    if results is not None:
        print(json.dumps({"out": opts.out, "test": results["test"], "train": results["train"]}))
    return 0


__all__ = ["FAMILY", "train"]
