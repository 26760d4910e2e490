"""latentworks: RNN encoder-decoders, generative models and character RNNs, measured honestly.

    import latentworks as lw
    run = lw.load("runs/quick/generative/mnist/vae")     # any run folder
    images = run.sample(n=16, seed=0)
    cfg = lw.recipe("arithmetic", "columns", task="text2text", **{"train.epochs": 5})
    lw.train(cfg, "runs/t2t").predict("12+34")

See :mod:`latentworks.api` for every verb.
"""

from latentworks._version import __version__
from latentworks.api import load, recipe, train

__all__ = ["__version__", "load", "recipe", "train"]
