"""Small pieces every latent tool shares: checks, labels, batched decoding, interpolation maths, sampling.

Conventions:

* latents are float32 ``(N, latent_dim)``; images come back as numpy float32 in [0, 1], ``(N, H, W)`` for grey
  models and ``(N, H, W, 3)`` for RGB (what :mod:`latentworks.report.plots` draws);
* randomness comes only from a ``torch.Generator`` seeded by the caller, so a seed names a picture on any
  machine (latents are drawn on the CPU, then moved to the model's device);
* user mistakes raise :class:`~latentworks.errors.LatentworksError` with one line that says the valid range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latentworks.errors import LatentworksError
from latentworks.models.dcgan import latent_code
from latentworks.models.generative_base import check_sampling
from latentworks.models.inference import inference, model_device
from latentworks.report.pictures import to_numpy_images


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def model_kind(model) -> str:
    return str(getattr(model, "kind", type(model).__name__))


def latent_dim(model) -> int:
    return int(model.config.latent_dim)


def sample_latents(model, n: int, gen: torch.Generator, truncate: float | None = None,
                   scale: float = 1.0) -> torch.Tensor:
    """``model.sample_latent`` on the CPU with ``gen``; float32 ``(n, latent_dim)``."""
    check_sampling(truncate, scale)
    z = model.sample_latent(n, generator=gen, truncate=truncate, scale=scale)
    z = torch.as_tensor(z).detach().float().cpu()
    if z.shape != (n, latent_dim(model)):
        raise RuntimeError(f"{model_kind(model)}.sample_latent returned {tuple(z.shape)}, "
                           f"expected {(n, latent_dim(model))}")
    return z


def resolve_labels(model, n: int, labels, gen: torch.Generator | None = None,
                   default: str = "cycle") -> torch.Tensor | None:
    """Labels for ``n`` decodes: ``None`` for unconditional models.

    For a conditional model, ``labels`` may be an int (every cell that digit), a sequence of length 1 or
    ``n``, or ``None``: ``default="cycle"`` gives 0, 1, …, 9, 0, … (a 10-wide grid shows one class per column)
    and ``default="random"`` draws one class from ``gen`` for all ``n`` (a path keeps one class).
    """
    conditional = bool(getattr(model, "conditional", False))
    if not conditional:
        if labels is not None:
            raise LatentworksError(f"this {model_kind(model)} model is unconditional; drop --label")
        return None
    k = int(model.num_classes)
    if labels is None:
        if default == "random":
            return torch.full((n,), int(torch.randint(k, (1,), generator=gen)), dtype=torch.long)
        return torch.arange(n, dtype=torch.long) % k
    t = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if t.numel() == 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise LatentworksError(f"{t.numel()} labels given for {n} images; give one label or one per image")
    bad = t[(t < 0) | (t >= k)]
    if bad.numel():
        raise LatentworksError(f"label {int(bad[0])} is out of range: this model knows classes 0..{k - 1}")
    return t


def check_latents(model, z) -> torch.Tensor:
    z = torch.as_tensor(np.asarray(z, dtype=np.float32) if not isinstance(z, torch.Tensor) else z).float()
    if z.dim() == 1:
        z = z.unsqueeze(0)
    d = latent_dim(model)
    if z.dim() != 2 or z.shape[1] != d:
        got = z.shape[-1] if z.dim() >= 1 else 0
        raise LatentworksError(f"latent vectors have {got} numbers but this {model_kind(model)} model's "
                               f"latent_dim is {d}; use latents from the same run")
    if not bool(torch.isfinite(z).all()):
        raise LatentworksError("latent vectors contain NaN or infinity")
    return z


def batched(model, fn, x: torch.Tensor, labels: torch.Tensor | None, batch: int = 256) -> list:
    """``fn(x_batch, labels_batch)`` over ``x`` in batches on the model's device, in eval mode without grad."""
    device = model_device(model)
    outs = []
    with inference(model):
        for s in range(0, len(x), batch):
            y = labels[s:s + batch].to(device) if labels is not None else None
            outs.append(fn(x[s:s + batch].to(device), y))
    return outs


def decode(model, z, labels=None, batch: int = 256) -> np.ndarray:
    """Decode latents (batched, eval mode, no grad) to numpy images; checks the latent size first."""
    z = check_latents(model, z)
    lab = resolve_labels(model, len(z), labels)
    out = [to_numpy_images(images) for images in batched(model, model.decode, z, lab, batch)]
    if not out:
        c, h = int(model.config.channels), int(model.config.image_size)
        return np.zeros((0, h, h) if c == 1 else (0, h, h, 3), np.float32)
    return np.concatenate(out)


# ------------------------------------------------------------------ interpolation maths


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rows ``(1 - t) a + t b``; ``a``, ``b`` are (D,) or (N, D), ``t`` is (N,)."""
    t = t.reshape(-1, 1).to(a.dtype)
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the directions, with the norm interpolated linearly.

    The direction follows the great circle from ``a/|a|`` to ``b/|b|`` and the length goes linearly from
    ``|a|`` to ``|b|``, so every point's norm lies between the endpoints' norms (plain slerp of unequal
    vectors does not promise that). Nearly (anti)parallel directions fall back to normalised lerp.
    """
    t = t.reshape(-1, 1).to(a.dtype)
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    safe = so > 1e-6
    so_ = torch.where(safe, so, torch.ones_like(so))
    direction = torch.where(
        safe,
        (torch.sin((1 - t) * omega) / so_) * ua + (torch.sin(t * omega) / so_) * ub,
        (1 - t) * ua + t * ub,
    )
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return direction * ((1 - t) * na + t * nb)


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int,
                        use_slerp: bool = False) -> torch.Tensor:
    """``steps`` points from ``z0`` to ``z1`` inclusive; the first and last rows are exactly the two."""
    if steps < 2:
        raise LatentworksError(f"--steps must be at least 2 (the two endpoints), got {steps}")
    t = torch.linspace(0, 1, steps)
    path = (slerp if use_slerp else lerp)(z0.reshape(1, -1), z1.reshape(1, -1), t)
    path[0], path[-1] = z0.reshape(-1), z1.reshape(-1)
    return path


def path_through(knots: torch.Tensor, steps: int, use_slerp: bool = False) -> torch.Tensor:
    """``steps`` points along the piecewise path through every row of ``knots`` (first and last are exact)."""
    p = len(knots)
    if p < 2:
        raise LatentworksError(f"--points must be at least 2, got {p}")
    if steps < p:
        raise LatentworksError(f"--steps ({steps}) must be at least --points ({p}) so every point is visited")
    pos = torch.linspace(0, p - 1, steps)
    seg = pos.floor().long().clamp(max=p - 2)
    local = pos - seg.float()
    path = (slerp if use_slerp else lerp)(knots[seg], knots[seg + 1], local)
    path[0], path[-1] = knots[0], knots[-1]
    return path


# ------------------------------------------------------------------ InfoGAN codes


def info_codes(model) -> int:
    """How many values the model's InfoGAN code takes (0: it has none)."""
    return int(getattr(model.config, "codes", 0) or 0)


def set_code(model, z: torch.Tensor, code: int) -> torch.Tensor:
    """A copy of ``z`` whose InfoGAN code is ``code`` in every row: the generator reads the code as the argmax of
    a latent's first ``codes`` coordinates, so coordinate ``code`` swaps places with that argmax. The latent keeps
    the same numbers in another order, so only the code changes."""
    codes = info_codes(model)
    if not codes:
        raise LatentworksError(f"this {model_kind(model)} model has no InfoGAN code; only a dcgan trained with "
                               "--codes K has one")
    if not 0 <= code < codes:
        raise LatentworksError(f"code {code} is out of range; this model's codes are 0..{codes - 1}")
    z = z.clone()
    rows, top = torch.arange(len(z)), latent_code(z, codes)
    z[rows, code], z[rows, top] = z[rows, top], z[rows, code]
    return z


def parse_indices(text: str | Sequence[int], name: str) -> list[int]:
    """'17,23,5' → [17, 23, 5]; a one-line error for anything else."""
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise LatentworksError(f"{name} must be grid indices separated by commas, e.g. 17,23,5; "
                                   f"got {text!r}") from None
    else:
        values = [int(v) for v in text]
    if not values:
        raise LatentworksError(f"{name} needs at least one grid index")
    return values
