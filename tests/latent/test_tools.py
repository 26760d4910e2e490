import numpy as np
import pytest
import torch

from latentworks.errors import LatentworksError
from latentworks.latent import core, tools
from latentworks.latent.testing import ToyVAE
from latentworks.models.generative_base import sample_normal


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def toy(latent_dim=4, conditional=False, size=8, channels=1):
    return ToyVAE(ToyVAE.Config(latent_dim=latent_dim, image_size=size, channels=channels,
                                conditional=conditional)).eval()


def _decode(model, z, labels=None):
    with torch.no_grad():
        y = None if labels is None else torch.as_tensor(labels).long().reshape(-1)
        return model.decode(torch.as_tensor(z).float().reshape(-1, model.config.latent_dim), y).numpy()[:, 0]


# ------------------------------------------------------------------ grid and sampling


def test_sample_grid_is_deterministic_and_numbered_row_major(tmp_path):
    m = toy()
    a, b = tools.sample_grid(m, 3, seed=334), tools.sample_grid(m, 3, seed=334)
    assert a.images.shape == (9, 8, 8) and a.latents.shape == (9, 4)
    np.testing.assert_array_equal(a.latents, b.latents)
    assert not np.allclose(a.latents, tools.sample_grid(m, 3, seed=335).latents)
    # cell i decodes latents[i]
    np.testing.assert_allclose(a.images[5], _decode(m, a.latents[5])[0], atol=1e-6)
    out = tools.sample_grid(m, 2, seed=1, out=tmp_path / "g.png")
    assert out.path.exists() and out.path.stat().st_size > 0


def test_truncation_keeps_entries_within_t_and_scale_multiplies():
    m = toy(latent_dim=16)
    r = tools.sample_grid(m, 10, seed=0, truncate=1.5)
    assert np.abs(r.latents).max() <= 1.5
    assert np.abs(r.latents).max() > 1.0  # re-sampled, not squashed to nothing
    r = tools.sample_grid(m, 10, seed=0, truncate=2.0, scale=0.17)
    assert np.abs(r.latents).max() <= 2.0 * 0.17 + 1e-6
    z = sample_normal(20000, 3, torch.Generator().manual_seed(0), truncate=0.5)
    assert float(z.abs().max()) <= 0.5 and float(z.std()) > 0.2
    for bad in ({"truncate": 0.0}, {"truncate": -1.0}, {"scale": 0.0}):
        with pytest.raises(LatentworksError):
            tools.sample_grid(m, 2, seed=0, **bad)


def test_conditional_grid_labels_cycle_by_column_and_check_range():
    m = toy(conditional=True)
    r = tools.sample_grid(m, 10, seed=0)
    assert r.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert set(tools.sample_grid(m, 3, seed=0, labels=7).labels.tolist()) == {7}
    with pytest.raises(LatentworksError, match="0..9"):
        tools.sample_grid(m, 3, seed=0, labels=10)
    with pytest.raises(LatentworksError, match="unconditional"):
        tools.sample_grid(toy(), 3, seed=0, labels=1)


# ------------------------------------------------------------------ interpolation and paths


@pytest.mark.parametrize("slerp", [False, True])
def test_interpolation_endpoints_decode_to_the_endpoints(slerp):
    m = toy()
    r = tools.interpolate(m, seed=4, steps=7, slerp=slerp)
    ends = r.info["endpoints"]
    assert r.latents.shape == (7, 4)
    np.testing.assert_array_equal(r.latents[0], ends[0])
    np.testing.assert_array_equal(r.latents[-1], ends[1])
    np.testing.assert_allclose(r.images[0], _decode(m, ends[0])[0], atol=1e-6)
    np.testing.assert_allclose(r.images[-1], _decode(m, ends[1])[0], atol=1e-6)
    # the endpoints are the first two draws of the seed
    np.testing.assert_array_equal(ends, sample_normal(2, 4, torch.Generator().manual_seed(4)).numpy())


def test_lerp_points_lie_on_the_segment():
    z0, z1 = torch.randn(5), torch.randn(5)
    path = core.interpolate_latents(z0, z1, 5)
    np.testing.assert_allclose(path[2].numpy(), ((z0 + z1) / 2).numpy(), atol=1e-6)


def test_slerp_keeps_norms_between_the_endpoints_norms():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        z0 = torch.randn(8, generator=g) * float(torch.rand(1, generator=g) * 3 + 0.1)
        z1 = torch.randn(8, generator=g)
        norms = core.interpolate_latents(z0, z1, 25, use_slerp=True).norm(dim=1)
        lo, hi = min(z0.norm(), z1.norm()), max(z0.norm(), z1.norm())
        assert float(norms.min()) >= float(lo) - 1e-4 and float(norms.max()) <= float(hi) + 1e-4
    # lerp between equal-norm points cuts inside the sphere; slerp stays on it
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert float(core.interpolate_latents(z0, z1, 3)[1].norm()) < 0.8
    assert float(core.interpolate_latents(z0, z1, 3, use_slerp=True)[1].norm()) == pytest.approx(1.0)
    # parallel and antiparallel directions do not produce NaN
    for z1 in (2 * z0, -z0):
        assert torch.isfinite(core.interpolate_latents(z0, z1, 5, use_slerp=True)).all()


def test_traverse_passes_through_every_point(tmp_path):
    m = toy()
    r = tools.traverse(m, points=4, steps=10, seed=3)  # 9 intervals / 3 segments: knots at 0, 3, 6, 9
    knots = r.info["knots"]
    for i, step in enumerate((0, 3, 6, 9)):
        np.testing.assert_allclose(r.latents[step], knots[i], atol=1e-6)
    gif = tools.traverse(m, points=3, steps=12, seed=3, out=tmp_path / "t.gif").path
    from PIL import Image

    with Image.open(gif) as img:
        assert img.n_frames == 12
    assert tools.traverse(m, points=3, steps=5, seed=3, out=tmp_path / "t.png").path.exists()
    with pytest.raises(LatentworksError):
        tools.traverse(m, points=5, steps=3, seed=0)
    with pytest.raises(LatentworksError):
        tools.interpolate(m, seed=0, steps=1)


# ------------------------------------------------------------------ arithmetic


def test_arithmetic_by_indices_matches_hand_computed_latents(tmp_path):
    m = toy()
    grid = tools.sample_grid(m, 10, seed=334)
    z = grid.latents
    expected = z[[17, 23, 5]].mean(0) - z[[56, 12, 40]].mean(0) + z[[8, 9, 31]].mean(0)
    r = tools.latent_arithmetic(m, 334, 10, "17,23,5", "56,12,40", [8, 9, 31], out=tmp_path / "a.png")
    np.testing.assert_allclose(r.latents[0], expected, atol=1e-6)
    np.testing.assert_allclose(r.info["mean_b"], z[[56, 12, 40]].mean(0), atol=1e-6)
    np.testing.assert_allclose(r.images[0], _decode(m, expected)[0], atol=1e-6)
    assert r.path.exists()
    # the same truncation as the grid picks the same cells
    tg = tools.sample_grid(m, 4, seed=1, truncate=1.0)
    tr = tools.latent_arithmetic(m, 1, 4, "1", "2", "3", truncate=1.0)
    np.testing.assert_allclose(tr.latents[0], tg.latents[1] - tg.latents[2] + tg.latents[3], atol=1e-6)


def test_arithmetic_on_a_conditional_model_uses_the_first_c_label():
    m = toy(conditional=True)
    r = tools.latent_arithmetic(m, 0, 10, "1", "2", "13")
    assert r.labels.tolist() == [3]
    assert tools.latent_arithmetic(m, 0, 10, "1", "2", "13", result_label=8).labels.tolist() == [8]


@pytest.mark.parametrize("a, b, c, match", [
    ("17,100", "1", "2", r"0\.\.99"),
    ("-1", "1", "2", r"0\.\.99"),
    ("1", "", "2", "at least one"),
    ("1", "2", "3,x", "commas"),
])
def test_arithmetic_bad_indices_are_one_line_errors(a, b, c, match):
    with pytest.raises(LatentworksError, match=match) as err:
        tools.latent_arithmetic(toy(), 334, 10, a, b, c)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ sweep and manifold


def test_sweep_dim_varies_only_that_coordinate():
    m = toy()
    r = tools.sweep_dim(m, dim=2, lo=-5, hi=5, steps=6, seed=0, rows=2)
    assert r.latents.shape == (12, 4)
    np.testing.assert_allclose(r.latents[:6, 2], np.linspace(-5, 5, 6), atol=1e-6)
    others = np.delete(r.latents[:6], 2, axis=1)
    assert np.allclose(others, others[0])
    with pytest.raises(LatentworksError, match="latent_dim is 4"):
        tools.sweep_dim(m, dim=4, lo=-1, hi=1, steps=3, seed=0)
    with pytest.raises(LatentworksError, match="latent_dim"):
        tools.sweep_dim(m, dim=-1, lo=-1, hi=1, steps=3, seed=0)


def test_manifold_needs_a_2d_latent_and_covers_normal_quantiles(tmp_path):
    with pytest.raises(LatentworksError, match="latent_dim is 4"):
        tools.manifold(toy(), 5)
    r = tools.manifold(toy(latent_dim=2), 4, out=tmp_path / "m.png")
    assert r.latents.shape == (16, 2) and r.path.exists()
    q = r.info["quantiles"]
    np.testing.assert_allclose(q, -q[::-1], atol=1e-6)  # symmetric
    assert r.latents[0, 0] < 0 < r.latents[0, 1]  # top-left: low z0, high z1


# ------------------------------------------------------------------ user images


def _png(path, arr, mode=None):
    from PIL import Image

    Image.fromarray(arr, mode=mode).save(path)
    return path


def test_reconstruct_and_encode_user_files(tmp_path):
    m = toy(size=8)
    rng = np.random.default_rng(0)
    files = [
        _png(tmp_path / "grey.png", (rng.random((20, 30)) * 255).astype(np.uint8)),
        _png(tmp_path / "rgba.png", (rng.random((16, 16, 4)) * 255).astype(np.uint8)),
        _png(tmp_path / "deep.png", (rng.random((12, 12)) * 65535).astype(np.uint16)),
    ]
    r = tools.reconstruct(m, files, out=tmp_path / "rec.png")
    assert r.images.shape == (3, 8, 8) and r.info["inputs"].shape == (3, 8, 8)
    assert r.info["mse"].shape == (3,) and r.path.exists()
    assert r.info["inputs"].min() >= 0 and r.info["inputs"].max() <= 1
    e = tools.encode(m, files, out=tmp_path / "z.json")
    assert e.latents.shape == (3, 4)
    from latentworks.latent.user_images import read_latents_json

    z, _ = read_latents_json(e.path)
    np.testing.assert_allclose(z, e.latents, atol=1e-5)
    d = tools.decode_latents(m, z)
    np.testing.assert_allclose(d.images, _decode(m, z), atol=1e-5)
    inv = tools.encode(m, files[:1], invert=True)
    assert not np.allclose(inv.latents, e.latents[:1])
    # RGB model: grey files are expanded to 3 channels
    rgb = toy(size=8, channels=3)
    assert tools.reconstruct(rgb, files[:1]).images.shape == (1, 8, 8, 3)


def test_user_image_mistakes_are_one_line_errors(tmp_path):
    m = toy(size=8)
    with pytest.raises(LatentworksError, match="1×8×8"):
        tools.reconstruct(m, np.zeros((2, 9, 9), np.float32))
    with pytest.raises(LatentworksError, match="latent_dim is 4"):
        tools.decode_latents(m, np.zeros((2, 5), np.float32))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(LatentworksError, match="broken.png"):
        tools.encode(m, [tmp_path / "broken.png"])
    with pytest.raises(LatentworksError, match="not found"):
        tools.encode(m, [tmp_path / "missing.png"])
    with pytest.raises(LatentworksError, match="--label"):
        tools.encode(toy(conditional=True), np.zeros((1, 8, 8), np.float32))

    class NoEncoder(ToyVAE):
        encode = None

    with pytest.raises(LatentworksError, match="no encoder"):
        tools.reconstruct(NoEncoder(ToyVAE.Config(image_size=8)), np.zeros((1, 8, 8), np.float32))


# ------------------------------------------------------------------ the real models, when present


def _real_models():
    try:
        from latentworks.models.cae import CAE
        from latentworks.models.conditional import CGAN, CVAE
        from latentworks.models.dcgan import DCGAN
        from latentworks.models.vae import VAE
    except ImportError:
        return []
    return [CAE, VAE, DCGAN, CVAE, CGAN]


@pytest.mark.parametrize("cls", _real_models(), ids=lambda c: c.kind)
def test_real_models_work_with_the_tools(cls):
    torch.manual_seed(0)
    try:
        m = cls(cls.Config(latent_dim=2, filters=8, max_filters=16)).eval()
    except TypeError as err:  # pragma: no cover - config fields changed
        pytest.skip(f"config differs: {err}")
    grid = tools.sample_grid(m, 3, seed=1, truncate=1.0)
    assert grid.images.shape == (9, 28, 28)
    assert grid.images.min() >= 0 and grid.images.max() <= 1
    assert np.abs(grid.latents).max() <= 1.0 + 1e-6  # fresh models: code mean 0, std 1
    r = tools.interpolate(m, seed=4, steps=4, slerp=True)
    ref = tools.decode_latents(m, r.info["endpoints"], labels=None if r.labels is None else r.labels[:2])
    np.testing.assert_allclose(r.images[[0, -1]], ref.images, atol=1e-5)
    a = tools.latent_arithmetic(m, 1, 3, "0,1", "2", "3", truncate=1.0)
    expected = grid.latents[[0, 1]].mean(0) - grid.latents[2] + grid.latents[3]
    np.testing.assert_allclose(a.latents[0], expected, atol=1e-5)
    assert tools.manifold(m, 3).images.shape == (9, 28, 28)
    if callable(getattr(m, "encode", None)):
        x = np.random.default_rng(0).random((2, 28, 28)).astype(np.float32)
        lab = 3 if m.conditional else None
        assert tools.encode(m, x, labels=lab).latents.shape == (2, 2)
        assert tools.reconstruct(m, x, labels=lab).images.shape == (2, 28, 28)


def test_code_grid_changes_only_the_code_down_each_column(tmp_path):
    from latentworks.models.dcgan import DCGAN

    torch.manual_seed(0)
    gan = DCGAN(DCGAN.Config(latent_dim=6, codes=3, filters=4, max_filters=8)).eval()
    r = tools.code_grid(gan, seed=5, columns=4, out=tmp_path / "codes.png")
    z = torch.from_numpy(r.latents).view(3, 4, 6)
    assert torch.equal(z[:, :, :3].argmax(2), torch.arange(3)[:, None].expand(3, 4))  # row k has code k
    assert torch.equal(z[:, :, 3:], z[:1, :, 3:].expand(3, 4, 3))  # the rest of each latent is shared
    assert torch.equal(z[:, :, :3].sort(2).values, z[:1, :, :3].sort(2).values.expand(3, 4, 3))  # same numbers
    assert r.images.shape == (12, 28, 28) and r.path.exists()
    with pytest.raises(LatentworksError, match="--codes"):
        tools.code_grid(toy(), seed=0)
