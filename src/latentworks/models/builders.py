"""Configurable conv (encoder / discriminator) and transposed-conv (decoder / generator) stacks.

Two styles share one set of options (:class:`Stack`):

* ``style="default"`` (DCGAN style): stride-2 4×4 convs whose filters double per level from ``filters`` up to
  ``max_filters`` (seed 001: 32→256), batch norm on every level but the encoder's first and the decoder's
  output, LeakyReLU(0.2) in the encoder and ReLU in the decoder, N(0, 0.02) init. The decoder mirrors the
  encoder: dense → (top filters, s0, s0) → ``depth`` transposed convs, the last one producing the image.
* ``style="notebook"``: the course's ``build_conv_net`` / ``build_deconv_net`` (§4.2–4.3): 3×3 stride-2
  'same' convs with a constant ``filters`` (128), ReLU, no norm, Keras-style Xavier init; the encoder is one
  conv on the input plus ``depth - 1`` more (5 in all), flattened into a dense output; the decoder is dense
  4·4·64 (linear) → reshape → ``depth`` transposed convs (4 at 64×64) → a 3×3 conv to the image channels.
  At 64×64 this is exactly the course's stack; at other sizes the decoder's depth is ``log2(size / 4)`` (7×7
  start for 28). PyTorch pads 'same' symmetrically where TensorFlow pads bottom/right; shapes are identical.

``norm="spectral"`` (encoders only) divides each conv's and the head's weights by their largest singular value
(Miyato et al. 2018), the discriminator normalisation of SN-GAN; decoders refuse it.

Sizes (the rule is :func:`latentworks.data.images.check_image_size`, where the data are checked too): 28 and
powers of two from 8 to 1024, grey (1) or RGB (3) — or any channel count, for conditional
models that append label maps. Odd intermediate sizes (28→14→7→3) are undone exactly by ``output_padding``.

What the generative models share beyond these stacks (config fields, latent sampling, label conditioning, input
checks) lives in :mod:`latentworks.models.generative_base`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from latentworks.data.images import check_image_size
from latentworks.errors import LatentworksError

STYLES = ("default", "notebook")
NORMS = ("none", "batch", "spectral")  # spectral: encoders / discriminators only
ACTIVATIONS = ("leakyrelu", "relu")
INITS = ("normal", "xavier", "torch")


def channels_last(maps: torch.Tensor) -> torch.Tensor:
    """Feature maps laid out channels-last: oneDNN's CPU convolutions run about 1.3× faster in training and 2×
    in inference that way (BENCHMARKS.md); the weights keep their layout, so checkpoints are unchanged."""
    return maps.contiguous(memory_format=torch.channels_last)


# ------------------------------------------------------------------------------------------ checks
def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise LatentworksError(f"unknown {name} '{value}'; choose {', '.join(choices)}")


def _conv_out(n: int, kernel: int, pad: int) -> int:
    return (n + 2 * pad - kernel) // 2 + 1


def _kernel_pad(kernel: int) -> tuple[int, int]:
    return kernel, (kernel - 1) // 2


def spatial_chain(size: int, depth: int, kernel: int, pad: int) -> list[int]:
    """Feature-map sizes after 0..depth stride-2 convs (``[size, ..., s_depth]``)."""
    chain = [size]
    for _ in range(depth):
        nxt = _conv_out(chain[-1], kernel, pad)
        if nxt < 1:
            raise LatentworksError(f"depth {depth} is too deep for {size}×{size} images; use a smaller depth")
        chain.append(nxt)
    return chain


def default_depth(size: int, style: str, role: str) -> int:
    """Encoder: 5 convs (notebook style), else down to ~4×4 (7×7 at 28); the decoder mirrors it."""
    if style == "notebook" and role == "encoder":
        return 5
    if size == 28:
        return 2
    return max(1, int(round(math.log2(size / 4))))


def level_filters(filters: int, max_filters: int, depth: int, style: str) -> list[int]:
    if style == "notebook":
        return [filters] * depth
    return [min(filters * 2**i, max(max_filters, filters)) for i in range(depth)]


# ------------------------------------------------------------------------------------------ pieces
def _act(name: str) -> nn.Module:
    check_choice("activation", name, ACTIVATIONS)
    return nn.LeakyReLU(0.2) if name == "leakyrelu" else nn.ReLU()


def init_weights(module: nn.Module, init: str) -> None:
    """``normal``: N(0, 0.02) weights, N(1, 0.02) norm scales (DCGAN); ``xavier``: Glorot uniform (Keras)."""
    check_choice("init", init, INITS)
    if init == "torch":
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            if init == "normal":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            if init == "normal":
                nn.init.normal_(m.weight, 1.0, 0.02)
            else:
                nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _out_act(name: str | None) -> nn.Module:
    table = {None: nn.Identity(), "none": nn.Identity(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh()}
    if name not in table:
        raise LatentworksError(f"unknown output activation '{name}'; choose none, sigmoid or tanh")
    return table[name]


@dataclass(frozen=True)
class Stack:
    """The options of one conv stack. The course's stacks are ``style="notebook"`` with the values that
    :data:`latentworks.recipes.generative.NOTEBOOK_STACK` names (filters 128, kernel 3, no norm, ReLU, Xavier)."""

    style: str = "default"
    depth: int | None = None  # None: down to ~4×4 (7×7 at 28); 5 convs in a notebook encoder
    filters: int = 32
    max_filters: int = 256
    kernel: int = 4
    norm: str = "batch"
    dropout: float = 0.0
    activation: str = "leakyrelu"
    init: str = "normal"
    bf16: bool = False  # bfloat16 conv products (autocast); weights, heads and outputs stay float32

    def __post_init__(self) -> None:
        check_choice("style", self.style, STYLES)
        check_choice("norm", self.norm, NORMS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("init", self.init, INITS)
        if self.kernel not in (3, 4, 5):
            raise LatentworksError(f"kernel size {self.kernel} is not supported; use 3, 4 or 5")
        if not 0.0 <= self.dropout < 1.0:
            raise LatentworksError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.filters < 1 or self.max_filters < 1:
            raise LatentworksError("filters must be positive")
        if self.depth is not None and self.depth < 1:
            raise LatentworksError(f"depth must be at least 1, got {self.depth}")


# ------------------------------------------------------------------------------------------ stacks
class ConvNet(nn.Module):
    """Images (B, C, H, W) → ``features`` (B, feature_dim) → optional dense head (B, out_features)."""

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        out_features: int = 0,
        out_activation: str | None = None,
        opts: Stack | None = None,
    ):
        super().__init__()
        opts = opts or Stack()
        size = check_image_size(image_size)
        k, p = _kernel_pad(opts.kernel)
        depth = opts.depth or default_depth(size, opts.style, "encoder")
        self.sizes = spatial_chain(size, depth, k, p)
        widths = level_filters(opts.filters, opts.max_filters, depth, opts.style)
        layers: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            use_norm = opts.norm == "batch" and not (opts.style == "default" and i == 0)
            layers.append(nn.Conv2d(prev, width, k, stride=2, padding=p, bias=not use_norm))
            if use_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(_act(opts.activation))
            if opts.dropout > 0:
                layers.append(nn.Dropout(opts.dropout))
            prev = width
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.feature_dim = prev * self.sizes[-1] ** 2
        self.out_features = out_features
        self.head = nn.Linear(self.feature_dim, out_features) if out_features else nn.Identity()
        self.out_act = _out_act(out_activation)
        self.bf16 = opts.bf16
        init_weights(self, opts.init)
        if opts.norm == "spectral":  # after the init: the parametrisation divides the initialised weights
            for m in self.modules():
                if isinstance(m, nn.Conv2d | nn.Linear):
                    spectral_norm(m)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.bf16):
            h = self.body(channels_last(x))
        return h.float() if self.bf16 else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_act(self.head(self.features(x)))


class DeconvNet(nn.Module):
    """Vectors (B, in_features) → images (B, C, H, W); ``out_activation=None`` returns logits."""

    def __init__(
        self,
        image_size: int,
        out_channels: int,
        in_features: int,
        out_activation: str | None = None,
        opts: Stack | None = None,
    ):
        super().__init__()
        opts = opts or Stack(activation="relu")
        if opts.norm == "spectral":
            raise LatentworksError(
                "spectral norm constrains discriminators, not decoders; for a GAN use --d-norm spectral"
            )
        size = check_image_size(image_size)
        k, p = _kernel_pad(opts.kernel)
        depth = opts.depth or default_depth(size, opts.style, "decoder")
        chain = spatial_chain(size, depth, k, p)
        self.start = chain[-1]
        notebook = opts.style == "notebook"
        widths = level_filters(opts.filters, opts.max_filters, depth, opts.style)[::-1]  # widest first
        start_ch = 64 if notebook else widths[0]
        use_norm = opts.norm == "batch"
        self.dense = nn.Linear(in_features, start_ch * self.start**2, bias=not (use_norm and not notebook))
        pre: list[nn.Module] = []
        if not notebook:  # DCGAN projects and normalises the first map; the course's dense layer is linear
            if use_norm:
                pre.append(nn.BatchNorm2d(start_ch))
            pre.append(_act(opts.activation))
        self.pre = nn.Sequential(*pre)
        layers: list[nn.Module] = []
        prev = start_ch
        targets = chain[::-1][1:]  # sizes after each transposed conv
        for i, target in enumerate(targets):
            last = i == depth - 1 and not notebook
            width = (
                out_channels if last else (widths[min(i + 1, depth - 1)] if not notebook else opts.filters)
            )
            inp = targets[i - 1] if i else self.start
            extra = target - ((inp - 1) * 2 - 2 * p + k)
            if extra not in (0, 1):  # cannot happen with the chains above; guards future kernels
                raise LatentworksError(f"cannot up-sample {inp}→{target} with kernel {k}")
            layers.append(
                nn.ConvTranspose2d(
                    prev, width, k, stride=2, padding=p, output_padding=extra, bias=last or not use_norm
                )
            )
            if not last:
                if use_norm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(_act(opts.activation))
                if opts.dropout > 0:
                    layers.append(nn.Dropout(opts.dropout))
            prev = width
        if notebook:
            layers.append(nn.Conv2d(prev, out_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.start_channels = start_ch
        self.out_act = _out_act(out_activation)
        self.bf16 = opts.bf16
        init_weights(self, opts.init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        with torch.autocast(z.device.type, torch.bfloat16, enabled=self.bf16):
            h = self.dense(z).view(z.shape[0], self.start_channels, self.start, self.start)
            h = self.body(self.pre(channels_last(h)))
        return self.out_act(h.float() if self.bf16 else h).contiguous()


def check_bf16(device: torch.device) -> None:
    """Refuse ``--bf16`` where the hardware has no bfloat16 units: there it runs slower than float32."""
    if device.type == "cuda":
        fast = torch.cuda.is_bf16_supported()
    else:
        fast = any(getattr(torch.cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported",
                                                                             "_is_amx_tile_supported"))
    if not fast:
        raise LatentworksError(f"--bf16: this {device.type.upper()} has no bfloat16 units (AVX-512 BF16 or AMX; on "
                               "a GPU, Ampere or later), where bfloat16 runs slower than float32; pass --no-bf16")


def conv_stack(
    image_size: int, in_channels: int, out_features: int = 0, out_activation: str | None = None, **options
) -> ConvNet:
    """Encoder / discriminator: ``conv_stack(64, 3, 1, depth=4, filters=32, dropout=0.2)``."""
    return ConvNet(image_size, in_channels, out_features, out_activation, Stack(**options))


def deconv_stack(
    image_size: int, out_channels: int, in_features: int, out_activation: str | None = None, **options
) -> DeconvNet:
    """Decoder / generator: ``deconv_stack(28, 1, 100, "tanh", depth=2, filters=64)`` (ReLU unless told)."""
    return DeconvNet(image_size, out_channels, in_features, out_activation, Stack(**{"activation": "relu",
                                                                                     **options}))


__all__ = [
    "ConvNet",
    "DeconvNet",
    "Stack",
    "channels_last",
    "conv_stack",
    "deconv_stack",
    "init_weights",
    "spatial_chain",
]
