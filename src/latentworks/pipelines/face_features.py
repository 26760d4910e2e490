"""The face feature network: training it on the real CelebA train split, its held-out check, and finding the
packaged weights (``assets/face_features``) that ``gen eval`` scores face runs with.

The split is the one every face run uses (``load_image_dataset(folder, split=...)``: 10 % held out with
``holdout_indices``' fixed seed), so the network never sees a face a run is scored against. The held-out check
reads held-out faces only.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from latentworks.data.images import load_image_dataset
from latentworks.errors import LatentworksError
from latentworks.metrics.feature_distances import frechet_distance
from latentworks.models.face_features import FACE_SIZE, FaceFeatures, gaussian_blur, random_view
from latentworks.models.io import load_model, read_model_info, save_model
from latentworks.runs import environment, write_json

PACKAGED_FACE_FEATURES = Path(__file__).resolve().parent.parent / "assets" / "face_features"
HOLDOUT = 0.1  # ImageData.holdout's default: the share of a face folder every face run holds out
BLUR_SIGMAS = (0.5, 1.0, 2.0)  # pixels, at 64×64
NOISE_SIGMAS = (0.05, 0.1, 0.3)  # additive Gaussian noise on [0, 1] pixels; 0.3 is "heavily noised"


def _cosine_lr(step: int, steps: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1)))


def train_face_features(folder: str | Path, out: str | Path, *, epochs: int = 8, batch: int = 256,
                        lr: float = 2e-3, seed: int = 0, config: FaceFeatures.Config | None = None,
                        check_faces: int = 1000, command: str = "", progress: bool = True) -> dict[str, Any]:
    """Train :class:`FaceFeatures` (SimCLR) on the train split of ``folder``, run :func:`heldout_check` and write
    the weights, ``model.json`` and ``README.json`` to ``out``; returns the README's contents."""
    torch.manual_seed(seed)
    train, _, source = load_image_dataset(folder, FACE_SIZE, 3, split="train", holdout=HOLDOUT, progress=progress,
                                          quiet=True)
    if len(train) < 2 * batch:
        batch = max(2, len(train) // 2)  # a tiny folder (the tests) still gets two steps per epoch
    model = FaceFeatures(config).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-6)
    per_epoch = len(train) // batch
    steps = epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine_lr(s, steps, max(1, steps // 20)))
    gen = torch.Generator().manual_seed(seed)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    curve = []
    for epoch in range(epochs):
        order = torch.randperm(len(train), generator=gen)
        losses, hits = [], []
        for s in range(per_epoch):
            faces = train[order[s * batch:(s + 1) * batch]].float() / 255.0
            loss, hit = model.contrastive_loss(random_view(faces, gen), random_view(faces, gen))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            hits.append(hit)
        curve.append({"epoch": epoch + 1, "loss": sum(losses) / len(losses), "view_match": sum(hits) / len(hits),
                      "seconds": round(time.perf_counter() - wall0, 1)})
        if progress:
            c = curve[-1]
            print(f"face features epoch {c['epoch']}/{epochs}: NT-Xent {c['loss']:.3f}, positive found "
                  f"{c['view_match']:.1%} in the batch, {c['seconds']:.0f} s", file=sys.stderr)
    cpu_seconds, wall_seconds = time.process_time() - cpu0, time.perf_counter() - wall0
    model.eval()
    check = heldout_check(model, folder, n=check_faces, seed=seed)
    readme = {
        "what": "latentworks face feature network v1: a small CNN embedding 64×64 RGB faces, the feature space "
                "face runs are scored in (FLD beside its real floor, precision / recall)",
        "objective": "SimCLR, self-supervised: NT-Xent (temperature "
                     f"{model.config.temperature}) between two augmented views of each real face (random resized "
                     "crop 30-100 % of the area, mirror, brightness/contrast/saturation jitter ±40 %, greyscale "
                     "20 %; no blur); no labels, no generated images",
        "data": source, "split": f"train split only: load_image_dataset(folder, split='train', holdout={HOLDOUT}) "
                                 "(holdout_indices, seed 0), the split every face run holds out; "
                                 f"{len(train):,} faces",
        "epochs": epochs, "batch": batch, "lr": lr, "seed": seed, "threads": torch.get_num_threads(),
        "train_seconds": round(wall_seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "curve": curve, "heldout_check": check, "trained_with": command,
        "environment": environment(), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
    }
    save_model(model, out)
    write_json(Path(out) / "README.json", readme)
    return readme


@torch.no_grad()
def heldout_check(model: FaceFeatures, folder: str | Path, n: int = 1000, seed: int = 0) -> dict[str, Any]:
    """What the network sees on held-out faces only: ``view_match_top1``, the share of ``n`` held-out faces whose
    augmented view is nearest (cosine) to its own original among all ``n``; and the FLD between ``n`` train faces
    and the held-out faces as they are (the floor), blurred and noised (``ordered``: floor < blur σ=1 < noise
    σ=0.3, and each ladder rising)."""
    test, _, _ = load_image_dataset(folder, FACE_SIZE, 3, split="test", holdout=HOLDOUT, progress=False, quiet=True)
    train, _, _ = load_image_dataset(folder, FACE_SIZE, 3, split="train", holdout=HOLDOUT, progress=False,
                                     quiet=True)
    gen = torch.Generator().manual_seed(seed + 1)
    test = test[:n].float() / 255.0
    train = train[torch.randperm(len(train), generator=gen)[:len(test)]].float() / 255.0
    views = random_view(test, gen)
    a = torch.nn.functional.normalize(model.embed_images(test), dim=1)
    b = torch.nn.functional.normalize(model.embed_images(views), dim=1)
    top1 = float(((b @ a.T).argmax(1) == torch.arange(len(a))).float().mean())
    ref = model.embed_images(train)

    def fld(images: torch.Tensor) -> float:
        return frechet_distance(ref, model.embed_images(images.clamp(0, 1)))

    floor = fld(test)
    blur = {str(s): fld(gaussian_blur(test, s)) for s in BLUR_SIGMAS}
    noise = {str(s): fld(test + s * torch.randn(test.shape, generator=gen)) for s in NOISE_SIGMAS}
    ladders = all(x < y for ladder in (blur, noise) for x, y in zip(list(ladder.values()), list(ladder.values())[1:]))
    return {"n": len(test), "view_match_top1": top1, "fld_floor": floor, "fld_blur": blur, "fld_noise": noise,
            "ordered": bool(floor < blur["1.0"] < noise["0.3"] and ladders)}


def _is_face_dir(folder: Path) -> bool:
    if not (folder / "model.safetensors").exists():
        return False
    try:
        return read_model_info(folder).get("kind") == "face_features"
    except LatentworksError:
        return False


def load_face_features(path: str | Path | None = None, device: str = "cpu") -> FaceFeatures:
    """The face feature network in ``path`` (default: the packaged one), eval mode, ``.run_dir`` set."""
    folder = Path(path) if path is not None else PACKAGED_FACE_FEATURES
    if not _is_face_dir(folder):
        raise LatentworksError(f"no face feature network in {folder}; train one with "
                               "python benchmarks/face_features.py")
    model = load_model(folder, expect="face_features", map_location=device)
    model.run_dir = folder  # type: ignore[attr-defined]
    return model  # type: ignore[return-value]


__all__ = ["HOLDOUT", "PACKAGED_FACE_FEATURES", "heldout_check", "load_face_features", "train_face_features"]
