"""Configurable conv (encoder / discriminator) and transposed-conv (decoder / generator) stacks.

Two styles share one set of options:

* ``preset="default"`` (DCGAN style): stride-2 4×4 convs whose filters double per level from ``filters`` up to
  ``max_filters`` (seed 001: 32→256), batch norm on every level but the encoder's first and the decoder's
  output, LeakyReLU(0.2) in the encoder and ReLU in the decoder, N(0, 0.02) init. The decoder mirrors the
  encoder: dense → (top filters, s0, s0) → ``depth`` transposed convs, the last one producing the image.
* ``preset="notebook"``: the course's ``build_conv_net`` / ``build_deconv_net`` (§4.2–4.3): 3×3 stride-2
  'same' convs with a constant ``filters`` (128), ReLU, no norm, Keras-style Xavier init; the encoder is one
  conv on the input plus ``depth - 1`` more (5 in all), flattened into a dense output; the decoder is dense
  4·4·64 (linear) → reshape → ``depth`` transposed convs (4 at 64×64) → a 3×3 conv to the image channels.
  At 64×64 this is exactly the course's stack; at other sizes the decoder's depth is ``log2(size / 4)`` (7×7
  start for 28). PyTorch pads 'same' symmetrically where TensorFlow pads bottom/right; shapes are identical.

``norm="spectral"`` (encoders only) divides each conv's and the head's weights by their largest singular value
(Miyato et al. 2018), the discriminator normalisation of SN-GAN; decoders refuse it.

Sizes: 28 and powers of two from 8 to 1024, grey (1) or RGB (3) — or any channel count, for conditional
models that append label maps. Odd intermediate sizes (28→14→7→3) are undone exactly by ``output_padding``.

The module also holds what every generative model shares: the latent sampler with truncation and scale,
label conditioning (one-hot or embedding for z; one-hot maps as extra input channels), and input checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from latentworks.errors import LatentworksError

PRESETS = ("default", "notebook")
NORMS = ("none", "batch", "spectral")  # spectral: encoders / discriminators only
ACTIVATIONS = ("leakyrelu", "relu")
INITS = ("normal", "xavier", "torch")
MAX_SIZE = 1024


# ------------------------------------------------------------------------------------------ checks
def supported_sizes_text() -> str:
    return f"28 or a power of two from 8 to {MAX_SIZE}"


def check_image_size(size: int) -> int:
    size = int(size)
    if size == 28 or (8 <= size <= MAX_SIZE and size & (size - 1) == 0):
        return size
    raise LatentworksError(
        f"image size {size} is not supported; use {supported_sizes_text()} (e.g. --size 32)"
    )


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise LatentworksError(f"unknown {name} '{value}'; choose {', '.join(choices)}")


def _conv_out(n: int, kernel: int, pad: int) -> int:
    return (n + 2 * pad - kernel) // 2 + 1


def _kernel_pad(preset: str, kernel: int | None) -> tuple[int, int]:
    k = kernel or (3 if preset == "notebook" else 4)
    if k not in (3, 4, 5):
        raise LatentworksError(f"kernel size {k} is not supported; use 3, 4 or 5")
    return k, (k - 1) // 2


def spatial_chain(size: int, depth: int, kernel: int, pad: int) -> list[int]:
    """Feature-map sizes after 0..depth stride-2 convs (``[size, ..., s_depth]``)."""
    chain = [size]
    for _ in range(depth):
        nxt = _conv_out(chain[-1], kernel, pad)
        if nxt < 1:
            raise LatentworksError(f"depth {depth} is too deep for {size}×{size} images; use a smaller depth")
        chain.append(nxt)
    return chain


def default_depth(size: int, preset: str, role: str) -> int:
    """Encoder: 5 convs (notebook style), else down to ~4×4 (7×7 at 28); the decoder mirrors it."""
    if preset == "notebook" and role == "encoder":
        return 5
    if size == 28:
        return 2
    return max(1, int(round(math.log2(size / 4))))


def level_filters(filters: int, max_filters: int, depth: int, preset: str) -> list[int]:
    if preset == "notebook":
        return [filters] * depth
    return [min(filters * 2**i, max(max_filters, filters)) for i in range(depth)]


# ------------------------------------------------------------------------------------------ pieces
def _act(name: str) -> nn.Module:
    _check_choice("activation", name, ACTIVATIONS)
    return nn.LeakyReLU(0.2) if name == "leakyrelu" else nn.ReLU()


def init_weights(module: nn.Module, init: str) -> None:
    """``normal``: N(0, 0.02) weights, N(1, 0.02) norm scales (DCGAN); ``xavier``: Glorot uniform (Keras)."""
    _check_choice("init", init, INITS)
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


# What each preset means when an option is left at None. The notebook column is the course's Keras code.
STACK_PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        "filters": 32,
        "max_filters": 256,
        "kernel": 4,
        "norm": "batch",
        "dropout": 0.0,
        "activation": "leakyrelu",
        "dec_activation": "relu",
        "init": "normal",
    },
    "notebook": {
        "filters": 128,
        "max_filters": 128,
        "kernel": 3,
        "norm": "none",
        "dropout": 0.0,
        "activation": "relu",
        "dec_activation": "relu",
        "init": "xavier",
    },
}


@dataclass
class StackOptions:
    """Options of one stack; None means "the preset's value" (``STACK_PRESETS``), filled in when built."""

    preset: str = "default"
    depth: int | None = None
    filters: int | None = None
    max_filters: int | None = None
    kernel: int | None = None
    norm: str | None = None
    dropout: float | None = None
    activation: str | None = None
    init: str | None = None

    def resolved(self, role: str) -> StackOptions:
        _check_choice("preset", self.preset, PRESETS)
        table = STACK_PRESETS[self.preset]
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in values.items():
            if value is None and key in table:
                values[key] = table[key]
        if self.activation is None:
            values["activation"] = table["activation" if role == "encoder" else "dec_activation"]
        opts = StackOptions(**values)
        _check_choice("norm", opts.norm, NORMS)
        _check_choice("activation", opts.activation, ACTIVATIONS)
        _check_choice("init", opts.init, INITS)
        if not 0.0 <= opts.dropout < 1.0:
            raise LatentworksError(f"dropout must lie in [0, 1), got {opts.dropout}")
        if opts.filters < 1 or opts.max_filters < 1:
            raise LatentworksError("filters must be positive")
        if opts.depth is not None and opts.depth < 1:
            raise LatentworksError(f"depth must be at least 1, got {opts.depth}")
        return opts


# ------------------------------------------------------------------------------------------ stacks
class ConvNet(nn.Module):
    """Images (B, C, H, W) → ``features`` (B, feature_dim) → optional dense head (B, out_features)."""

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        out_features: int = 0,
        out_activation: str | None = None,
        opts: StackOptions | None = None,
    ):
        super().__init__()
        opts = (opts or StackOptions()).resolved("encoder")
        size = check_image_size(image_size)
        k, p = _kernel_pad(opts.preset, opts.kernel)
        depth = opts.depth or default_depth(size, opts.preset, "encoder")
        self.sizes = spatial_chain(size, depth, k, p)
        widths = level_filters(opts.filters, opts.max_filters, depth, opts.preset)
        layers: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            use_norm = opts.norm == "batch" and not (opts.preset == "default" and i == 0)
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
        init_weights(self, opts.init)
        if opts.norm == "spectral":  # after the init: the parametrisation divides the initialised weights
            for m in self.modules():
                if isinstance(m, nn.Conv2d | nn.Linear):
                    spectral_norm(m)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_act(self.head(self.body(x)))


class DeconvNet(nn.Module):
    """Vectors (B, in_features) → images (B, C, H, W); ``out_activation=None`` returns logits."""

    def __init__(
        self,
        image_size: int,
        out_channels: int,
        in_features: int,
        out_activation: str | None = None,
        opts: StackOptions | None = None,
    ):
        super().__init__()
        opts = (opts or StackOptions()).resolved("decoder")
        if opts.norm == "spectral":
            raise LatentworksError(
                "spectral norm constrains discriminators, not decoders; for a GAN use --d-norm spectral"
            )
        size = check_image_size(image_size)
        k, p = _kernel_pad(opts.preset, opts.kernel)
        depth = opts.depth or default_depth(size, opts.preset, "decoder")
        chain = spatial_chain(size, depth, k, p)
        self.start = chain[-1]
        notebook = opts.preset == "notebook"
        widths = level_filters(opts.filters, opts.max_filters, depth, opts.preset)[::-1]  # widest first
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
        init_weights(self, opts.init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(z).view(z.shape[0], self.start_channels, self.start, self.start)
        return self.out_act(self.body(self.pre(h)))


def conv_stack(
    image_size: int, in_channels: int, out_features: int = 0, out_activation: str | None = None, **options
) -> ConvNet:
    """Encoder / discriminator: ``conv_stack(64, 3, 1, depth=4, filters=32, dropout=0.2)``."""
    return ConvNet(image_size, in_channels, out_features, out_activation, StackOptions(**options))


def deconv_stack(
    image_size: int, out_channels: int, in_features: int, out_activation: str | None = None, **options
) -> DeconvNet:
    """Decoder / generator: ``deconv_stack(28, 1, 100, "tanh", depth=2, filters=64, activation="relu")``."""
    return DeconvNet(image_size, out_channels, in_features, out_activation, StackOptions(**options))


# ------------------------------------------------------------------------------------------ shared model bits
@dataclass
class GenOptions:
    """Fields every generative model config has, flat so ``model.json`` round-trips without nesting.

    Options left at None take the preset's value in ``__post_init__`` (``STACK_PRESETS`` merged with the
    model's ``MODEL_DEFAULTS``), so a saved config always holds concrete numbers.
    """

    MODEL_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

    image_size: int = 28
    channels: int = 1
    latent_dim: int | None = None
    num_classes: int = 0
    cond_embed: str = "onehot"  # onehot | embedding: how labels join z
    embed_dim: int = 16
    preset: str = "default"
    enc_depth: int | None = None
    dec_depth: int | None = None
    filters: int | None = None
    max_filters: int | None = None
    kernel: int | None = None
    norm: str | None = None
    dropout: float | None = None
    activation: str | None = None
    dec_activation: str | None = None
    init: str | None = None

    def __post_init__(self) -> None:
        _check_choice("preset", self.preset, PRESETS)
        check_image_size(self.image_size)
        if self.channels < 1:
            raise LatentworksError(f"channels must be positive, got {self.channels}")
        table = {**STACK_PRESETS[self.preset], **self.MODEL_DEFAULTS.get(self.preset, {})}
        for key, value in table.items():
            if getattr(self, key, 0) is None:
                setattr(self, key, value)
        if self.enc_depth is None:
            self.enc_depth = default_depth(self.image_size, self.preset, "encoder")
        if self.dec_depth is None:
            self.dec_depth = default_depth(self.image_size, self.preset, "decoder")
        if self.latent_dim is None or self.latent_dim < 1:
            raise LatentworksError(f"latent_dim must be a positive integer, got {self.latent_dim}")


def enc_options(c: GenOptions) -> StackOptions:
    return StackOptions(
        c.preset, c.enc_depth, c.filters, c.max_filters, c.kernel, c.norm, c.dropout, c.activation, c.init
    )


def dec_options(c: GenOptions) -> StackOptions:
    return StackOptions(
        c.preset, c.dec_depth, c.filters, c.max_filters, c.kernel, c.norm, 0.0, c.dec_activation, c.init
    )


def sample_normal(
    n: int,
    dim: int,
    generator: torch.Generator | None = None,
    truncate: float | None = None,
    scale: float = 1.0,
) -> torch.Tensor:
    """N(0, I) on the CPU; entries beyond ±``truncate`` are re-drawn (truncation trick); then × ``scale``."""
    if truncate is not None and not (truncate > 0 and math.isfinite(truncate)):
        raise LatentworksError(f"--truncate must be a positive number of standard deviations, got {truncate}")
    if not (scale > 0 and math.isfinite(scale)):
        raise LatentworksError(f"--scale must be a positive number, got {scale}")
    z = torch.randn(n, dim, generator=generator)
    if truncate is not None:
        for _ in range(1000):
            bad = z.abs() > truncate
            if not bool(bad.any()):
                break
            z[bad] = torch.randn(int(bad.sum()), generator=generator)
        z = z.clamp(-truncate, truncate)
    return z * scale


class ZCondition(nn.Module):
    """Concatenates a label code to z: one-hot or a learned embedding; the identity without classes."""

    def __init__(self, num_classes: int = 0, mode: str = "onehot", embed_dim: int = 16):
        super().__init__()
        _check_choice("cond_embed", mode, ("onehot", "embedding"))
        self.num_classes, self.mode = num_classes, mode
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes and mode == "embedding" else None
        self.extra = 0 if not num_classes else (embed_dim if self.embed is not None else num_classes)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if not self.num_classes:
            return z
        code = (
            self.embed(labels) if self.embed is not None else F.one_hot(labels, self.num_classes).to(z.dtype)
        )
        return torch.cat([z, code], dim=1)


def label_maps(x: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """Append one constant one-hot map per class to the images as extra input channels."""
    if not num_classes or labels is None:
        return x
    maps = F.one_hot(labels, num_classes).to(x.dtype)[:, :, None, None]
    return torch.cat([x, maps.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)


class GenerativeBase(nn.Module):
    """Common interface: ``conditional``, ``num_classes``, ``sample_latent``, and the input checks."""

    config: GenOptions
    kind: str

    def _setup_conditioning(self) -> ZCondition:
        c = self.config
        if c.num_classes < 0 or c.num_classes == 1:
            raise LatentworksError(
                f"num_classes must be 0 (unconditional) or at least 2, got {c.num_classes}"
            )
        self.num_classes = int(c.num_classes)
        self.conditional = self.num_classes > 0
        return ZCondition(self.num_classes, c.cond_embed, c.embed_dim)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample_latent(
        self,
        n: int,
        generator: torch.Generator | None = None,
        truncate: float | None = None,
        scale: float = 1.0,
    ) -> torch.Tensor:
        return sample_normal(n, self.config.latent_dim, generator, truncate, scale).to(self.device)

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """None for unconditional models (labels are ignored); a long (n,) tensor in range otherwise."""
        if not self.conditional:
            return None
        if labels is None:
            raise LatentworksError(
                f"the {self.kind} model is conditional: pass one class label "
                f"(0..{self.num_classes - 1}) per image"
            )
        labels = torch.as_tensor(labels, device=self.device).long().reshape(-1)
        if labels.numel() == 1 and n > 1:
            labels = labels.expand(n)
        if labels.numel() != n:
            raise LatentworksError(f"got {labels.numel()} labels for {n} images")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise LatentworksError(f"class labels must lie in 0..{self.num_classes - 1}")
        return labels

    def check_latents(self, z: torch.Tensor) -> torch.Tensor:
        d = self.config.latent_dim
        if z.dim() != 2 or z.shape[1] != d:
            raise LatentworksError(
                f"latents must have shape (N, {d}), got {tuple(z.shape)}; the latent dimension "
                f"does not match this {self.kind} model"
            )
        return z.to(self.device, torch.float32)

    def check_images(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 or float in [0, 1], (B, C, H, W) matching the config → float on the model's device."""
        c = self.config
        want = (c.channels, c.image_size, c.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise LatentworksError(
                f"the {self.kind} model takes images (N, {want[0]}, {want[1]}, {want[2]}), got "
                f"{tuple(x.shape)}; resize to --size {c.image_size}"
            )
        x = x.to(self.device)
        return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


__all__ = [
    "ConvNet",
    "DeconvNet",
    "GenOptions",
    "GenerativeBase",
    "StackOptions",
    "ZCondition",
    "check_image_size",
    "conv_stack",
    "deconv_stack",
    "init_weights",
    "label_maps",
    "sample_normal",
    "spatial_chain",
]
