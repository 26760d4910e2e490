"""latentworks: RNN encoder-decoders, generative models and character RNNs, measured honestly."""

__version__ = "0.1.0"
