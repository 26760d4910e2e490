"""How a DCGAN / cGAN trains: a ``step_fn`` for the one trainer, alternating a discriminator and a generator
update on the non-saturating BCE loss (then, with ``ema`` > 0, folding G into its weight average). Schemes:

* ``"default"``: separate Adam optimizers ``g`` and ``d`` (lr 2e-4, β1 0.5); one batch of fakes per step
  scores against the full real batch (real and fake batches pass through D separately, so batch norm sees
  each alone), then the generator is updated through the frozen discriminator on the same fakes.
* ``"notebook"``: the course's scheme. One Adam instance (``shared``) updates both networks; D trains on half
  a batch of fakes labelled 0 and half a batch of reals labelled 1 in one pooled BCE; G trains on a full batch
  of fresh latents labelled 1. (Keras's shared optimizer counts one iteration per update of either model for
  Adam's bias correction; PyTorch counts per parameter. The difference vanishes after a few hundred steps.)

With ``codes`` (InfoGAN), both updates add the cross-entropy of the discriminator's code head naming each
fake's code (weight 1, as Chen et al. use for categorical codes), and the steps report ``code_acc``, the share
of fakes whose code the head names.

Each step reports ``d_loss``, ``g_loss``, ``d_acc_real``, ``d_acc_fake`` (share of reals scored real / fakes
scored fake, logit threshold 0, measured before the update) and ``d_real``/``d_fake`` mean probabilities, each
averaged over the steps since the trainer's previous log row, so the logged curves are not single-batch noise.
Under torchrun the generator and a pairwise critic are wrapped in their own ``DistributedDataParallel`` so
each update synchronises exactly the gradients it applies; latent noise comes from a generator seeded by
(seed, step, rank), so ranks draw different fakes and a resumed run draws the same ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.errors import LatentworksError
from latentworks.models.dcgan import DCGAN, Critic, latent_code

SCHEMES = ("default", "notebook")


class PairCritic(nn.Module):
    """Scores two batches separately in ONE forward call (DDP allows one forward per backward)."""

    def __init__(self, critic: Critic):
        super().__init__()
        self.critic = critic

    def forward(self, a, b, labels_a=None, labels_b=None, codes_b: bool = False):
        """``(D(a), D(b))``; with ``codes_b``, ``D(b)`` is ``(logits, code logits)``."""
        return self.critic(a, labels_a), self.critic(b, labels_b, with_codes=codes_b)


def make_optimizers(
    model: DCGAN,
    scheme: str = "default",
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    d_lr: float | None = None,
) -> dict[str, torch.optim.Optimizer]:
    """``d_lr`` (default: ``lr``) gives the discriminator its own rate: the two time-scale rule (TTUR)."""
    if scheme not in SCHEMES:
        raise LatentworksError(f"unknown GAN training scheme '{scheme}'; choose {', '.join(SCHEMES)}")
    if scheme == "notebook":
        if getattr(model.config, "codes", 0):
            raise LatentworksError("the notebook scheme has no code loss; drop --codes or use --gan-scheme default")
        if d_lr is not None and d_lr != lr:
            raise LatentworksError("the notebook scheme shares one optimizer; drop --d-lr or use --gan-scheme default")
        return {"shared": torch.optim.Adam(model.parameters(), lr=lr, betas=betas)}
    if d_lr is not None and not d_lr > 0:
        raise LatentworksError(f"--d-lr must be positive, got {d_lr}")
    return {
        "g": torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas),
        "d": torch.optim.Adam(model.discriminator.parameters(), lr=d_lr or lr, betas=betas),
    }


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No gradients into ``module`` and its buffers (batch-norm statistics) restored afterwards."""
    flags = [p.requires_grad for p in module.parameters()]
    buffers = [b.detach().clone() for b in module.buffers()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)
        with torch.no_grad():
            for b, saved in zip(module.buffers(), buffers):
                b.copy_(saved)


def _stats(d_real: torch.Tensor, d_fake: torch.Tensor) -> dict[str, float]:
    return {
        "d_acc_real": float((d_real > 0).float().mean()),
        "d_acc_fake": float((d_fake < 0).float().mean()),
        "d_real": float(torch.sigmoid(d_real).mean()),
        "d_fake": float(torch.sigmoid(d_fake).mean()),
    }


@torch.enable_grad()
def discriminator_step(
    pair: nn.Module,
    opt: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    real_labels=None,
    fake_labels=None,
    *,
    pooled: bool = False,
    fake_codes: torch.Tensor | None = None,
) -> dict[str, float]:
    """One D update on reals (target 1) and detached fakes (target 0); only parameters with gradients move.

    ``pooled`` averages BCE over the concatenated batch (the course's single ``train_on_batch``); otherwise
    the real and fake mean losses are added (the PyTorch DCGAN recipe). ``fake_codes`` adds the code head's
    cross-entropy on the fakes (InfoGAN).
    """
    opt.zero_grad(set_to_none=True)
    d_real, d_fake = pair(real, fake.detach(), real_labels, fake_labels, codes_b=fake_codes is not None)
    logs = {}
    if fake_codes is not None:
        d_fake, code_logits = d_fake
        info, logs = _info_loss(code_logits, fake_codes)
    loss_real = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
    loss_fake = F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    if pooled:
        n_r, n_f = d_real.numel(), d_fake.numel()
        loss = (loss_real * n_r + loss_fake * n_f) / (n_r + n_f)
    else:
        loss = loss_real + loss_fake
    if fake_codes is not None:
        loss = loss + info
    loss.backward()
    opt.step()
    return {"d_loss": float(loss.detach()), **_stats(d_real.detach(), d_fake.detach()), **logs}


def _info_loss(code_logits: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    loss = F.cross_entropy(code_logits, codes)
    return loss, {"code_acc": float((code_logits.detach().argmax(1) == codes).float().mean())}


@torch.enable_grad()
def generator_step(
    critic: nn.Module,
    opt: torch.optim.Optimizer,
    fake: torch.Tensor,
    fake_labels=None,
    fake_codes: torch.Tensor | None = None,
) -> dict[str, float]:
    """One G update: non-saturating BCE of D(fake) against 1, D frozen. ``fake`` must carry G's graph.

    ``fake_codes`` adds the code head's cross-entropy (InfoGAN): G learns to make its codes recognisable."""
    opt.zero_grad(set_to_none=True)
    with frozen(critic):
        if fake_codes is None:
            logits = critic(fake, fake_labels)
        else:
            logits, code_logits = critic(fake, fake_labels, with_codes=True)
        loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        if fake_codes is not None:
            loss = loss + _info_loss(code_logits, fake_codes)[0]
        loss.backward()
    opt.step()
    return {"g_loss": float(loss.detach())}


def _parts(trainer) -> tuple[nn.Module, nn.Module]:
    """(generator, pair critic), each in its own DDP wrapper under torchrun; built once per trainer."""
    cached = getattr(trainer, "_gan_parts", None)
    if cached is None:
        raw = trainer.raw_model
        gen, pair = raw.generator, PairCritic(raw.discriminator)
        if isinstance(trainer.model, nn.parallel.DistributedDataParallel):
            ids = [trainer.device.index] if trainer.device.type == "cuda" else None
            gen = nn.parallel.DistributedDataParallel(gen, device_ids=ids)
            pair = nn.parallel.DistributedDataParallel(pair, device_ids=ids)
        cached = trainer._gan_parts = (gen, pair)
    return cached


def noise_generator(trainer, device: torch.device) -> torch.Generator:
    """Latent noise seeded by (seed, step, rank): distinct fakes on every rank, identical after a resume."""
    seed = int(getattr(getattr(trainer, "cfg", None), "seed", 0))
    rank = int(getattr(getattr(trainer, "dist", None), "rank", 0))
    return torch.Generator(device=device).manual_seed(
        seed * 1_000_003 + int(trainer.step) * 7919 + rank * 104_729
    )


def make_step_fn(scheme: str = "default"):
    """The trainer ``step_fn``: batches are (uint8 images,), or (uint8 images, labels) when conditional."""
    if scheme not in SCHEMES:
        raise LatentworksError(f"unknown GAN training scheme '{scheme}'; choose {', '.join(SCHEMES)}")

    def step(trainer, batch) -> dict[str, float]:
        model: DCGAN = trainer.raw_model
        gen, pair = _parts(trainer)
        images = batch[0]
        real = (images.float() / 127.5 - 1.0) if images.dtype == torch.uint8 else images.float() * 2 - 1
        labels = batch[1] if model.conditional else None
        b, dim, device = real.shape[0], model.config.latent_dim, real.device
        noise = noise_generator(trainer, device)

        def draw(n: int):
            z = torch.randn(n, dim, device=device, generator=noise)
            y = (
                torch.randint(model.num_classes, (n,), device=device, generator=noise)
                if model.conditional
                else None
            )
            return z, y

        if scheme == "notebook":
            opt_d = opt_g = trainer.optimizers["shared"]
            n_real = (b + 1) // 2
            real, labels = real[:n_real], (labels[:n_real] if labels is not None else None)
            z, y = draw(max(1, b - n_real))
            with torch.no_grad():
                fake = gen(z, y)
            logs = discriminator_step(pair, opt_d, real, fake, labels, y, pooled=True)
            z, y = draw(b)
            logs.update(generator_step(model.discriminator, opt_g, gen(z, y), y))
            model.update_ema()
        else:
            opt_d, opt_g = trainer.optimizers["d"], trainer.optimizers["g"]
            z, y = draw(b)
            fake = gen(z, y)
            codes = latent_code(z, model.config.codes) if model.config.codes else None
            logs = discriminator_step(pair, opt_d, real, fake, labels, y, fake_codes=codes)
            logs.update(generator_step(model.discriminator, opt_g, fake, y, fake_codes=codes))
            model.update_ema()
        for k, v in logs.items():
            window[k] = window.get(k, 0.0) + v
        window["n"] = window.get("n", 0) + 1
        out = {k: v / window["n"] for k, v in window.items() if k != "n"}
        if (trainer.step + 1) % trainer.cfg.log_every == 0 or (
            trainer.step + 1
        ) % trainer.steps_per_epoch == 0:
            window.clear()  # the trainer logs this step: start a new averaging window
        return {**out, "lr": opt_g.param_groups[0]["lr"]}

    window: dict[str, float] = {}
    return step


__all__ = [
    "PairCritic",
    "discriminator_step",
    "frozen",
    "generator_step",
    "make_optimizers",
    "make_step_fn",
    "noise_generator",
]
