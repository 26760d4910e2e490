"""Named recipes: one file per family, each holding that family's run config tree and its named settings.

A run config is ``data`` + ``model`` (the model's own ``Config``) + ``train`` + ``eval``; a recipe is a name for
one complete tree (the course's settings, the study profiles' ones, ...). Studies, benchmarks, the CLI and the
Python API all start from ``recipe(name, ...)`` and change fields with :func:`latentworks.config.override`;
nothing else in the package holds default settings.

Each family module offers the same four things: ``RunConfig`` (the tree's root class), ``recipe(...)``,
``recipe_names(...)`` and ``from_json(data)`` (a ``config.json`` back into a typed tree). Which module belongs
to which family is the registry's to say (:mod:`latentworks.registry`).
"""

from __future__ import annotations

from types import ModuleType

from latentworks import registry


def family(name: str) -> ModuleType:
    """The recipes module of a family: ``family("generative").recipe("quick", kind="vae")``."""
    return registry.family(name).recipes_module()


__all__ = ["family"]
