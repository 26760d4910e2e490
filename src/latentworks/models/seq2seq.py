"""Encoder-decoder RNNs that map a sequence of input steps to a short answer string.

Read top-down:

1. ``Seq2SeqCoreConfig`` / ``Seq2SeqCore``: the shared sequence core. It takes already-embedded input steps
   (B, Lq, F) -- one-hot or embedded characters here, CNN features of digit images in image->text -- and
   returns answer logits (B, La, V). An LSTM/GRU encoder (1-3 layers, optionally bidirectional), then one of
   two decoders:

   * ``'repeat'`` (the course): the encoder's last output is repeated La times and read by a decoder RNN,
     one softmax per step. Teacher forcing does not apply.
   * ``'attention'``: an autoregressive decoder cell that sees the previous answer character and attends
     over the input positions (multi-head "general" attention with input feeding). Keys always come from
     the encoder; ``values`` says what is read there: the encoder outputs, the raw input steps, or both.
     Training feeds the true previous character (teacher forcing); inference feeds back its own greedy
     choice. ``bridge=False`` starts the decoder from zeros instead of from the encoder's summary, so
     everything it knows about the query comes through attention.

   ``reverse_output`` makes the decoder emit the answer's digits last-to-first (see ``emission_order``).
   It only changes the order of emission: ``forward`` and ``predict`` always hand back the normal order.
2. ``TextToText``: character ids -> one-hot or learned embedding -> ``Seq2SeqCore``. Registered as
   ``"text2text"`` for ``latentworks.models.io.save_model / load_model``; it owns its loss (cross-entropy per
   answer character).

The named recipes built from it (the course's model, ``course``; the generic ``attention`` one) are in
:mod:`latentworks.recipes.arithmetic`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import finite, flag_alias, require, validate
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.registry import register_model
from latentworks.training.module import StepOutput, Trainable

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
STEP_CELLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}


@dataclass
class Seq2SeqCoreConfig:
    cell: Literal["lstm", "gru"] = "lstm"  # recurrent cell
    hidden: int = 256  # hidden units per RNN
    enc_layers: Annotated[int, flag_alias("--encoder-layers")] = 1  # stacked encoder RNNs (1-3)
    bidirectional: bool = False  # bidirectional encoder
    dec_layers: int = 1  # decoder RNN depth ('repeat' only; the attention decoder is one cell)
    decoder: Literal["repeat", "attention"] = "repeat"  # repeat: the course's RepeatVector decoder
    heads: int = 1  # attention heads ('attention' only); each head reads one input position more easily
    values: Literal["encoder", "inputs", "both"] = "encoder"  # what attention reads at each input position
    bridge: bool = True  # start the attention decoder from the encoder's summary (False: from zeros)
    dropout: float = 0.0  # on the encoder's input steps, between encoder layers and before the output layer
    reverse_output: bool = False  # emit the digits last-to-first (callers still get the normal order)
    digits: int | None = 10  # ids below this are digits (reverse_output reverses their run); None: all
    keras_init: bool = False  # Keras initialisers and one LSTM bias vector (parameter counts match Keras)
    label_smoothing: float = 0.0  # of the per-character cross-entropy

    def check(self) -> None:
        require(self.cell in CELLS, "cell", self.cell, "must be lstm or gru")
        require(self.decoder in ("repeat", "attention"), "decoder", self.decoder, "must be repeat or attention")
        require(self.values in ("encoder", "inputs", "both"), "values", self.values,
                "must be encoder, inputs or both")
        require(1 <= self.enc_layers <= 3, "enc_layers", self.enc_layers, "must be 1, 2 or 3")
        require(self.dec_layers >= 1, "dec_layers", self.dec_layers, "must be at least 1")
        require(self.hidden >= 1, "hidden", self.hidden, "must be at least 1")
        require(self.heads >= 1 and self.hidden % self.heads == 0, "heads", self.heads,
                f"must divide --hidden {self.hidden}")
        require(finite(self.dropout) and 0 <= self.dropout < 1, "dropout", self.dropout, "must lie in [0, 1)")
        require(finite(self.label_smoothing) and 0 <= self.label_smoothing < 1, "label_smoothing",
                self.label_smoothing, "must lie in [0, 1)")
        require(self.digits is None or self.digits >= 1, "digits", self.digits,
                "must be at least 1 (the digit ids' count) or left out")


class Seq2SeqCore(nn.Module):
    """(B, Lq, input_size) input steps -> (B, answer_len, vocab_size) answer logits."""

    def __init__(self, cfg: Seq2SeqCoreConfig, input_size: int, vocab_size: int, answer_len: int):
        super().__init__()
        validate(cfg)
        self.cfg, self.vocab_size, self.answer_len = cfg, vocab_size, answer_len
        H, dirs = cfg.hidden, 2 if cfg.bidirectional else 1
        rnn = CELLS[cfg.cell]
        self.drop = nn.Dropout(cfg.dropout)
        between = cfg.dropout if cfg.enc_layers > 1 else 0.0
        self.encoder = rnn(input_size, H, num_layers=cfg.enc_layers, batch_first=True,
                           bidirectional=cfg.bidirectional, dropout=between)
        enc_dim = H * dirs
        if cfg.decoder == "repeat":
            self.decoder = rnn(enc_dim, H, num_layers=cfg.dec_layers, batch_first=True,
                               dropout=cfg.dropout if cfg.dec_layers > 1 else 0.0)
            self.head = nn.Linear(H, vocab_size)
        else:
            self.bos = vocab_size  # an extra "start" symbol only the decoder's embedding knows
            self.tgt_embed = nn.Embedding(vocab_size + 1, H)
            self.bridge = nn.Linear(enc_dim, H) if cfg.bridge else None  # summary -> decoder's first state
            self.keys = nn.Linear(enc_dim, H, bias=False)  # "general" attention: score = h . W enc
            value_dim = {"encoder": enc_dim, "inputs": input_size, "both": enc_dim + input_size}[cfg.values]
            self.cell = STEP_CELLS[cfg.cell](2 * H, H)  # input: previous char + previous attentional vector
            self.combine = nn.Linear(H + cfg.heads * value_dim, H)
            self.head = nn.Linear(H, vocab_size)
        if cfg.keras_init:
            self._keras_init()

    # ------------------------------------------------------------------ encoder
    def encode(self, steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return all encoder outputs (B, Lq, enc_dim) and a summary of the whole input (B, enc_dim)."""
        out, _ = self.encoder(self.drop(steps))
        return out, final_states(out, self.cfg.bidirectional)

    # ------------------------------------------------------------------ forward
    def forward(self, steps: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits in normal answer order. ``y`` (B, La) turns on teacher forcing for the attention decoder."""
        memory, summary = self.encode(steps)
        values = {"encoder": memory, "inputs": steps, "both": None}[self.cfg.values]
        if values is None:
            values = torch.cat([steps, memory], dim=-1)
        order = None
        if self.cfg.reverse_output and y is not None:
            order = self.emission_order(y)
            y = y.gather(1, order)  # the decoder works in emission order
        if self.cfg.decoder == "repeat":
            rep = summary.unsqueeze(1).expand(-1, self.answer_len, -1)
            out, _ = self.decoder(rep)
            logits = self.head(self.drop(out))
        else:
            logits = self._attend_decode(memory, values, summary, y)
        if not self.cfg.reverse_output:
            return logits
        if order is None:
            order = self.emission_order(logits.argmax(-1))
        return logits.gather(1, order.unsqueeze(-1).expand_as(logits))

    def emission_order(self, ids: torch.Tensor) -> torch.Tensor:
        """Index (B, La) that turns an answer into emission order and back (it is its own inverse).

        The answer's run of digits is reversed; sign and padding stay where they are: ``'46 '`` is emitted as
        ``'64 '``, ``'-39'`` as ``'-93'``, ``'100'`` as ``'001'`` and ``' 97'`` (left-padded) as ``' 79'``.
        The decoder thus decides the sign first, then writes units, tens, hundreds -- the order in which
        carries and borrows travel. Digits stay digits, so emitted ids give the same index as the answer.
        With ``digits=None`` every position is reversed, padding included (``'46 '`` -> ``' 64'``).
        """
        pos = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        if self.cfg.digits is None:
            return pos.flip(1)
        digit = ids < self.cfg.digits
        first = torch.where(digit, pos, ids.shape[1]).min(1, keepdim=True).values
        last = torch.where(digit, pos, -1).max(1, keepdim=True).values
        return torch.where((pos >= first) & (pos <= last), first + last - pos, pos)

    @torch.no_grad()
    def predict(self, steps: torch.Tensor) -> torch.Tensor:
        """Greedy answer ids (B, La) in normal order."""
        return self.forward(steps).argmax(-1)

    def _attend_decode(self, memory, values, summary, y: torch.Tensor | None) -> torch.Tensor:
        B, L, H, heads = memory.shape[0], memory.shape[1], self.cfg.hidden, self.cfg.heads
        keys = self.keys(memory).view(B, L, heads, H // heads)
        h = torch.tanh(self.bridge(summary)) if self.cfg.bridge else memory.new_zeros(B, H)
        state = (h, torch.zeros_like(h)) if self.cfg.cell == "lstm" else h
        feed = memory.new_zeros(B, H)  # previous attentional vector (input feeding)
        prev = torch.full((B,), self.bos, dtype=torch.long, device=memory.device)
        logits = []
        for t in range(self.answer_len):
            state = self.cell(torch.cat([self.tgt_embed(prev), feed], dim=-1), state)
            h = state[0] if isinstance(state, tuple) else state
            scores = torch.einsum("bnd,blnd->bln", h.view(B, heads, -1), keys) / math.sqrt(H // heads)
            weights = torch.softmax(scores, dim=1)  # over input positions, one distribution per head
            context = torch.einsum("bln,bld->bnd", weights, values).reshape(B, -1)  # heads * value_dim
            feed = torch.tanh(self.combine(torch.cat([h, context], dim=-1)))
            step_logits = self.head(self.drop(feed))
            logits.append(step_logits)
            prev = y[:, t] if y is not None else step_logits.argmax(-1)  # teacher forcing vs greedy
        return torch.stack(logits, dim=1)

    # ------------------------------------------------------------------ Keras-style initialisation
    def _keras_init(self) -> None:
        """glorot_uniform kernels, orthogonal recurrent kernels, zero biases (LSTM forget gate 1).

        Keras LSTMs have one bias vector per gate where PyTorch has two (``bias_ih`` and ``bias_hh``); we
        keep ``bias_hh`` at zero and frozen, so the trainable count equals Keras's (805,133 for the notebook
        model). Keras GRUs (``reset_after=True``) have two biases, like PyTorch's, so nothing is frozen there.
        """
        for module in self.modules():
            if isinstance(module, (nn.LSTM, nn.GRU)):
                gates = 4 if isinstance(module, nn.LSTM) else 3
                for name, p in module.named_parameters():
                    if name.startswith("weight_ih"):  # Keras kernel is (in, gates*H): glorot over that shape
                        bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
                        nn.init.uniform_(p, -bound, bound)
                    elif name.startswith("weight_hh"):  # Keras recurrent kernel: one orthogonal (H, gates*H)
                        nn.init.orthogonal_(p)
                    elif name.startswith("bias"):
                        nn.init.zeros_(p)
                        if gates == 4 and name.startswith("bias_ih"):
                            p.data[module.hidden_size:2 * module.hidden_size] = 1.0  # unit_forget_bias
                        if gates == 4 and name.startswith("bias_hh"):
                            p.requires_grad_(False)
            elif isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)


# ---------------------------------------------------------------------------- text -> text
@dataclass
class TextToTextConfig(Seq2SeqCoreConfig):
    shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
    embed_dim: int = 0  # 0: one-hot input like the course; >0: learned embedding
    reverse_input: bool = False  # read the (padded) query last-to-first

    def check(self) -> None:
        super().check()
        require(self.embed_dim >= 0, "embed_dim", self.embed_dim, "must be 0 (one-hot input) or a size >= 1")


def answer_loss(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over every answer character: logits (B, La, V), target ids (B, La)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), label_smoothing=smoothing)


@register_model("text2text", family="arithmetic", title="encoder-decoder (text→text)", capabilities=("answer",),
                step_seconds=0.006, scoring_seconds=5.0)
class TextToText(Trainable, nn.Module):
    """Query character ids (B, Lq) -> answer logits (B, La, V)."""

    Config = TextToTextConfig

    def __init__(self, config: TextToTextConfig):
        super().__init__()
        self.config = config
        V = config.shape.vocab_size
        self.embed = nn.Embedding(V, config.embed_dim) if config.embed_dim > 0 else None
        core_cfg = Seq2SeqCoreConfig(**{f.name: getattr(config, f.name) for f in fields(Seq2SeqCoreConfig)})
        self.core = Seq2SeqCore(core_cfg, config.embed_dim or V, V, config.shape.answer_len)

    def steps(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.reverse_input:
            x = x.flip(1)
        if self.embed is None:
            return F.one_hot(x, self.config.shape.vocab_size).float()
        return self.embed(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``y`` (training targets, normal order) enables teacher forcing for the attention decoder."""
        return self.core(self.steps(x), y)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Greedy answer ids (B, La), normal order."""
        return self.core.predict(self.steps(x))

    def training_step(self, batch, ctx) -> StepOutput:
        x, y = batch[:2]
        return StepOutput(answer_loss(self(x, y), y, self.config.label_smoothing))


def final_states(outputs: torch.Tensor, bidirectional: bool) -> torch.Tensor:
    """The top layer's final hidden states (B, H × directions) read from an RNN's outputs (B, L, H × directions):
    the forward direction's last step and the backward direction's first. The same numbers as the RNN's h_n,
    but a gradient entering oneDNN's LSTM through h_n made the course model's step 1.6× slower (BENCHMARKS.md)."""
    if not bidirectional:
        return outputs[:, -1]
    half = outputs.shape[-1] // 2
    return torch.cat([outputs[:, -1, :half], outputs[:, 0, half:]], dim=-1)


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
