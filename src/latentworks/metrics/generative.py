"""Evaluating MNIST generators with a frozen digit reader, and a VAE's likelihood in nats.

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

Features are computed once per set and handed to torchmetrics through an identity module (``num_features``
set), so the same features serve FLD, KID and precision/recall. :class:`FeatureModule` wraps a
``feature_fn`` for anyone who prefers to feed images to torchmetrics directly; both routes agree.

:func:`vae_likelihood` scores a VAE on dynamically binarised test images (each pixel a Bernoulli draw with its
intensity as probability, fixed seed): the negative ELBO and the importance-weighted NLL with ``k`` samples,
chunked over images and over ``k`` (chunks combine exactly through log-sum-exp), in nats per image.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from latentworks.errors import LatentworksError
from latentworks.models.dcgan import latent_code
from latentworks.models.inference import inference, model_device

FeatureFn = Callable[[torch.Tensor], torch.Tensor]
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


class FeatureModule(nn.Module):
    """A ``feature_fn`` as the ``nn.Module`` torchmetrics' FID/KID accept (``num_features`` skips their dummy
    forward pass, which would otherwise push a random 3×299×299 image through our 28×28 reader)."""

    def __init__(self, feature_fn: FeatureFn, num_features: int):
        super().__init__()
        self.feature_fn = feature_fn
        self.num_features = int(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_fn(x)


class _Precomputed(nn.Module):
    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def compute_features(feature_fn: FeatureFn, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([feature_fn(images[s:s + batch]).detach().float().cpu()
                          for s in range(0, len(images), batch)])


# ------------------------------------------------------------------ distances on features


def frechet_distance(real_features: torch.Tensor, fake_features: torch.Tensor, chunk: int = 5000) -> float:
    """FLD/FID between two feature sets (N, F), via torchmetrics' FrechetInceptionDistance (float64 state)."""
    # why here: torchmetrics takes seconds to import; only a scoring pass pays for it, not every training
    from torchmetrics.image.fid import FrechetInceptionDistance

    if len(real_features) < 2 or len(fake_features) < 2:
        raise LatentworksError("the Fréchet distance needs at least 2 samples on each side")
    metric = FrechetInceptionDistance(feature=_Precomputed(real_features.shape[1]), normalize=True)
    for feats, real in ((real_features, True), (fake_features, False)):
        for s in range(0, len(feats), chunk):
            metric.update(feats[s:s + chunk].double(), real=real)
    # eigvals-based sqrtm: identical sets give ±1e-6 rather than 0; never report a negative distance.
    return max(float(metric.compute()), 0.0)


def kernel_distance(real_features: torch.Tensor, fake_features: torch.Tensor, subsets: int = 50,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over subsets) via torchmetrics; its subsets use the global RNG: forked and seeded."""
    # why here: as in frechet_distance, torchmetrics only when a score is asked for
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real_features), len(fake_features))
    if size < 2:
        raise LatentworksError("KID needs at least 2 samples on each side")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features in buffer"
        metric = KernelInceptionDistance(feature=_Precomputed(real_features.shape[1]), subsets=subsets,
                                         subset_size=size, normalize=True)
    metric.update(real_features.double(), real=True)
    metric.update(fake_features.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _kth_nn_radius(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    radii = []
    for s in range(0, len(x), chunk):
        d = torch.cdist(x[s:s + chunk], x)
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, k])  # column 0 is the point itself
    return torch.cat(radii)


def _covered(query: torch.Tensor, ref: torch.Tensor, ref_radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """For each query row: is it within the k-NN ball of at least one ``ref`` row?"""
    inside = []
    for s in range(0, len(query), chunk):
        d = torch.cdist(query[s:s + chunk], ref)
        inside.append((d <= ref_radii[None, :]).any(dim=1))
    return torch.cat(inside)


def knn_precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3,
                         chunk: int = 1000) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): manifolds as unions of k-NN balls."""
    real, fake = real_features.float(), fake_features.float()
    if min(len(real), len(fake)) <= k:
        raise LatentworksError(f"precision/recall with k={k} needs more than {k} samples on each side")
    r_real, r_fake = _kth_nn_radius(real, k, chunk), _kth_nn_radius(fake, k, chunk)
    precision = _covered(fake, real, r_real, chunk).float().mean()
    recall = _covered(real, fake, r_fake, chunk).float().mean()
    return {"precision": float(precision), "recall": float(recall), "k": k}


# ------------------------------------------------------------------ generation


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


def evaluate_generator(model, feature_fn: FeatureFn, classify_fn: ClassifyFn, real_train, real_test,
                       n: int = 10000, seed: int = 0, batch: int = 500, k: int = 3,
                       kid: bool = True) -> dict[str, Any]:
    """Score ``n`` samples of ``model`` against real images; see the module docstring for the measures.

    ``real_train`` / ``real_test`` are MnistSplit objects or image arrays. The sample FLD is measured against
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
        p, c = classify_fn(images)
        preds.append(torch.as_tensor(p).long().cpu())
        confs.append(torch.as_tensor(c).float().cpu())
        if y is not None:
            requested.append(y)
    fake_f = torch.cat(fake_feats)
    pred, conf = torch.cat(preds), torch.cat(confs)
    gen_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    test_f = compute_features(feature_fn, test_x, batch)
    train_f = compute_features(feature_fn, train_x, batch)
    real_seconds = time.perf_counter() - t0

    num_classes = int(getattr(model, "num_classes", 10) or 10)
    hist = class_histogram(pred, max(num_classes, int(pred.max()) + 1 if len(pred) else 10))
    out: dict[str, Any] = {
        "kind": str(getattr(model, "kind", type(model).__name__)),
        "n": n, "seed": seed, "n_test": n_test, "n_train_floor": n_train,
        "class_histogram": hist, **class_balance(hist),
        "mean_confidence": float(conf.mean()),
    }

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
    if codes:
        out.update(code_purity(model, pred, n, seed, codes))
    if test_labels is not None:
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


# ------------------------------------------------------------------ VAE likelihood


def binarize(images, seed: int = 0) -> torch.Tensor:
    """Dynamic binarisation: each pixel ~ Bernoulli(intensity), from a fixed-seed CPU generator."""
    x = as_images(images)
    return torch.bernoulli(x, generator=torch.Generator().manual_seed(int(seed)))


def combine_iw_chunks(chunk_nll: torch.Tensor, chunk_k: torch.Tensor) -> torch.Tensor:
    """Exact IW NLL over all samples from per-chunk IW NLLs: −log Σ_c (k_c/k) exp(−NLL_c).

    ``chunk_nll`` is (C, B) (chunk × image), ``chunk_k`` the (C,) sample counts.
    """
    log_k = torch.log(chunk_k.double())[:, None]
    return -(torch.logsumexp(-chunk_nll.double() + log_k, dim=0) - math.log(float(chunk_k.sum())))


def _decoder_likelihood(model) -> str | None:
    cfg = getattr(model, "config", None)
    for name in ("likelihood", "decoder_likelihood", "decoder", "recon_loss", "reconstruction", "loss"):
        value = getattr(cfg, name, None)
        if isinstance(value, str):
            return value.lower()
    return None


def vae_likelihood(model, test_images, k: int = 5000, n: int | None = None, seed: int = 0,
                   batch: int = 500, budget: int = 20000) -> dict[str, Any]:
    """Test negative ELBO and IW NLL (``k`` importance samples), in nats per image, on binarised images.

    At most ``budget`` decoder passes run per call (``k`` split into chunks, images in small batches).
    ``n`` scores a random subset of that many test images, drawn with ``seed`` (default: all of them; the
    first images of a split are not a fair sample). The model's sampling uses the global RNG, which is forked
    and seeded with ``seed`` so the numbers repeat.
    """
    if not callable(getattr(model, "iw_nll", None)) or not callable(getattr(model, "elbo", None)):
        raise LatentworksError(f"a {getattr(model, 'kind', type(model).__name__)} model has no likelihood; "
                               "ELBO / IW NLL need a VAE run")
    if k < 1:
        raise LatentworksError(f"--k must be at least 1, got {k}")
    x = as_images(test_images)
    if n is not None and n < len(x):
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n].sort().values]
    if len(x) == 0:
        raise LatentworksError("no test images to score")
    xb = binarize(x, seed)
    device = next(model.parameters()).device
    kc = min(k, budget)
    chunks = [kc] * (k // kc) + ([k % kc] if k % kc else [])
    img_batch = max(1, budget // kc)
    started = time.perf_counter()
    neg_elbo, nll = [], []
    cuda = [torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), inference(model):
        torch.manual_seed(seed)
        for s in range(0, len(xb), batch):
            e = torch.as_tensor(model.elbo(xb[s:s + batch].to(device), k=1)).double().cpu()
            neg_elbo.append(e)
        for s in range(0, len(xb), img_batch):
            part = xb[s:s + img_batch].to(device)
            per_chunk = torch.stack([torch.as_tensor(model.iw_nll(part, c)).double().cpu() for c in chunks])
            nll.append(per_chunk)
    e = torch.cat(neg_elbo)
    # For binary x the ELBO is ≤ log p(x) ≤ 0, so a negative mean means the model returned the ELBO itself.
    e = -e if float(e.mean()) < 0 else e
    raw = torch.cat(nll, dim=1)
    raw = -raw if float(raw.mean()) < 0 else raw  # a log-likelihood instead of an NLL
    iw = combine_iw_chunks(raw, torch.tensor(chunks))
    m = len(xb)
    likelihood = _decoder_likelihood(model)
    gaussian = likelihood is not None and any(w in likelihood for w in ("mse", "gauss", "normal"))
    return {
        "n": m, "k": k, "seed": seed,
        "neg_elbo_nats": float(e.mean()), "neg_elbo_se": float(e.std() / math.sqrt(m)) if m > 1 else 0.0,
        "iw_nll_nats": float(iw.mean()), "iw_nll_se": float(iw.std() / math.sqrt(m)) if m > 1 else 0.0,
        # −ELBO − IW-NLL per image varies far less than either, so −ELBO on every image minus this gap
        # estimates the whole split's IW-NLL from a subset with a small error.
        "iw_gap_nats": float((e - iw).mean()), "iw_gap_se": float((e - iw).std() / math.sqrt(m)) if m > 1 else 0.0,
        "binarisation": f"dynamic: Bernoulli(pixel intensity), torch generator seed {seed}",
        "decoder": likelihood,
        "comparable_with_pythae": not gaussian,
        "seconds": time.perf_counter() - started,
    }
