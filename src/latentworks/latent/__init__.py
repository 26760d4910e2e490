"""Latent-space tools for the generative models: grids, interpolation, paths, arithmetic, sweeps, manifold.

Everything here works through the common generative interface (``config.latent_dim``, ``config.image_size``,
``config.channels``, ``conditional``, ``num_classes``, ``decode``, ``sample_latent``; ``encode`` and
``reconstruct`` for the autoencoders), so it serves the CAE, VAE, DCGAN, CVAE and cGAN alike.
"""

from latentworks.latent.tools import (
    LatentResult,
    decode_latents,
    encode,
    interpolate,
    latent_arithmetic,
    manifold,
    reconstruct,
    sample_grid,
    sweep_dim,
    traverse,
)

__all__ = [
    "LatentResult",
    "decode_latents",
    "encode",
    "interpolate",
    "latent_arithmetic",
    "manifold",
    "reconstruct",
    "sample_grid",
    "sweep_dim",
    "traverse",
]
