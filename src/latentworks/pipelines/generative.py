"""Generative models end to end: data, model, the one trainer, per-epoch snapshots, held-out scores, figures.

``train_generative(recipe("default", kind="vae"), "runs/vae")`` writes a run folder with
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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks import registry
from latentworks.config import to_dict, validate
from latentworks.data.images import load_image_dataset
from latentworks.errors import LatentworksError
from latentworks.folder_lock import owns_run_dirs
from latentworks.models.builders import check_bf16
from latentworks.models.inference import inference
from latentworks.models.io import load_model, save_model
from latentworks.recipes.generative import KINDS, MODELS, RunConfig, resolve
from latentworks.report.pictures import number_cells, save_png, snapshot, write_gif
from latentworks.runs import RunDir, claim_run_dir
from latentworks.training.distributed import detect
from latentworks.training.trainer import Trainer, pick_device, seed_everything

GEN_KINDS = KINDS


def load_generative(
    folder: str | Path, expect: str | tuple[str, ...] | None = None, map_location: str = "cpu"
) -> torch.nn.Module:
    """A trained generative model from its run folder; refuses other kinds with a one-line error."""
    return load_model(folder, expect=expect or GEN_KINDS, map_location=map_location)


def build_model(cfg: RunConfig) -> torch.nn.Module:
    """The model of a resolved run config (see :func:`latentworks.recipes.generative.resolve`)."""
    return MODELS[cfg.kind](cfg.model)


# ------------------------------------------------------------------------------------------ data
@dataclass
class GenData:
    train_x: torch.Tensor
    train_y: torch.Tensor | None
    test_x: torch.Tensor
    test_y: torch.Tensor | None
    num_classes: int
    source: str


def prepare_data(cfg: RunConfig) -> GenData:
    d = cfg.data
    common = dict(data_dir=d.data_dir, holdout=d.holdout, background=d.background, progress=cfg.train.progress)
    train_x, train_y, source = load_image_dataset(d.data, d.size, d.channels, split="train", **common)
    test_x, test_y, _ = load_image_dataset(d.data, d.size, d.channels, split="test", quiet=True, **common)
    if d.limit is not None and d.limit < len(train_x):
        pick = torch.from_numpy(np.sort(np.random.default_rng(0).permutation(len(train_x))[: d.limit]))
        train_x = train_x[pick]
        train_y = train_y[pick] if train_y is not None else None
    num_classes = 0
    if train_y is not None:
        num_classes = int(max(train_y.max(), test_y.max() if test_y is not None and len(test_y) else 0)) + 1
    if registry.kind(cfg.kind).can("label") and num_classes < 2:
        raise LatentworksError(
            f"the {cfg.kind} model needs class labels: use mnist, fashion-mnist, or a folder "
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


def snapshot_inputs(model, seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Fixed latents (and labels) for the per-epoch grids: (z, labels, rows)."""
    gen = torch.Generator().manual_seed(seed + 10_007)
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
    can = registry.kind(kind).can
    if not can("encode") or len(x) == 0:
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
            if can("elbo"):
                elbo.append(model.elbo(xb, 1, yb, generator=gen).cpu())
        if iw_k and can("elbo"):
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
    from latentworks.models.gan_updates import frozen

    d, was_training = model.discriminator, model.discriminator.training
    d.train()
    with frozen(d):
        logits = model.discriminate(x, y if model.conditional else None)
    d.train(was_training)
    return float((logits > 0).float().mean())


def make_eval_fn(cfg: RunConfig, data: GenData, run: RunDir, trainer_ref: list):
    n, seed, images = cfg.eval.snapshot_grid, cfg.train.seed, cfg.eval.eval_images
    x_eval = data.test_x[:images]
    y_eval = data.test_y[:images] if data.test_y is not None else None

    def fn(model, epoch) -> dict[str, float]:
        z, labels, rows = snapshot_inputs(model, seed, n)
        decoded = model.decode(z, labels)
        save_png(snapshot(decoded, rows), run.figures / f"epoch_{int(round(epoch)):03d}.png")
        if trainer_ref:
            trainer_ref[0].log_images("samples", decoded[: n * n])
        metrics = heldout_scores(model, cfg.kind, x_eval, y_eval, seed=seed, binarize=cfg.data.binarize)
        if registry.kind(cfg.kind).can("adversarial") and len(x_eval):
            metrics["d_acc_heldout_real"] = heldout_d_accuracy(model, x_eval, y_eval)
        return metrics

    return fn


def write_figures(run: RunDir, cfg: RunConfig, model, history: list[dict[str, Any]], data: GenData) -> None:
    from latentworks.report.names import label
    from latentworks.report.plots import line_plot

    def series(keys, rows, x="step"):
        return {
            label(k): ([r[x] for r in rows if r.get(k) is not None], [r[k] for r in rows if r.get(k) is not None])
            for k in keys
            if any(r.get(k) is not None for r in rows)
        }

    train_rows = [r for r in history if "loss" in r or "d_loss" in r]
    eval_rows = [r for r in history if any(k.startswith("eval/") for k in r)]
    adversarial = registry.kind(cfg.kind).can("adversarial")
    losses = series(("d_loss", "g_loss") if adversarial else ("loss",), train_rows)
    if losses:
        line_plot(
            losses, run.figures / "loss.png", title=f"{cfg.kind} training loss", xlabel="step", ylabel="loss"
        )
    if adversarial:
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
    for key in ("eval/recon_mse", "eval/elbo"):
        s = series((key,), eval_rows, x="epoch")
        if s:
            line_plot(s, run.figures / f"eval_{key.split('/')[1]}.png", title=label(key), xlabel="epoch",
                      ylabel=label(key))
    write_epochs_gif(run.figures)
    gen = torch.Generator().manual_seed(cfg.train.seed)
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

            code_grid(model, cfg.train.seed, 10, out=run.figures / "codes.png")
        if registry.kind(cfg.kind).can("reconstruct") and len(data.test_x):
            x = data.test_x[:10]
            rec = model.reconstruct(x, data.test_y[:10] if model.conditional else None).cpu()
            from latentworks.report.pictures import tile
            from latentworks.report.plots import image_rows

            image_rows([tile(x.float() / 255.0, 1), tile(rec, 1)], ["held-out\ninput", "reconstruction"],
                       run.figures / "reconstructions.png", title="held-out test images and their reconstructions")


# ------------------------------------------------------------------------------------------ train
def binarize_transform(batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Dynamic binarisation: a fresh Bernoulli draw of the batch's images at every step."""
    return (binarized(batch[0], gen), *batch[1:])


@owns_run_dirs
@torch.enable_grad()  # a caller's torch.set_grad_enabled(False) must not leak into training
def train_generative(cfg: RunConfig, out: str | Path, resume: bool = False,
                     overwrite: bool = False) -> dict[str, Any] | None:
    """Train one generative model into run folder ``out``; returns results.json (None on ranks > 0)."""
    validate(cfg)
    if detect().is_main:
        claim_run_dir(out, resume=resume, overwrite=overwrite)
    data = prepare_data(cfg)
    cfg = validate(resolve(cfg, int(data.train_x.shape[1]), data.num_classes))
    if cfg.model.bf16:
        check_bf16(pick_device(cfg.train.device))
    seed_everything(cfg.train.seed, cfg.train.threads)
    model = build_model(cfg)
    run = RunDir(out, create=False)
    run_config = {"family": cfg.family, **to_dict(cfg)}
    tensors = [data.train_x] + ([data.train_y] if model.conditional else [])
    trainer_ref: list[Trainer] = []
    trainer = Trainer(model, tensors, cfg.train, out, transform=binarize_transform if cfg.data.binarize else None,
                      eval_fn=make_eval_fn(cfg, data, run, trainer_ref), run_config=run_config)
    trainer_ref.append(trainer)
    trainer.fit(resume=resume)
    if not trainer.is_main:
        return None
    model = trainer.raw_model.eval()
    model.after_training(data.train_x)
    save_model(model, trainer.run.root, extra={"data": cfg.data.data, "data_source": data.source})
    write_figures(trainer.run, cfg, model, trainer.history, data)
    test = heldout_scores(model, cfg.kind, data.test_x, data.test_y, seed=cfg.train.seed,
                          binarize=cfg.data.binarize, iw_k=cfg.eval.iw_k, iw_images=cfg.eval.iw_images)
    last = trainer.last_metrics()
    final_train = {k: last[k] for k in ("loss", "d_loss", "g_loss", "d_acc_real", "d_acc_fake", "elbo", "kl")
                   if k in last}
    metrics = {
        "test": test,
        "train": {
            "seconds": round(trainer.train_seconds, 2),  # every session of the run
            "examples_per_sec": round(trainer.examples_per_sec, 1),
            "steps": trainer.step,
            "resumed_at_step": trainer.resumed_at,
            "images": len(data.train_x),
            "final": final_train,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "data": {
            "source": data.source,
            "test_images": len(data.test_x),
            "num_classes": data.num_classes,
            "size": cfg.data.size,
            "channels": int(data.train_x.shape[1]),
        },
    }
    return trainer.run.write_results(kind=f"generative/{cfg.kind}", config=run_config, metrics=metrics,
                                     seed=cfg.train.seed, extra={"title": cfg.title}, runtime=trainer.runtime)


__all__ = ["GEN_KINDS", "build_model", "load_generative", "prepare_data", "train_generative"]
