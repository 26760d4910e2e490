"""``latentworks gen train``: one generative model into a run folder (the latent tools are in ``gen_tools``)."""

from __future__ import annotations

from latentworks.cli.parsing import TrainFamily, option_hints, train_command
from latentworks.recipes import generative as recipes

FAMILY = TrainFamily(recipes=recipes, selectors={"kind": ("--model", "--kind"), "name": ("--preset", "--recipe")},
                     default_recipe=lambda chosen: "default",
                     run_classes=lambda: list(recipes.RUN_CLASSES.values()))


def _hints(chosen: type) -> dict[str, str]:
    names = {cls: kind for kind, cls in recipes.RUN_CLASSES.items()}
    return option_hints(FAMILY.run_classes(), chosen, lambda cls: f"the {names[cls]} model")


def train(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.generative import train_generative

    return train_command(FAMILY, argv, prog, f"Train one generative model (--model {'|'.join(recipes.KINDS)}) into "
                         f"a run folder; --preset picks a recipe ({', '.join(recipes.recipe_names())}).",
                         train_generative, lambda r: {"test": r["test"], "train": r["train"]}, _hints)


__all__ = ["FAMILY", "train"]
