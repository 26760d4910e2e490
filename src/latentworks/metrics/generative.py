"""Evaluating MNIST generators with a frozen digit reader.

:func:`evaluate_generator` draws ``n`` samples (default 10,000) and reports, in the reader's feature space:

* the class histogram and mean confidence (``classify_fn``), and its worst class's signed deviation from a
  uniform 1/10 (``class_max_rel_deviation``, the class in ``class_worst_digit``);
* FLD — the Fréchet distance between Gaussians fitted to the reader's penultimate features — computed by
  ``torchmetrics``' ``FrechetInceptionDistance`` with our features, next to the **real floor**: the FLD
  between a sample of MNIST train and MNIST test at the same sizes (what a perfect generator would score);
* KID (``torchmetrics``' ``KernelInceptionDistance``, same features), for the samples and for the floor;
* FLD within each class (``fld_per_class``: test digits of class c against the samples read as c) next to the
  same for real train digits (``fld_per_class_floor``), when the real sets have labels;
* k-NN precision / recall (Kynkäänniemi et al. 2019, k = 3): the share of samples inside the real manifold
  and of real images inside the sample manifold (torchmetrics has none, so ``torch.cdist`` in chunks);
* for conditional models, the reader's agreement with the requested digit over balanced labels;
* for a GAN with an InfoGAN code (``codes`` > 0), how well the unsupervised codes match the reader's classes:
  ``code_purity``, the share of samples whose class is their code's most common class, and that class per code.

The distances between feature sets are :mod:`latentworks.metrics.feature_distances`'; a VAE's likelihood in nats
is :mod:`latentworks.metrics.likelihood`'s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from latentworks.errors import LatentworksError
from latentworks.metrics.feature_distances import FeatureFn, frechet_distance, kernel_distance, knn_precision_recall
from latentworks.models.dcgan import latent_code
from latentworks.models.inference import inference, model_device

ClassifyFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


# ------------------------------------------------------------------ inputs


def _writable(images) -> np.ndarray:
    arr = np.asarray(images)
    return arr if arr.flags.writeable else arr.copy()  # MnistSplit arrays are read-only


def as_images(images) -> torch.Tensor:
    """MnistSplit / uint8 / float arrays → float ``(N, C, H, W)`` in [0, 1] (a 3-D array is taken as grey)."""
    images = getattr(images, "images", images)
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(_writable(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise LatentworksError(f"expected images shaped (N, H, W) or (N, C, H, W), got {tuple(x.shape)}")
    return x


def reader_fns(reader, batch: int = 1000) -> tuple[FeatureFn, ClassifyFn]:
    """Adapter: a trained ``DigitReader`` → (``feature_fn``, ``classify_fn``), eval mode, batched, CPU out."""
    reader.eval()
    device = next(reader.parameters()).device

    @torch.no_grad()
    def feature_fn(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([reader.features(x[s:s + batch].to(device)).float().cpu()
                          for s in range(0, len(x), batch)])

    def classify_fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return reader.predict(x, batch_size=batch)

    return feature_fn, classify_fn


def compute_features(feature_fn: FeatureFn, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([feature_fn(images[s:s + batch]).detach().float().cpu()
                          for s in range(0, len(images), batch)])


def eval_latents(model, n: int, seed: int) -> torch.Tensor:
    """The ``n`` latents ``generate`` decodes for ``seed``, drawn all at once so samples do not depend on the
    batch size (float32, CPU)."""
    return torch.as_tensor(model.sample_latent(n, generator=torch.Generator().manual_seed(int(seed)))).float().cpu()


def generate(model, n: int, seed: int = 0, batch: int = 500, labels: torch.Tensor | None = None):
    """Yield ``(images (b, C, H, W) on CPU, labels or None)`` batches of ``n`` samples from ``seed``.

    Conditional models get balanced labels ``i % num_classes`` unless ``labels`` is given. The samples are the
    same for any ``batch``.
    """
    device = model_device(model)
    conditional = bool(getattr(model, "conditional", False))
    if conditional and labels is None:
        labels = torch.arange(n, dtype=torch.long) % int(model.num_classes)
    with inference(model):
        z_all = eval_latents(model, n, seed)
        for s in range(0, n, batch):
            y = labels[s:s + batch] if conditional else None
            images = model.decode(z_all[s:s + batch].to(device), None if y is None else y.to(device))
            yield images.float().cpu().clamp(0, 1), y


def code_purity(model, predicted: torch.Tensor, n: int, seed: int, codes: int) -> dict[str, Any]:
    """The codes of ``generate``'s samples (same ``eval_latents``) against the reader's classes ``predicted``."""
    code = latent_code(eval_latents(model, n, seed), codes)
    classes = int(predicted.max()) + 1 if len(predicted) else 1
    table = torch.zeros(codes, classes, dtype=torch.long)
    table.index_put_((code, predicted.long().cpu()), torch.ones_like(code), accumulate=True)
    return {"code_purity": float(table.max(1).values.sum()) / max(n, 1),
            "code_classes": table.argmax(1).tolist(), "code_class_counts": table.tolist()}


def per_class_fld(real_features: torch.Tensor, real_labels: torch.Tensor, other_features: torch.Tensor,
                  other_classes: torch.Tensor, num_classes: int, min_samples: int = 50) -> list[float | None]:
    """FLD within each class: real images of class c against the others the reader reads as c (None when
    either side has fewer than ``min_samples``). Shows which digits a generator draws worst."""
    out: list[float | None] = []
    for c in range(num_classes):
        real_c, other_c = real_features[real_labels == c], other_features[other_classes.cpu() == c]
        out.append(frechet_distance(real_c, other_c) if min(len(real_c), len(other_c)) >= min_samples else None)
    return out


def class_histogram(predicted: torch.Tensor, num_classes: int = 10) -> list[int]:
    return torch.bincount(predicted.long().cpu(), minlength=num_classes)[:num_classes].tolist()


def class_balance(hist: list[int]) -> dict[str, Any]:
    """The class furthest from a uniform share, signed: ``(count − n/C) / (n/C)``, with the class it is.

    Signed so that a dropped class (−100 %) and a class drawn five times too often (+400 %) are told apart; the
    first of equally distant classes is named."""
    n = sum(hist)
    if not hist or n <= 0:
        raise LatentworksError("class balance needs at least one sample")
    expected = n / len(hist)
    worst = max(range(len(hist)), key=lambda c: abs(hist[c] - expected))  # max keeps the first of a tie
    return {"class_max_rel_deviation": (hist[worst] - expected) / expected, "class_worst_digit": worst,
            "class_worst_count": int(hist[worst])}


def _subset(x: torch.Tensor, m: int, seed: int) -> torch.Tensor:
    if m >= len(x):
        return x
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:m]
    return x[idx.sort().values]


def evaluate_generator(model, feature_fn: FeatureFn, classify_fn: ClassifyFn | None, real_train, real_test,
                       n: int = 10000, seed: int = 0, batch: int = 500, k: int = 3,
                       kid: bool = True) -> dict[str, Any]:
    """Score ``n`` samples of ``model`` against real images; see the module docstring for the measures.

    ``real_train`` / ``real_test`` are MnistSplit objects or image arrays; without a ``classify_fn`` (faces) the
    measures of classes are left out. The sample FLD is measured against
    ``min(n, len(test))`` test images; the floor compares ``min(n, len(train))`` train images with the same
    test images, and ``fld_ratio`` divides the sample FLD at the floor's sample size by the floor.
    """
    if n < 10:
        raise LatentworksError(f"--n must be at least 10 samples, got {n}")
    started = time.perf_counter()
    test_labels = getattr(real_test, "labels", None)
    train_x, test_x = as_images(real_train), as_images(real_test)
    shape = (int(model.config.channels), int(model.config.image_size), int(model.config.image_size))
    if tuple(test_x.shape[1:]) != shape or tuple(train_x.shape[1:]) != shape:
        raise LatentworksError(f"the model makes {'×'.join(map(str, shape))} images but the real images "
                               f"are {'×'.join(map(str, test_x.shape[1:]))}; evaluate on its training data")
    n_test, n_train = min(n, len(test_x)), min(n, len(train_x))
    test_idx = torch.arange(len(test_x))
    if n_test < len(test_x):
        test_idx = _subset(test_idx, n_test, seed + 1)
    test_x = test_x[test_idx]
    train_idx = _subset(torch.arange(len(train_x)), n_train, seed + 2)
    train_x = train_x[train_idx]

    t0 = time.perf_counter()
    fake_feats, preds, confs, requested = [], [], [], []
    for images, y in generate(model, n, seed, batch):
        fake_feats.append(compute_features(feature_fn, images, batch))
        if classify_fn is None:
            continue
        p, c = classify_fn(images)
        preds.append(torch.as_tensor(p).long().cpu())
        confs.append(torch.as_tensor(c).float().cpu())
        if y is not None:
            requested.append(y)
    fake_f = torch.cat(fake_feats)
    gen_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    test_f = compute_features(feature_fn, test_x, batch)
    train_f = compute_features(feature_fn, train_x, batch)
    real_seconds = time.perf_counter() - t0

    out: dict[str, Any] = {
        "kind": str(getattr(model, "kind", type(model).__name__)),
        "n": n, "seed": seed, "n_test": n_test, "n_train_floor": n_train,
    }
    if classify_fn is not None:
        pred, conf = torch.cat(preds), torch.cat(confs)
        num_classes = int(getattr(model, "num_classes", 10) or 10)
        hist = class_histogram(pred, max(num_classes, int(pred.max()) + 1 if len(pred) else 10))
        out.update(class_histogram=hist, **class_balance(hist), mean_confidence=float(conf.mean()))

    t0 = time.perf_counter()
    out["fld"] = frechet_distance(test_f, fake_f)
    out["fld_vs_train"] = frechet_distance(train_f, fake_f)
    out["fld_floor"] = frechet_distance(train_f, test_f)
    fld_matched = out["fld"] if n_train == n else frechet_distance(test_f, fake_f[:n_train])
    out["fld_at_floor_size"] = fld_matched
    out["fld_ratio"] = fld_matched / out["fld_floor"] if out["fld_floor"] > 0 else math.inf
    if kid:
        out["kid_mean"], out["kid_std"] = kernel_distance(test_f, fake_f, seed=seed)
        out["kid_floor_mean"], out["kid_floor_std"] = kernel_distance(test_f, train_f, seed=seed)
    pr = knn_precision_recall(test_f, fake_f, k=k)
    floor_pr = knn_precision_recall(test_f, train_f, k=k)
    out.update(precision=pr["precision"], recall=pr["recall"], pr_k=k,
               precision_floor=floor_pr["precision"], recall_floor=floor_pr["recall"])
    metric_seconds = time.perf_counter() - t0

    if requested:
        req = torch.cat(requested)
        hit = (pred == req).float()
        out["conditional_accuracy"] = float(hit.mean())
        out["conditional_accuracy_per_class"] = [
            float(hit[req == c].mean()) if bool((req == c).any()) else None for c in range(num_classes)
        ]
    codes = int(getattr(model.config, "codes", 0) or 0)
    if codes and classify_fn is not None:
        out.update(code_purity(model, pred, n, seed, codes))
    if test_labels is not None and classify_fn is not None:
        p_real, _ = classify_fn(test_x)
        lab = torch.from_numpy(_writable(test_labels)).long()[test_idx]
        out["reader_test_accuracy"] = float((torch.as_tensor(p_real).cpu() == lab).float().mean())
        train_labels = getattr(real_train, "labels", None)
        if train_labels is not None:
            train_lab = torch.from_numpy(_writable(train_labels)).long()[train_idx]
            out["fld_per_class"] = per_class_fld(test_f, lab, fake_f, pred, num_classes)
            out["fld_per_class_floor"] = per_class_fld(test_f, lab, train_f, train_lab, num_classes)
    out["seconds"] = {"generate_and_read": gen_seconds, "real_features": real_seconds,
                      "metrics": metric_seconds, "total": time.perf_counter() - started}
    return out
