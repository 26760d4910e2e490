"""Text-to-image: a query such as ``'28+72'`` → one 28×28 image per answer character (``'100'``).

Architecture (the course's text-to-image shape, made configurable):

    query ids (B, Lq) → embedding (or one-hot) → RNN encoder → final hidden state
      → repeated answer_len times → RNN decoder (B, La, Hd)
      → per step: dense → 7×7×C map → transposed convs 7→14→28 → one 28×28 logit map

``forward`` returns **logits** (B, La, 28, 28); the pipeline applies sigmoid + BCE, or MSE on the sigmoid.
``generate`` returns images in [0, 1].

Optional auxiliary head (``aux_char_weight`` > 0): a linear layer on the decoder states that predicts the
answer characters, trained with cross-entropy next to the image loss (``text2img_loss``). The image loss
alone teaches the arithmetic slowly, because "which digit" is only a small part of a per-pixel loss; the
character loss gives the shared encoder/decoder the sharp signal a text-to-text model gets. It uses the
answer text, which the training data has anyway; drawing and scoring never use the head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch
from torch import nn
from torch.nn import functional as F

from latentworks.config import finite, flag_alias, require, validate
from latentworks.errors import LatentworksError
from latentworks.models.arithmetic_shape import ArithmeticShape
from latentworks.models.inference import inference, model_device
from latentworks.models.seq2seq import final_states
from latentworks.registry import register_model
from latentworks.training.module import StepOutput, Trainable

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _rnn(
    cell: str, input_size: int, hidden: int, layers: int, bidirectional: bool, dropout: float
) -> nn.RNNBase:
    if cell not in _CELLS:
        raise LatentworksError(f"unknown RNN cell '{cell}'; choose lstm, gru or rnn")
    return _CELLS[cell](input_size, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
                        dropout=dropout if layers > 1 else 0.0)


@register_model("text2img", family="arithmetic",
                title="encoder-decoder with a deconv pen (text→image)", capabilities=("answer", "draw"),
                step_seconds=0.25, scoring_seconds=25.0)
class TextToImage(Trainable, nn.Module):
    @dataclass
    class Config:
        shape: ArithmeticShape = field(default_factory=ArithmeticShape)  # filled from the data (recipes.resolve)
        # Field names follow the text2text model (TextToTextConfig) so the same options mean the same.
        embed_dim: int = 0  # 0 = one-hot input (as in the course); > 0 = learned embedding
        cell: Literal["lstm", "gru", "rnn"] = "lstm"  # for encoder and decoder
        hidden: int = 256  # encoder (per direction) and decoder hidden size
        enc_layers: Annotated[int, flag_alias("--encoder-layers")] = 1  # stacked encoder RNNs
        bidirectional: bool = False  # encoder only
        dec_layers: int = 1
        map_channels: int = 64  # C of the 7×7×C map made by the per-step dense layer
        deconv_channels: int = 32  # channels of the 14×14 map between the two transposed convs
        deconv_kernel: int = 4  # 4 (stride 2, pad 1) or 3 (Keras 'same': pad 1, output_padding 1)
        batchnorm: bool = True
        dropout: float = 0.0
        aux_char_weight: float = 0.0  # > 0: auxiliary answer-character head and its CE weight in text2img_loss
        loss: Literal["bce", "mse"] = "bce"  # pixel loss: BCE on the logits or MSE on the sigmoid

        def check(self) -> None:
            require(self.cell in _CELLS, "cell", self.cell, "must be lstm, gru or rnn")
            require(min(self.hidden, self.enc_layers, self.dec_layers) >= 1, "hidden", self.hidden,
                    "--enc-layers and --dec-layers must be >= 1")
            require(self.deconv_kernel in (3, 4), "deconv_kernel", self.deconv_kernel, "must be 3 or 4")
            require(self.embed_dim >= 0, "embed_dim", self.embed_dim, "must be 0 (one-hot input) or a size >= 1")
            require(min(self.map_channels, self.deconv_channels) >= 1, "map_channels", self.map_channels,
                    "and --deconv-channels must be at least 1")
            require(finite(self.dropout) and 0 <= self.dropout < 1, "dropout", self.dropout, "must lie in [0, 1)")
            require(finite(self.aux_char_weight) and self.aux_char_weight >= 0, "aux_char_weight",
                    self.aux_char_weight, "must be >= 0")
            require(self.loss in ("bce", "mse"), "loss", self.loss, "must be bce or mse")

    def __init__(self, config: Config | None = None):
        super().__init__()
        self.config = c = config or TextToImage.Config()
        validate(c)
        if c.shape.vocab_size < 1 or c.shape.query_len < 1 or c.shape.answer_len < 1:
            raise LatentworksError("text2img needs vocab_size, query_len and answer_len of at least 1")
        if c.embed_dim > 0:
            self.embedding: nn.Module | None = nn.Embedding(c.shape.vocab_size, c.embed_dim)
            in_size = c.embed_dim
        else:
            self.embedding = None
            in_size = c.shape.vocab_size
        self.encoder = _rnn(c.cell, in_size, c.hidden, c.enc_layers, c.bidirectional, c.dropout)
        context = c.hidden * (2 if c.bidirectional else 1)
        self.decoder = _rnn(c.cell, context, c.hidden, c.dec_layers, False, c.dropout)
        self.dropout = nn.Dropout(c.dropout)
        self.to_map = nn.Sequential(nn.Linear(c.hidden, 7 * 7 * c.map_channels), nn.ReLU())

        def norm(ch: int) -> nn.Module:
            return nn.BatchNorm2d(ch) if c.batchnorm else nn.Identity()

        if c.deconv_kernel not in (3, 4):
            raise LatentworksError(f"deconv_kernel must be 3 or 4, got {c.deconv_kernel}")
        extra = 1 if c.deconv_kernel == 3 else 0  # Keras 'same' 3×3 stride 2 needs output_padding 1
        up = dict(kernel_size=c.deconv_kernel, stride=2, padding=1, output_padding=extra)
        self.deconv = nn.Sequential(
            norm(c.map_channels),
            nn.ConvTranspose2d(c.map_channels, c.deconv_channels, **up),  # 7 → 14
            norm(c.deconv_channels),
            nn.ReLU(),
            nn.ConvTranspose2d(c.deconv_channels, 1, **up),  # 14 → 28, logits
        )
        self.char_head = nn.Linear(c.hidden, c.shape.vocab_size) if c.aux_char_weight > 0 else None

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.dim() == 3:  # one-hot / scores (B, Lq, V) → indices
            x = x.argmax(-1)
        if x.dim() != 2 or x.shape[1] != c.shape.query_len:
            raise LatentworksError(
                f"text2img expects query indices (B, {c.shape.query_len}), got shape {tuple(x.shape)}"
            )
        x = x.long()
        if self.embedding is not None:
            return self.embedding(x)
        return nn.functional.one_hot(x, c.shape.vocab_size).float()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Query → context vector (B, hidden × directions): the last encoder layer's final hidden state."""
        outputs, _ = self.encoder(self._inputs(x))
        return final_states(outputs, self.config.bidirectional)

    def decode_steps(self, x: torch.Tensor) -> torch.Tensor:
        """Query → decoder states (B, La, hidden), one per answer character (dropout applied)."""
        context = self.dropout(self.encode(x))
        repeated = context.unsqueeze(1).expand(-1, self.config.shape.answer_len, -1)  # Keras RepeatVector
        steps, _ = self.decoder(repeated)
        return self.dropout(steps)

    def draw(self, steps: torch.Tensor) -> torch.Tensor:
        """Decoder states (B, La, hidden) → image logits (B, La, 28, 28)."""
        c = self.config
        b = steps.shape[0]
        maps = self.to_map(steps).reshape(b * c.shape.answer_len, c.map_channels, 7, 7)
        return self.deconv(maps).reshape(b, c.shape.answer_len, 28, 28)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Query indices (B, Lq) (or one-hot (B, Lq, V)) → per-character image logits (B, La, 28, 28)."""
        return self.draw(self.decode_steps(x))

    def forward_with_chars(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(image logits (B, La, 28, 28), answer-character logits (B, La, V) or None without the head)."""
        steps = self.decode_steps(x)
        chars = self.char_head(steps) if self.char_head is not None else None
        return self.draw(steps), chars

    def generate(self, x: torch.Tensor, batch_size: int = 1024, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        """Images in [0, 1], (B, La, 28, 28), computed in eval mode in batches. The drawing is a function of
        the query alone, so ``generator`` (which a pen with a style code draws from) goes unused."""
        device = model_device(self)
        with inference(self):
            out = [torch.sigmoid(self(x[s:s + batch_size].to(device))) for s in range(0, len(x), batch_size)]
        if not out:
            return torch.zeros(0, self.config.shape.answer_len, 28, 28)
        return torch.cat(out)

    def training_step(self, batch, ctx) -> StepOutput:
        """Batches are (query ids, answer ids, answer handwriting)."""
        x, y, y_img = batch
        return StepOutput(*text2img_loss(self, x, y, y_img, self.config.loss))


def text2img_loss(
    model: TextToImage, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor, loss: str = "bce"
) -> tuple[torch.Tensor, dict[str, float]]:
    """Training loss: image loss (``'bce'`` on logits or ``'mse'`` on the sigmoid) against ``target`` images
    (B, La, 28, 28) in [0, 1] (uint8 is scaled), plus ``aux_char_weight`` × cross-entropy of the answer ids
    ``y`` (B, La) when the model has the auxiliary head. Returns (loss, logs) as the Trainer's loss_fn does.
    """
    if target.dtype == torch.uint8:
        target = target.float() / 255.0
    images, chars = model.forward_with_chars(x)
    if loss == "bce":
        image_loss = F.binary_cross_entropy_with_logits(images, target)
    elif loss == "mse":
        image_loss = F.mse_loss(torch.sigmoid(images), target)
    else:
        raise LatentworksError(f"unknown text2img loss '{loss}'; choose bce or mse")
    if chars is None:
        return image_loss, {"image_loss": float(image_loss.detach())}
    char_loss = F.cross_entropy(chars.reshape(-1, chars.shape[-1]), y.reshape(-1).long())
    total = image_loss + model.config.aux_char_weight * char_loss
    return total, {"image_loss": float(image_loss.detach()), "char_loss": float(char_loss.detach())}
