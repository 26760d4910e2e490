"""Multi-layer LSTM character model for the torch char-RNN backend.

``embedding -> nn.LSTM(layers, dropout) -> linear``. Sampling follows the NumPy ``sample`` exactly in
behaviour: the state is warmed up on the prime, temperature 0 is argmax, ``top_k`` keeps the k most likely
characters, and draws use a NumPy generator, so the same seed gives the same text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import finite, require, validate
from latentworks.errors import LatentworksError
from latentworks.models.inference import inference, model_device
from latentworks.models.numpy_char_rnn import CharShape, check_sampling_options, pick_next
from latentworks.registry import register_model
from latentworks.training.module import StepOutput, Trainable

__all__ = ["CharLSTM"]

State = tuple[torch.Tensor, torch.Tensor]


@register_model("char_lstm", family="charrnn", title="torch LSTM", capabilities=("generate",), step_seconds=0.01)
class CharLSTM(Trainable, nn.Module):
    """Character language model; ``forward(x (B, T) ids, state) -> (logits (B, T, V), state)``."""

    @dataclass
    class Config(CharShape):
        layers: int = 2  # stacked LSTM layers
        dropout: float = 0.0  # between layers and before the output layer
        embed_dim: int = 64  # size of each character's embedding
        bf16: bool = False  # bfloat16 matrix products (autocast; weights and loss stay float32): needs bf16 hardware
        carry_state: bool = False  # train on contiguous windows, each row's state carried to the next (as NumPy does)

        def check(self) -> None:
            require(min(self.vocab_size, self.hidden, self.layers, self.embed_dim) >= 1, "hidden", self.hidden,
                    "--layers and --embed-dim must be >= 1")
            require(finite(self.dropout) and 0 <= self.dropout < 1, "dropout", self.dropout, "must lie in [0, 1)")

    def __init__(self, config: CharLSTM.Config):
        super().__init__()
        c = config
        validate(c)
        self.config = c
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        self.lstm = nn.LSTM(c.embed_dim, c.hidden, c.layers, batch_first=True,
                            dropout=c.dropout if c.layers > 1 else 0.0)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        self._carry: State | None = None  # (h, c) after the last training window, with carry_state
        with torch.no_grad():  # forget-gate bias 1 (same choice as the NumPy LSTM): remember by default
            for name, p in self.lstm.named_parameters():
                if name.startswith("bias_ih"):
                    p[c.hidden:2 * c.hidden] = 1.0
                elif name.startswith("bias_hh"):
                    p[c.hidden:2 * c.hidden] = 0.0

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        # On a CPU with AVX-512 BF16 the gate products run 1.6x as many characters per second in bfloat16; the
        # weights, the optimizer and the loss stay float32.
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.config.bf16):
            out, state = self.lstm(self.embed(x), state)
            logits = self.head(self.drop(out))
        if self.config.bf16:
            logits, state = logits.float(), (state[0].float(), state[1].float())
        return logits, state

    def training_step(self, batch, ctx) -> StepOutput:
        """Batches are (inputs, next characters), each (B, T); with ``carry_state`` also ``fresh`` (B,): the rows
        that start a new stream, whose carried state is zeroed."""
        x, y = batch[0], batch[1]
        state = None
        if self.config.carry_state and self._carry is not None:
            keep = (~batch[2]).to(self._carry[0].dtype)[None, :, None]
            state = (self._carry[0] * keep, self._carry[1] * keep)
        logits, state = self(x, state)
        if self.config.carry_state:
            self._carry = (state[0].detach(), state[1].detach())
        loss = F.cross_entropy(logits.flatten(0, 1), y.reshape(-1))
        return StepOutput(loss, {"acc": float((logits.detach().argmax(-1) == y).float().mean())})

    def carried_state(self) -> dict[str, torch.Tensor]:
        return {} if self._carry is None else {"h": self._carry[0], "c": self._carry[1]}

    def restore_carried_state(self, tensors: dict[str, torch.Tensor]) -> None:
        device = model_device(self)
        self._carry = (tensors["h"].to(device), tensors["c"].to(device)) if tensors else None

    def sample(self, prime_ids: np.ndarray | list[int], length: int, temperature: float = 1.0,
               top_k: int | None = None, rng: np.random.Generator | None = None) -> list[int]:
        """Ids of ``length`` characters generated after warming up on ``prime_ids`` (not included)."""
        steps = self.stream(prime_ids, length, temperature, top_k, rng)
        threads = torch.get_num_threads()
        # One character at a time is latency-bound: extra intra-op threads only wait on each other (measured
        # 40 ms per step with 2 threads on a busy 2-core box, under 1 ms with one).
        torch.set_num_threads(1)
        try:
            return list(steps)
        finally:
            torch.set_num_threads(threads)

    def stream(self, prime_ids: np.ndarray | list[int], length: int, temperature: float = 1.0,
               top_k: int | None = None, rng: np.random.Generator | None = None) -> Iterator[int]:
        """Yield ``length`` generated ids one at a time after warming up on ``prime_ids``, the LSTM state carried
        from each to the next; the options are checked at once. Eval mode and no gradients hold per step, so the
        caller may interleave other work (it chooses the thread count: one is fastest, see ``sample``)."""
        ids = [int(i) for i in prime_ids]
        if not ids:
            raise LatentworksError("sampling needs a non-empty prime string; pass e.g. --prime 'The '")
        check_sampling_options(temperature, top_k)
        rng = np.random.default_rng() if rng is None else rng
        device = model_device(self)

        def generate() -> Iterator[int]:
            state = None
            if len(ids) > 1:
                with inference(self):
                    _, state = self(torch.tensor([ids[:-1]], device=device), state)
            cur = ids[-1]
            for _ in range(length):
                with inference(self):
                    logits, state = self(torch.tensor([[cur]], device=device), state)
                cur = pick_next(logits[0, -1].double().cpu().numpy(), temperature, top_k, rng)
                yield cur

        return generate()

    @torch.no_grad()
    def stream_loss(self, ids: torch.Tensor, streams: int, seq_len: int,
                    max_chunks: int | None = None) -> tuple[float, float]:
        """Mean nats/char and accuracy over ``ids`` cut into ``streams`` rows, state carried chunk to chunk.

        Every character is predicted with all of its stream's preceding text as context, as the NumPy
        ``evaluate_numpy`` does, so both backends report the same quantity.
        """
        if len(ids) < 2:
            raise LatentworksError("validation split has < 2 characters; use a longer corpus")
        n = max(1, min(streams, (len(ids) - 1) // seq_len))
        length = len(ids) // n
        data = ids[: n * length].view(n, length).to(next(self.parameters()).device)
        state, total, correct, count = None, 0.0, 0, 0
        for k, p in enumerate(range(0, length - 1, seq_len)):
            if max_chunks is not None and k >= max_chunks:
                break
            e = min(p + seq_len, length - 1)
            logits, state = self(data[:, p:e], state)
            target = data[:, p + 1:e + 1]
            total += float(F.cross_entropy(logits.flatten(0, 1).float(), target.reshape(-1), reduction="sum"))
            correct += int((logits.argmax(-1) == target).sum())
            count += target.numel()
        return total / count, correct / count
