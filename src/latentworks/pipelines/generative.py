"""Generative models end to end: data, model, the one trainer, per-epoch snapshots, held-out scores, figures.

``train_generative(GenConfig(model="vae", data="mnist"), "runs/vae")`` writes a run folder with
``model.json`` + ``model.safetensors`` (load with :func:`load_generative`, no training code needed),
``checkpoints/`` (``--resume``), ``metrics.jsonl``, ``results.json`` and ``figures/``:

* ``epoch_XXX.png`` after every epoch, decoded from the SAME latent vectors each time (conditional models: one
  row per class, the same z along each column), and ``epochs.gif`` animating them;
* ``samples.png`` (numbered cells, so indices can be picked for arithmetic), ``loss.png``, ``d_accuracy.png``
  (GANs: the discriminator's accuracy on real and on fake images, and on the fakes' codes with ``codes``),
  ``codes.png`` (with ``codes``: one row per code value, the same noise down each column),
  ``eval.png`` (held-out curves) and ``reconstructions.png`` (autoencoders: held-out images over their
  reconstructions).

Held-out data is the MNIST / Fashion-MNIST test split, or a fixed 10 % of a folder. With ``binarize`` the VAE
trains on dynamically binarised images (a fresh Bernoulli draw per batch) and is scored on one fixed
binarisation of the test split, which makes its ELBO / IW-NLL a real likelihood bound in nats.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks.data.images import load_image_dataset
from latentworks.errors import LatentworksError
from latentworks.models.builders import check_image_size
from latentworks.models.inference import inference
from latentworks.models.io import load_model, save_model
from latentworks.report.pictures import number_cells, save_png, snapshot, write_gif
from latentworks.runs import RunDir, read_json
from latentworks.training.trainer import TrainConfig, Trainer, seed_everything

GEN_KINDS = ("cae", "vae", "dcgan", "cvae", "cgan")
AUTOENCODERS = ("cae", "vae", "cvae")
GANS = ("dcgan", "cgan")
CONDITIONAL = ("cvae", "cgan")
# Training defaults per preset (the notebook column is the course: CAE batch 64, VAE batch 8, GAN batch 64).
TRAIN_DEFAULTS = {
    "default": {"ae": {"batch_size": 128, "lr": 1e-3}, "gan": {"batch_size": 128, "lr": 2e-4}},
    "notebook": {
        "ae": {"batch_size": 64, "lr": 1e-3},
        "gan": {"batch_size": 64, "lr": 2e-4},
        "vae": {"batch_size": 8, "lr": 1e-3},
    },
}
MODEL_FIELDS = (
    "latent_dim",
    "enc_depth",
    "dec_depth",
    "filters",
    "max_filters",
    "kernel",
    "norm",
    "dropout",
    "activation",
    "dec_activation",
    "init",
    "cond_embed",
    "d_cond",
    "d_norm",
    "ema",
    "codes",
    "pixel_layers",
    "pixel_channels",
)


@dataclass
class GenConfig:
    model: str = "vae"  # cae | vae | dcgan | cvae | cgan
    data: str = "mnist"  # mnist | fashion-mnist | a folder of images
    size: int = 28
    channels: int | None = None  # None: 1 for the digit sets, 3 for folders
    latent_dim: int | None = None  # None: the preset's (cae 32/512, vae 32, gan 100/256)
    preset: str = "default"  # default | notebook
    epochs: int = 10
    batch_size: int | None = None
    lr: float | None = None
    schedule: str = "constant"
    beta: float = 1.0
    loss: str | None = None  # vae/cvae: elbo | notebook (notebook preset: notebook); cae: bce | mse
    likelihood: str = "bernoulli"  # vae/cvae: bernoulli | gaussian
    binarize: bool = False  # vae/cvae: dynamic binarisation of the training images
    gan_scheme: str | None = None  # dcgan/cgan: default | notebook (None: the preset's)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # CPU intra-op threads (None: torch's default); small convnets often run fastest on 1
    data_dir: str | None = None
    limit: int | None = None  # train on a fixed random subset of this many images
    holdout: float = 0.1  # folders: share held out for scoring
    background: str = "white"  # folders: what transparent pixels become
    # Builder options; None keeps the preset's value.
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
    cond_embed: str | None = None
    d_cond: str | None = None
    d_norm: str | None = None  # dcgan/cgan: the discriminator's none | batch | spectral (None: ``norm``)
    d_lr: float | None = None  # dcgan/cgan: the discriminator's learning rate (None: ``lr``; 2x-4x is TTUR)
    ema: float | None = None  # dcgan/cgan: decay of the generator's weight average used for sampling
    codes: int | None = None  # dcgan: InfoGAN categorical code over the first ``codes`` latent coordinates
    pixel_layers: int | None = None  # vae/cvae: masked layers of the autoregressive decoder head (0: none)
    pixel_channels: int | None = None
    # Evaluation.
    snapshot_grid: int = 8  # n×n fixed latents per epoch
    eval_images: int = 1000  # held-out images scored after every epoch (the final scores use all of them)
    iw_k: int = 0  # vae/cvae: importance samples for the final IW-NLL (0 skips it)
    iw_images: int = 1000
    progress: bool = True

    def check(self) -> None:
        if self.model not in GEN_KINDS:
            raise LatentworksError(f"unknown model '{self.model}'; choose {', '.join(GEN_KINDS)}")
        if self.preset not in TRAIN_DEFAULTS:
            raise LatentworksError(f"unknown preset '{self.preset}'; choose default or notebook")
        try:
            check_image_size(self.size)
        except LatentworksError as err:
            raise LatentworksError(
                f"--size {self.size} cannot be used by the {self.model} model: {err}"
            ) from None
        if self.epochs < 1:
            raise LatentworksError(f"--epochs must be at least 1, got {self.epochs}")
        if self.limit is not None and self.limit < 1:
            raise LatentworksError(f"--limit must be positive, got {self.limit}")
        for name, owners in (("d_cond", GANS), ("d_norm", GANS), ("d_lr", GANS), ("ema", GANS), ("codes", GANS),
                             ("pixel_layers", ("vae", "cvae")), ("pixel_channels", ("vae", "cvae"))):
            if getattr(self, name) is not None and self.model not in owners:
                raise LatentworksError(f"--{name.replace('_', '-')} is an option of the {' / '.join(owners)} "
                                       f"models, not of {self.model}")

    @property
    def family(self) -> str:
        return "gan" if self.model in GANS else "ae"

    def train_settings(self) -> dict[str, Any]:
        table = TRAIN_DEFAULTS[self.preset]
        key = "vae" if self.model in ("vae", "cvae") else self.model
        base = dict(table.get(key, table[self.family]))
        for key in ("batch_size", "lr"):
            if getattr(self, key) is not None:
                base[key] = getattr(self, key)
        return base

    def scheme(self) -> str:
        return self.gan_scheme or ("notebook" if self.preset == "notebook" else "default")


# ------------------------------------------------------------------------------------------ models
def _import_models() -> dict[str, type]:
    from latentworks.models.cae import CAE
    from latentworks.models.conditional import CGAN, CVAE
    from latentworks.models.dcgan import DCGAN
    from latentworks.models.vae import VAE

    return {"cae": CAE, "vae": VAE, "dcgan": DCGAN, "cvae": CVAE, "cgan": CGAN}


def load_generative(
    folder: str | Path, expect: str | tuple[str, ...] | None = None, map_location: str = "cpu"
) -> torch.nn.Module:
    """A trained generative model from its run folder; refuses other kinds with a one-line error."""
    _import_models()
    return load_model(folder, expect=expect or GEN_KINDS, map_location=map_location)


def build_model(cfg: GenConfig, channels: int, num_classes: int) -> torch.nn.Module:
    cls = _import_models()[cfg.model]
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    kwargs: dict[str, Any] = {"image_size": cfg.size, "channels": channels, "preset": cfg.preset}
    for key in MODEL_FIELDS:
        if getattr(cfg, key) is not None and key in fields:
            kwargs[key] = getattr(cfg, key)
    if cfg.model in CONDITIONAL:
        kwargs["num_classes"] = num_classes
    if cfg.model in ("vae", "cvae"):
        kwargs.update(
            beta=cfg.beta,
            likelihood=cfg.likelihood,
            loss=cfg.loss or ("notebook" if cfg.preset == "notebook" else "elbo"),
        )
    elif cfg.model == "cae" and cfg.loss is not None:
        kwargs["loss"] = cfg.loss
    return cls(cls.Config(**kwargs))


# ------------------------------------------------------------------------------------------ data
@dataclass
class GenData:
    train_x: torch.Tensor
    train_y: torch.Tensor | None
    test_x: torch.Tensor
    test_y: torch.Tensor | None
    num_classes: int
    source: str


def prepare_data(cfg: GenConfig) -> GenData:
    common = dict(
        data_dir=cfg.data_dir, holdout=cfg.holdout, background=cfg.background, progress=cfg.progress
    )
    train_x, train_y, source = load_image_dataset(cfg.data, cfg.size, cfg.channels, split="train", **common)
    test_x, test_y, _ = load_image_dataset(
        cfg.data, cfg.size, cfg.channels, split="test", quiet=True, **common
    )
    if cfg.limit is not None and cfg.limit < len(train_x):
        pick = torch.from_numpy(np.sort(np.random.default_rng(0).permutation(len(train_x))[: cfg.limit]))
        train_x = train_x[pick]
        train_y = train_y[pick] if train_y is not None else None
    num_classes = 0
    if train_y is not None:
        num_classes = int(max(train_y.max(), test_y.max() if test_y is not None and len(test_y) else 0)) + 1
    if cfg.model in CONDITIONAL and num_classes < 2:
        raise LatentworksError(
            f"the {cfg.model} model needs class labels: use mnist, fashion-mnist, or a folder "
            "with one sub-folder per class"
        )
    return GenData(train_x, train_y, test_x, test_y, num_classes, source)


def binarized(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Bernoulli draw of uint8 / [0, 1] images with a CPU generator (same bits on every device)."""
    p = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return (torch.rand(p.shape, generator=gen).to(p.device) < p).float()


# ------------------------------------------------------------------------------------------ figures
def write_epochs_gif(figures: Path, ms: int = 400) -> Path | None:
    """``epochs.gif`` from every ``epoch_XXX.png`` on disk (so a resumed run animates all its epochs)."""
    from PIL import Image

    frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(figures.glob("epoch_*.png"))]
    return write_gif(frames, figures / "epochs.gif", duration_ms=ms, min_side=0) if frames else None


def snapshot_inputs(model, cfg: GenConfig, n: int) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Fixed latents (and labels) for the per-epoch grids: (z, labels, rows)."""
    gen = torch.Generator().manual_seed(cfg.seed + 10_007)
    if model.conditional:
        rows = min(model.num_classes, 20)
        z = model.sample_latent(n, gen).repeat(rows, 1)
        labels = torch.arange(rows).repeat_interleave(n)
        return z, labels, rows
    return model.sample_latent(n * n, gen), None, n


# ------------------------------------------------------------------------------------------ scoring
def heldout_scores(
    model,
    kind: str,
    x: torch.Tensor,
    y: torch.Tensor | None,
    *,
    seed: int,
    binarize: bool = False,
    iw_k: int = 0,
    iw_images: int = 0,
    batch: int = 500,
) -> dict[str, float]:
    """Reconstruction MSE (autoencoders), ELBO and optional IW-NLL (VAEs) on held-out images, per image."""
    if kind not in AUTOENCODERS or len(x) == 0:
        return {}
    gen = torch.Generator().manual_seed(seed + 99_991)
    xs = binarized(x, torch.Generator().manual_seed(20_240_601)) if binarize else x.float() / 255.0
    labels = y if model.conditional else None
    mse, elbo, iw = [], [], []
    # An autoregressive decoder reconstructs by drawing every pixel in turn: too slow to score each epoch.
    score_mse = getattr(model, "pixel_head", None) is None
    with inference(model):
        for i in range(0, len(xs), batch):
            xb = xs[i : i + batch]
            yb = labels[i : i + batch] if labels is not None else None
            if score_mse:
                rec = model.reconstruct(xb, yb).cpu()
                mse.append(((rec - xb.cpu()) ** 2).flatten(1).mean(1))
            if kind != "cae":
                elbo.append(model.elbo(xb, 1, yb, generator=gen).cpu())
        if iw_k and kind != "cae":
            for i in range(0, min(iw_images, len(xs)), 100):
                j = min(i + 100, iw_images, len(xs))
                yb = labels[i:j] if labels is not None else None
                iw.append(model.iw_nll(xs[i:j], iw_k, yb, generator=gen).cpu())
    out = {"recon_mse": float(torch.cat(mse).mean())} if mse else {}
    if elbo:
        out["elbo"] = float(torch.cat(elbo).mean())
    if iw:
        out[f"iw_nll_k{iw_k}"] = float(torch.cat(iw).mean())
    return out


def heldout_d_accuracy(model, x: torch.Tensor, y: torch.Tensor | None) -> float:
    """Share of held-out real images the discriminator calls real.

    D runs in training mode, as during its updates: batch norm on batch statistics (its running statistics mix
    real and fake batches, so eval mode would judge with neither); every buffer is left untouched.
    """
    from latentworks.training.gan import frozen

    d, was_training = model.discriminator, model.discriminator.training
    d.train()
    with frozen(d):
        logits = model.discriminate(x, y if model.conditional else None)
    d.train(was_training)
    return float((logits > 0).float().mean())


def make_eval_fn(cfg: GenConfig, data: GenData, run: RunDir):
    n = cfg.snapshot_grid
    x_eval, y_eval = (
        data.test_x[: cfg.eval_images],
        (data.test_y[: cfg.eval_images] if data.test_y is not None else None),
    )

    def fn(model, epoch: int) -> dict[str, float]:
        z, labels, rows = snapshot_inputs(model, cfg, n)
        save_png(snapshot(model.decode(z, labels), rows), run.figures / f"epoch_{epoch:03d}.png")
        metrics = heldout_scores(model, cfg.model, x_eval, y_eval, seed=cfg.seed, binarize=cfg.binarize)
        if cfg.model in GANS and len(x_eval):
            metrics["d_acc_heldout_real"] = heldout_d_accuracy(model, x_eval, y_eval)
        return metrics

    return fn


def write_figures(run: RunDir, cfg: GenConfig, model, history: list[dict[str, Any]], data: GenData) -> None:
    from latentworks.report.plots import line_plot

    def series(keys, rows, x="step"):
        return {
            k: ([r[x] for r in rows if r.get(k) is not None], [r[k] for r in rows if r.get(k) is not None])
            for k in keys
            if any(r.get(k) is not None for r in rows)
        }

    train_rows = [r for r in history if "loss" in r or "d_loss" in r]
    eval_rows = [r for r in history if any(k.startswith("eval/") for k in r)]
    losses = series(("d_loss", "g_loss") if cfg.model in GANS else ("loss",), train_rows)
    if losses:
        line_plot(
            losses, run.figures / "loss.png", title=f"{cfg.model} training loss", xlabel="step", ylabel="loss"
        )
    if cfg.model in GANS:
        acc = series(("d_acc_real", "d_acc_fake", "code_acc"), train_rows)
        acc.update(series(("eval/d_acc_heldout_real",), eval_rows))
        if acc:
            line_plot(
                acc,
                run.figures / "d_accuracy.png",
                title="discriminator accuracy",
                xlabel="step",
                ylabel="accuracy",
                ylim=(0, 1.02),
            )
    for key, label in (
        ("eval/recon_mse", "held-out reconstruction MSE"),
        ("eval/elbo", "held-out ELBO (nats)"),
    ):
        s = series((key,), eval_rows, x="epoch")
        if s:
            line_plot(
                s, run.figures / f"eval_{key.split('/')[1]}.png", title=label, xlabel="epoch", ylabel=label
            )
    write_epochs_gif(run.figures)
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        if model.conditional:
            k = min(model.num_classes, 10)
            z = model.sample_latent(10 * k, gen)
            images, nrow = model.decode(z, torch.arange(10 * k) // 10), k
        else:
            images, nrow = model.decode(model.sample_latent(100, gen)), 10
        save_png(number_cells(snapshot(images, nrow), len(images), nrow), run.figures / "samples.png")
        if getattr(model.config, "codes", 0):
            from latentworks.latent.tools import code_grid

            code_grid(model, cfg.seed, 10, out=run.figures / "codes.png")
        if cfg.model in AUTOENCODERS and len(data.test_x):
            x = data.test_x[:10]
            rec = model.reconstruct(x, data.test_y[:10] if model.conditional else None).cpu()
            save_png(snapshot(torch.cat([x.float() / 255.0, rec]), 2), run.figures / "reconstructions.png")


# ------------------------------------------------------------------------------------------ train
def _check_resume(run: RunDir, model, cfg: GenConfig) -> None:
    if not run.config_path.exists():
        raise LatentworksError(f"{run.root} has no run to resume (config.json missing); drop --resume")
    saved = read_json(run.config_path)
    kind = saved.get("kind")
    if kind != model.kind:
        raise LatentworksError(
            f"{run.root} holds a '{kind}' run, not '{model.kind}'; resume with --model {kind} "
            "or pick another --out"
        )
    old, new = saved.get("model", {}), dataclasses.asdict(model.config)
    diff = [k for k in new if k in old and _norm(old[k]) != _norm(new[k])]
    if diff:
        k = diff[0]
        flag = {"image_size": "size"}.get(k, k).replace("_", "-")
        raise LatentworksError(
            f"{run.root} was trained with --{flag} {old[k]}, not {new[k]}; resume with the same "
            "settings or pick another --out"
        )


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


@torch.enable_grad()  # a caller's torch.set_grad_enabled(False) must not leak into training
def train_generative(cfg: GenConfig, out: str | Path, resume: bool = False) -> dict[str, Any] | None:
    """Train one generative model into run folder ``out``; returns results.json (None on ranks > 0)."""
    cfg.check()
    data = prepare_data(cfg)
    seed_everything(cfg.seed)
    model = build_model(cfg, int(data.train_x.shape[1]), data.num_classes)
    settings = cfg.train_settings()
    tcfg = TrainConfig(
        epochs=cfg.epochs,
        batch_size=settings["batch_size"],
        lr=settings["lr"],
        seed=cfg.seed,
        device=cfg.device,
        threads=cfg.threads,
        progress=cfg.progress,
        schedule=cfg.schedule,
        drop_last=len(data.train_x) >= settings["batch_size"],
    )
    run = RunDir(out, create=False)
    if resume:
        _check_resume(run, model, cfg)
    run_config = {
        "kind": model.kind,
        "generative": dataclasses.asdict(cfg),
        "model": dataclasses.asdict(model.config),
        "data_source": data.source,
    }
    tensors = [data.train_x] + ([data.train_y] if model.conditional else [])
    common = dict(eval_fn=make_eval_fn(cfg, data, run), run_config=run_config)
    if cfg.model in GANS:
        from latentworks.training.gan import make_optimizers, make_step_fn

        optimizers = make_optimizers(model, cfg.scheme(), settings["lr"], (0.5, 0.999), d_lr=cfg.d_lr)
        trainer = Trainer(
            model, tensors, tcfg, out, step_fn=make_step_fn(cfg.scheme()), optimizers=optimizers, **common
        )
    else:
        cond = model.conditional

        def loss_fn(m, batch):
            return m(batch[0], batch[1] if cond else None)

        def batch_fn(batch, gen):
            return (binarized(batch[0], gen), *batch[1:])

        trainer = Trainer(
            model, tensors, tcfg, out, loss_fn=loss_fn, batch_fn=batch_fn if cfg.binarize else None, **common
        )
    trainer.fit(resume=resume)
    if not trainer.is_main:
        return None
    model = trainer.raw_model.eval()
    save_model(
        model,
        trainer.run.root,
        extra={"data": cfg.data, "data_source": data.source, "generative": dataclasses.asdict(cfg)},
    )
    write_figures(trainer.run, cfg, model, trainer.history, data)
    test = heldout_scores(
        model,
        cfg.model,
        data.test_x,
        data.test_y,
        seed=cfg.seed,
        binarize=cfg.binarize,
        iw_k=cfg.iw_k,
        iw_images=cfg.iw_images,
    )
    last = trainer.last_metrics()
    final_train = {
        k: last[k]
        for k in ("loss", "d_loss", "g_loss", "d_acc_real", "d_acc_fake", "elbo", "kl")
        if k in last
    }
    metrics = {
        "test": test,
        "train": {
            "seconds": round(trainer.train_seconds, 2),  # every session of the run
            "examples_per_sec": round(trainer.examples_per_sec, 1),
            "steps": trainer.step,
            "images": len(data.train_x),
            "final": final_train,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "data": {
            "source": data.source,
            "test_images": len(data.test_x),
            "num_classes": data.num_classes,
            "size": cfg.size,
            "channels": int(data.train_x.shape[1]),
        },
    }
    title = f"{cfg.model} on {Path(cfg.data).name} {cfg.size}px · preset {cfg.preset}"
    return trainer.run.write_results(
        kind=f"generative/{cfg.model}",
        config=run_config,
        metrics=metrics,
        seed=cfg.seed,
        extra={"title": title},
    )


__all__ = ["GEN_KINDS", "GenConfig", "build_model", "load_generative", "prepare_data", "train_generative"]
