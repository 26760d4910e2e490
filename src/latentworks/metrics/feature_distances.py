"""Distances between two sets of features (the digit reader's, for generated and real images): FLD (the Fréchet
distance between Gaussians fitted to them) and KID through ``torchmetrics``' FrechetInceptionDistance and
KernelInceptionDistance fed our features, and k-NN precision / recall (Kynkäänniemi et al. 2019, torchmetrics has
none, so ``torch.cdist`` in chunks).

Features are computed once per set and handed to torchmetrics through an identity module (``num_features`` set),
so the same features serve FLD, KID and precision/recall. :class:`FeatureModule` wraps a ``feature_fn`` for anyone
who prefers to feed images to torchmetrics directly; both routes agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from latentworks.errors import LatentworksError

FeatureFn = Callable[[torch.Tensor], torch.Tensor]


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


