"""The contract between a model and the one trainer, in the spirit of Lightning's ``LightningModule``.

A trainable model owns two things:

* ``configure_optimizers(train)``: its optimizers by name (one ``"main"`` Adam-family optimizer by default);
* ``training_step(batch, ctx)``: a :class:`StepOutput`, the one shape every model returns: the batch's
  ``loss`` and named float ``logs`` for ``metrics.jsonl``; the trainer runs backward on the loss, clips, steps
  and schedules. A model that updates several networks in turn (a GAN) sets ``manual_optimization = True``,
  steps its own optimizers from ``ctx.optimizers`` and returns its logs with no loss.

A model that carries tensors between steps (an RNN's state) also lists them in ``carried_state``. The
trainer calls nothing else. :class:`StepContext` is all a step may ask of it: the step number, noise seeded
by (seed, step, rank), the optimizers, and :meth:`StepContext.synced` to run a sub-network under
DistributedDataParallel when torchrun started several processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from latentworks.training.config import TrainConfig
from latentworks.training.optim import build_optimizer

Batch = tuple[torch.Tensor, ...]


@dataclass
class StepOutput:
    """What a ``training_step`` returns. ``loss``: the scalar the trainer runs backward on and logs as ``loss``;
    required, except from a ``manual_optimization`` model, which has stepped its own optimizers and leaves it
    None. ``logs``: named floats logged beside it (e.g. ``{"acc": 0.5}``; the key ``loss`` is the trainer's)."""

    loss: torch.Tensor | None = None
    logs: dict[str, float] = field(default_factory=dict)


class StepContext:
    """What a ``training_step`` may use. A plain class: DDP passes it through its forward untouched."""

    def __init__(self, *, seed: int, rank: int, world_size: int, device: torch.device,
                 optimizers: dict[str, torch.optim.Optimizer], wrap: Callable[[nn.Module], nn.Module]):
        self.seed, self.rank, self.world_size, self.device = seed, rank, world_size, device
        self.optimizers = optimizers
        self.step = 0
        self._wrap = wrap
        self._synced: dict[int, nn.Module] = {}

    def noise(self, device: torch.device | None = None) -> torch.Generator:
        """A generator seeded by (seed, step, rank): distinct draws on every rank, the same ones after a resume."""
        return torch.Generator(device=device or self.device).manual_seed(
            self.seed * 1_000_003 + self.step * 7919 + self.rank * 104_729)

    def synced(self, module: nn.Module) -> nn.Module:
        """``module`` in its own DistributedDataParallel wrapper under torchrun (built once), else itself."""
        key = id(module)
        if key not in self._synced:
            self._synced[key] = self._wrap(module)
        return self._synced[key]

    def release(self) -> None:
        """Drop the DDP wrappers (each holds the process group) so the group can be freed before exit."""
        self._synced.clear()


class Trainable:
    """Mixin for ``nn.Module`` models: the default optimizer and the hooks the trainer calls."""

    manual_optimization: ClassVar[bool] = False

    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        return {"main": build_optimizer(self.parameters(), train)}  # type: ignore[attr-defined]

    def training_step(self, batch: Batch, ctx: StepContext) -> StepOutput:
        raise NotImplementedError(f"{type(self).__name__} does not define training_step")

    def carried_state(self) -> dict[str, torch.Tensor]:
        """Tensors a model carries from one training step to the next that are not weights (a recurrent net's
        state under truncated backpropagation through time). The trainer saves them in every checkpoint and hands
        them to :meth:`restore_carried_state` on resume, so a resumed run continues bit for bit."""
        return {}

    def restore_carried_state(self, tensors: dict[str, torch.Tensor]) -> None:
        """Take back what :meth:`carried_state` gave (an empty dict: nothing was carried yet)."""


class StepModule(nn.Module):
    """Routes ``forward`` to the model's ``training_step``, so wrapping this in DDP syncs the step's gradients."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: Batch, ctx: StepContext) -> Any:
        return self.model.training_step(batch, ctx)


__all__ = ["Batch", "StepContext", "StepModule", "StepOutput", "Trainable"]
