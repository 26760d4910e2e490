"""The alternating updates a GAN trains with (used by :meth:`latentworks.models.dcgan.DCGAN.training_step`).

* :func:`discriminator_step`: one D update on reals (target 1) and detached fakes (target 0), the real and fake
  batches scored separately in one forward call (:class:`PairCritic`, so batch norm sees each alone and DDP sees
  one forward per backward);
* :func:`generator_step`: one G update, non-saturating BCE of D(fake) against 1 through the frozen critic;
* with an InfoGAN code, both add the cross-entropy of the critic's code head naming each fake's code (weight 1,
  as Chen et al. use for categorical codes) and report ``code_acc``.

Each reports ``d_loss``, ``g_loss``, ``d_acc_real``, ``d_acc_fake`` (share of reals scored real / fakes scored
fake, logit threshold 0, measured before the update) and ``d_real``/``d_fake`` mean probabilities; the trainer
averages them over each logging window, so the logged curves are not single-batch noise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


class PairCritic(nn.Module):
    """Scores two batches separately in ONE forward call (DDP allows one forward per backward)."""

    def __init__(self, critic: nn.Module):
        super().__init__()
        self.critic = critic

    def forward(self, a, b, labels_a=None, labels_b=None, codes_b: bool = False):
        """``(D(a), D(b))``; with ``codes_b``, ``D(b)`` is ``(logits, code logits)``."""
        return self.critic(a, labels_a), self.critic(b, labels_b, with_codes=codes_b)


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


__all__ = ["PairCritic", "discriminator_step", "frozen", "generator_step"]
