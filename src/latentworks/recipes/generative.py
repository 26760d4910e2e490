"""Generative runs (CAE, VAE, DCGAN, CVAE, cGAN): the run config tree and its named recipes.

``recipe("default", kind="vae")`` is a complete :class:`RunConfig`; the named recipes are

* ``default``: DCGAN-style stacks (BN, LeakyReLU / ReLU, N(0, 0.02)), Adam; autoencoders batch 128 at 1e-3,
  GANs batch 128 at 2e-4 with β1 0.5 (Radford et al.);
* ``notebook``: the course's Keras stacks, losses, optimizer scheme and batch sizes (CAE 64, VAE 8, GAN 64);
* ``test`` / ``quick`` / ``full``: what ``latentworks run`` trains in each profile, on MNIST;
* ``faces``: CelebA at 64×64 RGB (VAE and DCGAN).

Every recipe is the ``default`` tree of its kind plus the dotted overrides listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Annotated, Any, ClassVar, Literal

from latentworks import registry
from latentworks.config import ConfigError, flag_alias, from_dict, override, require
from latentworks.data.images import ImageData
from latentworks.models.generative_base import GenOptions
from latentworks.training.config import TrainConfig

# The generative kinds, and the groups the recipes below are written for, as the models declare them.
KINDS = registry.kind_names("generative")
AUTOENCODERS = registry.kind_names("generative", "encode")
VAES = registry.kind_names("generative", "elbo")
GANS = registry.kind_names("generative", "adversarial")
CONDITIONAL = registry.kind_names("generative", "label")
MODELS = {kind: registry.kind(kind).cls for kind in KINDS}


@dataclass
class GenEval:
    """The ``eval`` section: what is measured during and after training."""

    snapshot_grid: int = 8  # n×n fixed latents decoded after every epoch
    eval_images: int = 1000  # held-out images scored after every epoch (the final scores use all of them)
    iw_k: int = 0  # VAEs: importance samples for the final IW-NLL (0 skips it)
    iw_images: int = 1000  # VAEs: held-out images for the IW-NLL

    def check(self) -> None:
        require(1 <= self.snapshot_grid <= 32, "snapshot_grid", self.snapshot_grid, "must lie in 1..32")
        require(self.eval_images >= 0, "eval_images", self.eval_images, "must be >= 0")
        require(self.iw_k >= 0, "iw_k", self.iw_k, "must be >= 0 (0 skips the IW-NLL)")
        require(self.iw_images >= 1, "iw_images", self.iw_images, "must be at least 1")


@dataclass
class RunConfig:
    """One generative run: which model, on what data, trained how, measured how."""

    family: ClassVar[str] = "generative"
    kind: Annotated[Literal[KINDS], flag_alias("--model")] = "vae"  # the model
    recipe: Annotated[str, flag_alias("--preset")] = "default"  # named settings: default, notebook, quick, ...
    data: ImageData = field(default_factory=ImageData)
    model: GenOptions = field(default_factory=MODELS["vae"].Config)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: GenEval = field(default_factory=GenEval)

    def check(self) -> None:
        require(self.kind in KINDS, "model", self.kind, f"must be one of {', '.join(KINDS)}")
        require(self.recipe in recipe_names(self.kind), "preset", self.recipe,
                f"is not a {self.kind} recipe; choose {', '.join(recipe_names(self.kind))}")
        require(type(self.model) is MODELS[self.kind].Config, "model", self.kind,
                "does not match the model section of this config")
        require(self.eval.iw_k == 0 or self.kind in VAES, "iw_k", self.eval.iw_k,
                "is a VAE measure; drop it for the " + self.kind)

    @property
    def title(self) -> str:
        name = self.data.data.rstrip("/").rsplit("/", 1)[-1]
        kind = registry.kind(self.kind).title
        data = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "fashion": "Fashion-MNIST"}.get(name, name)
        return f"{kind} on {data} ({self.data.size} px), {self.recipe} recipe"


def _run_class(kind: str) -> type[RunConfig]:
    """The concrete tree of one kind, so the command line shows exactly that model's options."""
    cls = MODELS[kind]
    run_class = make_dataclass(f"{cls.__name__}Run", [("model", cls.Config, field(default_factory=cls.Config))],
                               bases=(RunConfig,))
    run_class.__module__ = __name__
    return run_class


RUN_CLASSES: dict[str, type[RunConfig]] = {kind: _run_class(kind) for kind in KINDS}

# ------------------------------------------------------------------------------------------ the recipes
#: The course's conv stacks (build_conv_net / build_deconv_net): constant 128 filters, 3×3, ReLU, Xavier.
NOTEBOOK_STACK = {"style": "notebook", "filters": 128, "max_filters": 128, "kernel": 3, "norm": "none",
                  "dropout": 0.0, "activation": "relu", "dec_activation": "relu", "init": "xavier"}
_GAN_ADAM = {"train.betas": (0.5, 0.999)}

# The recipes for a folder of faces at 64×64 RGB: ``gen eval`` scores their runs with the face feature network.
FACE_RECIPES = ("faces",)

# Overrides of each kind's default tree, by recipe name and kind.
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "default": {
        **{k: {"train.batch_size": 128, "train.lr": 1e-3} for k in AUTOENCODERS},
        **{k: {"train.batch_size": 128, "train.lr": 2e-4, **_GAN_ADAM} for k in GANS},
    },
    "notebook": {
        "cae": {**{f"model.{k}": v for k, v in NOTEBOOK_STACK.items()}, "model.latent_dim": 512,
                "train.batch_size": 64, "train.lr": 1e-3},
        **{k: {**{f"model.{f}": v for f, v in NOTEBOOK_STACK.items()}, "model.latent_dim": 32,
               "model.loss": "notebook", "train.batch_size": 8, "train.lr": 1e-3} for k in VAES},
        **{k: {**{f"model.{f}": v for f, v in NOTEBOOK_STACK.items()}, "model.latent_dim": 256,
               "model.scheme": "notebook", "train.batch_size": 64, "train.lr": 2e-4, **_GAN_ADAM} for k in GANS},
    },
    # Seconds, for the test-suite: tiny stacks, one epoch; proves the plumbing, not the quality.
    "test": {
        "vae": {"model.latent_dim": 8, "model.filters": 8, "model.max_filters": 16, "train.epochs": 1,
                "train.batch_size": 64, "train.lr": 1e-3, "data.binarize": True},
        "dcgan": {"model.latent_dim": 16, "model.filters": 8, "model.max_filters": 16, "train.epochs": 1,
                  "train.batch_size": 32, "train.lr": 5e-4, **_GAN_ADAM},
        "cgan": {"model.latent_dim": 16, "model.filters": 8, "model.max_filters": 16, "train.epochs": 1,
                 "train.batch_size": 32, "train.lr": 5e-4, **_GAN_ADAM},
    },
    # The quick profile, on the embedded sample. Small stacks; lr 5e-4 with batch 32 gave the GANs the most
    # progress per second there. Measured on the earlier embedded sample (1,000 samples, FLD): three levels in
    # G and D instead of two took the DCGAN from 38.5 to 26.0 and its rarest class from 10 to 53 samples;
    # sampling from the generator's weight average took the cGAN from 20.4 to 16.9.
    "quick": {
        "vae": {"model.latent_dim": 16, "model.filters": 32, "model.max_filters": 64, "train.epochs": 10,
                "train.batch_size": 64, "train.lr": 1e-3, "data.binarize": True},
        "dcgan": {"model.latent_dim": 64, "model.filters": 16, "model.max_filters": 64, "model.enc_depth": 3,
                  "model.dec_depth": 3, "model.ema": 0.999, "train.epochs": 12, "train.batch_size": 32,
                  "train.lr": 5e-4, **_GAN_ADAM},
        "cgan": {"model.latent_dim": 64, "model.filters": 16, "model.max_filters": 64, "model.ema": 0.999,
                 "train.epochs": 12, "train.batch_size": 32, "train.lr": 5e-4, **_GAN_ADAM},
    },
    # The full profile on all of MNIST (BENCHMARKS.md has each measured figure).
    "full": {
        "vae": {"model.latent_dim": 32, "model.filters": 32, "model.max_filters": 64, "train.epochs": 30,
                "train.batch_size": 128, "train.lr": 1e-3, "data.binarize": True},
        # Three levels in G and D, the weight average, a spectral-norm discriminator at twice G's learning rate
        # (TTUR) and a 10-way InfoGAN code: FLD 0.445 (1.76x the floor) after 92 epochs, every class within
        # +-10 %; without the code 1.32, with batch norm and one rate 1.47.
        "dcgan": {"model.latent_dim": 100, "model.filters": 32, "model.max_filters": 128, "model.enc_depth": 3,
                  "model.dec_depth": 3, "model.d_lr": 4e-4, "model.d_norm": "spectral", "model.ema": 0.999,
                  "model.codes": 10, "train.epochs": 92, "train.batch_size": 64, "train.lr": 2e-4, **_GAN_ADAM},
        # d_cond both (label channels + projection): 99.45 % conditional accuracy after 42 epochs.
        "cgan": {"model.latent_dim": 100, "model.filters": 32, "model.max_filters": 128, "model.d_cond": "both",
                 "train.epochs": 42, "train.batch_size": 64, "train.lr": 2e-4, **_GAN_ADAM},
        # An 8-d style code with β = 2 leaves the class to the label: 99.28 % conditional accuracy after 29
        # epochs, where 32 dimensions and β = 1 gave 93.79 %.
        "cvae": {"model.latent_dim": 8, "model.beta": 2.0, "model.filters": 32, "model.max_filters": 64,
                 "train.epochs": 29, "train.batch_size": 128, "train.lr": 1e-3, "data.binarize": True},
    },
    "faces": {
        # A sharp Gaussian decoder (σ 0.1: close to an autoencoder) sampled from a Gaussian fitted to the codes
        # it uses, not from N(0, I): FLD 108.8x -> 70.4x the floor (BENCHMARKS.md "Faces"); σ 0.2 or 0.05 alike.
        "vae": {"data.size": 64, "data.channels": 3, "model.latent_dim": 128, "model.filters": 32,
                "model.max_filters": 256, "model.likelihood": "gaussian", "model.decoder_std": 0.1,
                "model.prior": "fitted", "train.epochs": 10, "train.batch_size": 64, "train.lr": 1e-3},
        # Sampled from an average of G's weights over about the last 100 steps (FLD 33.7x -> 24.8x the floor in
        # the face feature network's space); D shown reals and fakes through DiffAugment's translation and
        # cutout, which keeps it from overpowering G, so both can learn at 3e-4: 24.1x -> 16.6x the floor over
        # three seeds, in about the same CPU time (BENCHMARKS.md "Faces").
        "dcgan": {"data.size": 64, "data.channels": 3, "model.latent_dim": 100, "model.filters": 32,
                  "model.max_filters": 256, "model.ema": 0.99, "model.augment": "translation,cutout",
                  "train.epochs": 10, "train.batch_size": 64, "train.lr": 3e-4, **_GAN_ADAM},
    },
}


def training_examples(data: dict[str, Any]) -> int:
    """Training images of a run's ``data`` section (JSON), for a time estimate: its limit, else the embedded
    sample's 4,000 digits or full MNIST's 60,000."""
    return data.get("limit") or (4000 if data.get("data_dir") in (None, "embedded") else 60000)


def recipe_names(kind: str | None = None) -> list[str]:
    """Recipe names (for one model kind, the ones that define it)."""
    return [name for name, by_kind in RECIPES.items() if kind is None or kind in by_kind]


def recipe_kinds(name: str) -> tuple[str, ...]:
    """The kinds recipe ``name`` defines, in the order it lists them (a study trains one run of each)."""
    if name not in RECIPES:
        raise ConfigError(f"--preset {name!r} is not a generative recipe; choose {', '.join(RECIPES)}")
    return tuple(RECIPES[name])


def recipe(name: str = "default", kind: str = "vae", **changes: Any) -> RunConfig:
    """The complete run config of recipe ``name`` for model ``kind``, with dotted ``changes`` applied
    (``recipe("quick", kind="vae", **{"train.epochs": 2})``)."""
    if kind not in KINDS:
        raise ConfigError(f"--model {kind!r} is not a choice; use one of {', '.join(KINDS)}")
    if name not in RECIPES or kind not in RECIPES[name]:
        raise ConfigError(f"--preset {name!r} is not a {kind} recipe; choose {', '.join(recipe_names(kind))}")
    base = RUN_CLASSES[kind](kind=kind, recipe=name, model=MODELS[kind].Config(), train=TrainConfig(drop_last=True))
    cfg = override(base, RECIPES["default"][kind])
    return override(cfg, {**RECIPES[name][kind], **changes})


def from_json(data: dict[str, Any]) -> RunConfig:
    """A ``config.json`` (or ``--print-config`` output) back into a typed tree."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in KINDS:
        raise ConfigError(f"config: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    body = {k: v for k, v in data.items() if k != "family"}
    return from_dict(RUN_CLASSES[kind], body)


def resolve(cfg: RunConfig, channels: int | None = None, num_classes: int | None = None) -> RunConfig:
    """Fill the fields the data decides: image size, channels and (conditional models) the classes. The
    pipeline passes what it loaded; without them they follow from the data's description."""
    from latentworks.data.images import MNIST_NAMES, folder_classes

    d = cfg.data
    if channels is None:
        channels = d.channels or (1 if d.data in MNIST_NAMES else 3)
    changes: dict[str, Any] = {"model.image_size": d.size, "model.channels": channels}
    if cfg.kind in CONDITIONAL:
        if num_classes is None:
            num_classes = 10 if d.data in MNIST_NAMES else len(folder_classes(d.data, d.size, channels))
        changes["model.num_classes"] = num_classes
    return override(cfg, changes)


__all__ = ["AUTOENCODERS", "CONDITIONAL", "FACE_RECIPES", "GANS", "GenEval", "KINDS", "NOTEBOOK_STACK", "RECIPES",
           "RunConfig", "from_json", "recipe", "recipe_kinds", "recipe_names", "resolve", "training_examples"]


# ------------------------------------------------------------------------------------------ the tiny example
#: What a kind's tiny example changes in its ``test`` recipe (its ``default`` where it has none): a few steps on
#: a slice of the packaged MNIST sample, for the per-kind test battery (tests/models/test_every_kind.py).
EXAMPLE = {"data.data": "mnist", "data.data_dir": "embedded", "data.limit": 64, "model.latent_dim": 4,
           "model.filters": 4, "model.max_filters": 8, "train.epochs": 2, "train.batch_size": 16,
           "eval.eval_images": 32, "eval.snapshot_grid": 2, "train.progress": False}


def example(kind: str) -> RunConfig:
    """A seconds-fast run of ``kind``: the plumbing, not the quality (a new kind needs no entry of its own)."""
    return recipe("test" if kind in RECIPES["test"] else "default", kind=kind, **EXAMPLE)
