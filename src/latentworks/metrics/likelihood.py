"""A VAE's likelihood in nats: :func:`vae_likelihood` scores it on dynamically binarised test images (each pixel a
Bernoulli draw with its intensity as probability, fixed seed): the negative ELBO and the importance-weighted NLL
with ``k`` samples, chunked over images and over ``k`` (chunks combine exactly through log-sum-exp), per image.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from latentworks.errors import LatentworksError
from latentworks.metrics.generative import as_images
from latentworks.models.inference import inference


def binarize(images, seed: int = 0) -> torch.Tensor:
    """Dynamic binarisation: each pixel ~ Bernoulli(intensity), from a fixed-seed CPU generator."""
    x = as_images(images)
    return torch.bernoulli(x, generator=torch.Generator().manual_seed(int(seed)))


def combine_iw_chunks(chunk_nll: torch.Tensor, chunk_k: torch.Tensor) -> torch.Tensor:
    """Exact IW NLL over all samples from per-chunk IW NLLs: −log Σ_c (k_c/k) exp(−NLL_c).

    ``chunk_nll`` is (C, B) (chunk × image), ``chunk_k`` the (C,) sample counts.
    """
    log_k = torch.log(chunk_k.double())[:, None]
    return -(torch.logsumexp(-chunk_nll.double() + log_k, dim=0) - math.log(float(chunk_k.sum())))


def _decoder_likelihood(model) -> str | None:
    cfg = getattr(model, "config", None)
    for name in ("likelihood", "decoder_likelihood", "decoder", "recon_loss", "reconstruction", "loss"):
        value = getattr(cfg, name, None)
        if isinstance(value, str):
            return value.lower()
    return None


def vae_likelihood(model, test_images, k: int = 5000, n: int | None = None, seed: int = 0,
                   batch: int = 500, budget: int = 20000) -> dict[str, Any]:
    """Test negative ELBO and IW NLL (``k`` importance samples), in nats per image, on binarised images.

    At most ``budget`` decoder passes run per call (``k`` split into chunks, images in small batches).
    ``n`` scores a random subset of that many test images, drawn with ``seed`` (default: all of them; the
    first images of a split are not a fair sample). The model's sampling uses the global RNG, which is forked
    and seeded with ``seed`` so the numbers repeat.
    """
    if not callable(getattr(model, "iw_nll", None)) or not callable(getattr(model, "elbo", None)):
        raise LatentworksError(f"a {getattr(model, 'kind', type(model).__name__)} model has no likelihood; "
                               "ELBO / IW NLL need a VAE run")
    if k < 1:
        raise LatentworksError(f"--k must be at least 1, got {k}")
    x = as_images(test_images)
    if n is not None and n < len(x):
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n].sort().values]
    if len(x) == 0:
        raise LatentworksError("no test images to score")
    xb = binarize(x, seed)
    device = next(model.parameters()).device
    kc = min(k, budget)
    chunks = [kc] * (k // kc) + ([k % kc] if k % kc else [])
    img_batch = max(1, budget // kc)
    started = time.perf_counter()
    neg_elbo, nll = [], []
    cuda = [torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), inference(model):
        torch.manual_seed(seed)
        for s in range(0, len(xb), batch):
            e = torch.as_tensor(model.elbo(xb[s:s + batch].to(device), k=1)).double().cpu()
            neg_elbo.append(e)
        for s in range(0, len(xb), img_batch):
            part = xb[s:s + img_batch].to(device)
            per_chunk = torch.stack([torch.as_tensor(model.iw_nll(part, c)).double().cpu() for c in chunks])
            nll.append(per_chunk)
    e = torch.cat(neg_elbo)
    # For binary x the ELBO is ≤ log p(x) ≤ 0, so a negative mean means the model returned the ELBO itself.
    e = -e if float(e.mean()) < 0 else e
    raw = torch.cat(nll, dim=1)
    raw = -raw if float(raw.mean()) < 0 else raw  # a log-likelihood instead of an NLL
    iw = combine_iw_chunks(raw, torch.tensor(chunks))
    m = len(xb)
    likelihood = _decoder_likelihood(model)
    gaussian = likelihood is not None and any(w in likelihood for w in ("mse", "gauss", "normal"))
    return {
        "n": m, "k": k, "seed": seed,
        "neg_elbo_nats": float(e.mean()), "neg_elbo_se": float(e.std() / math.sqrt(m)) if m > 1 else 0.0,
        "iw_nll_nats": float(iw.mean()), "iw_nll_se": float(iw.std() / math.sqrt(m)) if m > 1 else 0.0,
        # −ELBO − IW-NLL per image varies far less than either, so −ELBO on every image minus this gap
        # estimates the whole split's IW-NLL from a subset with a small error.
        "iw_gap_nats": float((e - iw).mean()), "iw_gap_se": float((e - iw).std() / math.sqrt(m)) if m > 1 else 0.0,
        "binarisation": f"dynamic: Bernoulli(pixel intensity), torch generator seed {seed}",
        "decoder": likelihood,
        "comparable_with_pythae": not gaussian,
        "seconds": time.perf_counter() - started,
    }
