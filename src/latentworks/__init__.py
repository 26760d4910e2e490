"""latentworks: RNN encoder-decoders, generative models and character RNNs, measured honestly.

    import latentworks as lw
    run = lw.load("runs/quick/generative/mnist/vae")     # any run folder
    images = run.sample(n=16, seed=0)
    cfg = lw.recipe("arithmetic", "columns", task="text2text", **{"train.epochs": 5})
    lw.train(cfg, "runs/t2t").predict("12+34")

See :mod:`latentworks.api` for every verb.
"""

import importlib
from typing import Any

from latentworks._version import __version__

__all__ = ["__version__", "load", "recipe", "train"]


def __getattr__(name: str) -> Any:
    # The API (numpy, tyro) loads on first use, so that the command line's --help and its flag checks, which
    # import latentworks.cli and so this package, answer without it.
    if name in ("api", "load", "recipe", "train"):
        api = importlib.import_module("latentworks.api")  # not `from latentworks import api`: that asks here again
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'latentworks' has no attribute {name!r}")
