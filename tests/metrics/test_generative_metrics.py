import math

import numpy as np
import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.latent.testing import ToyVAE
from latentworks.metrics import feature_distances as D
from latentworks.metrics import generative as G
from latentworks.metrics import likelihood as L
from latentworks.models.generative_base import sample_normal


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def feats(n, dim=16, seed=0, shift=0.0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) + shift


# ------------------------------------------------------------------ distances


def test_fld_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    a = feats(600)
    assert D.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    d = [D.frechet_distance(a, feats(600, seed=1, shift=s)) for s in (0.0, 0.3, 1.0)]
    assert d[0] < d[1] < d[2]
    # a mean shift s in every one of 16 dims adds 16·s² to the distance
    assert d[2] - d[0] == pytest.approx(16 * 1.0, rel=0.15)


def test_torchmetrics_on_images_through_feature_module_matches_precomputed_features():
    from torchmetrics.image.fid import FrechetInceptionDistance

    proj = torch.randn(64, 8, generator=torch.Generator().manual_seed(3))

    def feature_fn(x):
        return torch.tanh(x.flatten(1) @ proj)

    x, y = torch.rand(300, 1, 8, 8), torch.rand(300, 1, 8, 8) ** 2
    metric = FrechetInceptionDistance(feature=D.FeatureModule(feature_fn, 8), normalize=True)
    metric.update(x, real=True)
    metric.update(y, real=False)
    direct = float(metric.compute())
    assert direct > 0.01
    assert D.frechet_distance(feature_fn(x), feature_fn(y)) == pytest.approx(direct, rel=1e-4)


def test_precision_recall_is_one_for_identical_sets_and_zero_for_disjoint():
    a = feats(300)
    assert D.knn_precision_recall(a, a.clone()) == {"precision": 1.0, "recall": 1.0, "k": 3}
    far = D.knn_precision_recall(a, feats(300, seed=1, shift=50.0), chunk=64)
    assert far["precision"] == 0.0 and far["recall"] == 0.0
    # samples collapsed onto one real point: precise but no recall
    collapsed = a[:1].repeat(300, 1) + 1e-3 * feats(300, seed=2)
    pr = D.knn_precision_recall(a, collapsed)
    assert pr["precision"] == 1.0 and pr["recall"] < 0.05
    with pytest.raises(LatentworksError):
        D.knn_precision_recall(a[:3], a[:3])


def test_kid_is_small_for_one_distribution_and_deterministic():
    a, b = feats(400), feats(400, seed=1)
    same = D.kernel_distance(a, b, subsets=10, subset_size=200)
    shifted = D.kernel_distance(a, feats(400, seed=1, shift=1.0), subsets=10, subset_size=200)
    assert abs(same[0]) < shifted[0]
    assert D.kernel_distance(a, b, subsets=10, subset_size=200) == same


# ------------------------------------------------------------------ evaluate_generator


class Painter(torch.nn.Module):
    """Draws digit ``y`` as an image of constant brightness (y + 0.5) / 10, plus small z-dependent noise."""

    kind = "painter"

    class Config:
        latent_dim, image_size, channels = 3, 8, 1

    def __init__(self, conditional=True):
        super().__init__()
        self.config, self.conditional, self.num_classes = Painter.Config(), conditional, 10
        self.w = torch.nn.Parameter(torch.zeros(1))

    def sample_latent(self, n, generator=None, truncate=None, scale=1.0):
        return sample_normal(n, 3, generator, truncate, scale)

    def decode(self, z, labels=None):
        if labels is None:
            labels = (z[:, 0].abs() * 10).long() % 10
        base = (labels.float() + 0.5) / 10
        return (base[:, None, None, None] + 0.01 * z[:, 1, None, None, None]).expand(-1, 1, 8, 8).clamp(0, 1)


def brightness_reader(x):
    m = x.flatten(1).mean(1)
    return (m * 10).floor().long().clamp(0, 9), torch.ones(len(x))


def brightness_features(x):
    return torch.stack([x.flatten(1).mean(1), x.flatten(1).std(1)], dim=1)


def test_evaluate_generator_reports_histogram_fld_floor_pr_and_conditional_accuracy():
    real = torch.rand(400, 1, 8, 8)
    out = G.evaluate_generator(Painter(), brightness_features, brightness_reader, real[:300], real[300:],
                               n=200, seed=0, batch=64, kid=True)
    assert out["conditional_accuracy"] == 1.0
    assert out["class_histogram"] == [20] * 10 and out["class_max_rel_deviation"] == 0.0
    assert out["mean_confidence"] == 1.0
    assert out["n_test"] == 100 and out["n_train_floor"] == 200
    assert out["fld"] > out["fld_floor"] >= 0 and out["fld_ratio"] > 1
    for key in ("kid_mean", "precision", "recall", "precision_floor", "recall_floor", "fld_vs_train"):
        assert math.isfinite(out[key])
    again = G.evaluate_generator(Painter(), brightness_features, brightness_reader, real[:300], real[300:],
                                 n=200, seed=0, batch=50, kid=True)
    assert again["fld"] == pytest.approx(out["fld"]) and again["kid_mean"] == out["kid_mean"]


def test_without_a_classifier_the_same_distances_and_no_classes():
    real = torch.rand(400, 1, 8, 8)
    with_classes = G.evaluate_generator(Painter(), brightness_features, brightness_reader, real[:300], real[300:],
                                        n=200, seed=0, batch=64, kid=False)
    out = G.evaluate_generator(Painter(), brightness_features, None, real[:300], real[300:], n=200, seed=0, batch=64,
                               kid=False)
    for key in ("fld", "fld_floor", "fld_ratio", "precision", "recall", "precision_floor", "recall_floor"):
        assert out[key] == with_classes[key], key
    assert not {"class_histogram", "conditional_accuracy", "mean_confidence"} & set(out)


def test_generator_that_replays_real_images_scores_near_the_floor():
    g = torch.Generator().manual_seed(0)
    pool = torch.rand(2000, 1, 8, 8, generator=g) ** torch.rand(2000, 1, 1, 1, generator=g).mul(3)

    class Replay(Painter):
        def decode(self, z, labels=None):
            return pool[(z[:, 0] * 1e4).long().abs() % 1000 + 1000]

    out = G.evaluate_generator(Replay(conditional=False), brightness_features, brightness_reader,
                               pool[:1000], pool[1000:], n=400, kid=False)
    assert "conditional_accuracy" not in out
    assert out["fld"] < 3 * out["fld_floor"] + 1e-3


def test_code_purity_finds_codes_that_draw_one_class_each():
    class Coded(Painter):
        """An InfoGAN-like painter: the code (argmax of z's first 3 numbers) picks digit 2, 5 or 7."""

        def __init__(self, faithful: bool):
            super().__init__(conditional=False)
            self.config.codes, self.faithful = 3, faithful

        def decode(self, z, labels=None):
            code = z[:, :3].argmax(1)
            digits = torch.tensor([2, 5, 7])[code] if self.faithful else (z[:, 2].abs() * 10).long() % 10
            return super().decode(z, digits)

    real = torch.rand(100, 1, 8, 8)
    out = G.evaluate_generator(Coded(True), brightness_features, brightness_reader, real, real, n=300, kid=False)
    assert out["code_purity"] == 1.0 and out["code_classes"] == [2, 5, 7]
    assert sum(map(sum, out["code_class_counts"])) == 300
    noisy = G.evaluate_generator(Coded(False), brightness_features, brightness_reader, real, real, n=300,
                                 kid=False)
    assert noisy["code_purity"] < 0.4  # codes unrelated to the digit drawn
    assert "code_purity" not in G.evaluate_generator(Painter(False), brightness_features, brightness_reader,
                                                     real, real, n=50, kid=False)


def test_fld_per_class_points_at_the_class_a_generator_draws_wrong():
    from types import SimpleNamespace

    def split(n, seed):
        g = torch.Generator().manual_seed(seed)
        labels = torch.arange(n) % 10
        images = ((labels.float() + 0.5) / 10)[:, None, None, None] + 0.02 * torch.randn(n, 1, 8, 8, generator=g)
        return SimpleNamespace(images=images.clamp(0, 1), labels=labels.numpy())

    class OffFives(Painter):
        """Draws every digit like the real ones, but its 5s too smooth (no pixel noise)."""

        def decode(self, z, labels=None):
            g = torch.Generator().manual_seed(int(z[0, 0].abs() * 1e6))
            labels = (z[:, 0].abs() * 10).long() % 10
            noise = 0.02 * torch.randn(len(z), 1, 8, 8, generator=g) * (labels != 5).float()[:, None, None, None]
            return (((labels.float() + 0.5) / 10)[:, None, None, None] + noise).clamp(0, 1)

    out = G.evaluate_generator(OffFives(conditional=False), brightness_features, brightness_reader, split(2000, 1),
                               split(2000, 2), n=2000, kid=False)
    per_class, floor = out["fld_per_class"], out["fld_per_class_floor"]
    assert len(per_class) == len(floor) == 10 and all(v is not None for v in floor)
    worst = max(range(10), key=lambda c: per_class[c] or 0)
    assert worst == 5 and per_class[5] > 10 * max(floor)
    assert "fld_per_class" not in G.evaluate_generator(OffFives(False), brightness_features, brightness_reader,
                                                       torch.rand(300, 1, 8, 8), torch.rand(300, 1, 8, 8), n=50,
                                                       kid=False)


def test_class_balance_is_signed_and_names_the_worst_digit():
    crowded = [11, 11, 11, 11, 11, 11, 100, 12, 11, 11]  # digit 6: 100 of 200 samples, five times its share
    assert G.class_balance(crowded) == {"class_max_rel_deviation": 4.0, "class_worst_digit": 6,
                                        "class_worst_count": 100}
    missing = [25, 25, 25, 0, 25, 25, 25, 25, 25, 0]  # digits 3 and 9 never drawn: the first is named
    assert G.class_balance(missing) == {"class_max_rel_deviation": -1.0, "class_worst_digit": 3,
                                        "class_worst_count": 0}
    scant = G.class_balance([30, 20, 5, 20, 20, 20, 20, 20, 20, 25])  # +50 % on 0 is nearer uniform than 2's
    assert (scant["class_worst_digit"], scant["class_max_rel_deviation"]) == (2, pytest.approx(-0.75))
    with pytest.raises(LatentworksError, match="at least one sample"):
        G.class_balance([0] * 10)


def test_evaluate_generator_refuses_a_size_mismatch():
    with pytest.raises(LatentworksError, match="1×8×8"):
        G.evaluate_generator(Painter(), brightness_features, brightness_reader, torch.rand(50, 28, 28),
                             torch.rand(50, 28, 28), n=20)


# ------------------------------------------------------------------ VAE likelihood


def test_binarize_is_fixed_seed_bernoulli():
    x = np.full((200, 8, 8), 77, np.uint8)  # intensity 0.302
    a, b = L.binarize(x, seed=5), L.binarize(x, seed=5)
    assert torch.equal(a, b) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert float(a.mean()) == pytest.approx(77 / 255, abs=0.01)
    assert not torch.equal(a, L.binarize(x, seed=6))


def test_chunks_of_k_combine_exactly():
    lw = torch.randn(3, 1000, dtype=torch.float64) * 5  # 3 images, 1000 log-weights
    full = -(torch.logsumexp(lw, 1) - math.log(1000))
    sizes = [400, 400, 150, 50]
    parts, s = [], 0
    for k in sizes:
        parts.append(-(torch.logsumexp(lw[:, s:s + k], 1) - math.log(k)))
        s += k
    combined = L.combine_iw_chunks(torch.stack(parts), torch.tensor(sizes))
    assert torch.allclose(combined, full, rtol=1e-10, atol=1e-10)


def test_importance_weighted_bound_tightens_with_k_and_beats_the_elbo():
    m = ToyVAE(ToyVAE.Config(latent_dim=3, image_size=6))
    # Seeded, not the global RNG, so the test does not depend on which tests ran before it. On these images the
    # toy posterior is poor and the bound has room to tighten all the way to k = 1000 (on some draws it has
    # converged by k = 100, where the chain of strict inequalities would compare Monte Carlo noise).
    x = torch.rand(60, 6, 6, generator=torch.Generator().manual_seed(1))
    res = {k: L.vae_likelihood(m, x, k=k, seed=0, budget=300) for k in (1, 10, 100, 1000)}
    nll = [res[k]["iw_nll_nats"] for k in (1, 10, 100, 1000)]
    assert nll[0] > nll[1] > nll[2] > nll[3]
    assert res[1000]["neg_elbo_nats"] > nll[3]
    assert res[1000]["n"] == 60 and res[1000]["k"] == 1000 and res[1000]["comparable_with_pythae"]
    # same seed, same numbers; chunking k differently only changes the random draws. This toy posterior gives
    # heavy-tailed weights: over 16 random data sets the two chunkings differed by at most 2.4 % at k = 100.
    assert L.vae_likelihood(m, x, k=100, seed=0, budget=300)["iw_nll_nats"] == nll[2]
    other = L.vae_likelihood(m, x, k=100, seed=0, budget=7)["iw_nll_nats"]
    assert other != nll[2] and other == pytest.approx(nll[2], rel=0.05)


def test_vae_likelihood_with_a_real_vae_when_present():
    vae = pytest.importorskip("latentworks.models.vae")
    torch.manual_seed(0)
    m = vae.VAE(vae.VAE.Config(latent_dim=2, filters=8, max_filters=16)).eval()
    x = (torch.rand(6, 28, 28) * 255).to(torch.uint8)
    lo, hi = L.vae_likelihood(m, x, k=50, seed=0), L.vae_likelihood(m, x, k=1, seed=0)
    assert 0 < lo["iw_nll_nats"] < hi["iw_nll_nats"] + 1.0
    assert lo["neg_elbo_nats"] > 0 and lo["decoder"] == "bernoulli"


def test_likelihood_needs_a_vae():
    with pytest.raises(LatentworksError, match="VAE"):
        L.vae_likelihood(Painter(), torch.rand(3, 8, 8), k=2)
