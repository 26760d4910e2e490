"""Operator glyphs, glyph bank rendering, query strips and PNG loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentworks.data.glyphs import GlyphBank, load_strip_png, operator_glyph_pool, render_strip, split_strip
from latentworks.errors import LatentworksError


@pytest.mark.parametrize("op", ["+", "-", "*"])
@pytest.mark.parametrize("layout", ["v23", "v21"])
def test_glyph_pool_shape_and_range(op: str, layout: str) -> None:
    pool = operator_glyph_pool(op, 50, np.random.default_rng(0), layout)
    assert pool.shape == (50, 28, 28) and pool.dtype == np.uint8
    assert pool.max(axis=(1, 2)).min() >= 240  # every glyph has near-full-intensity ink
    # The horizontal (or centre) ink sits on rows 12..15; nothing touches the image border.
    assert (pool[:, 12:16, 12:16].max(axis=(1, 2)) > 200).all()
    assert pool[:, :2].max() == 0 and pool[:, -2:].max() == 0 and pool[:, :, :2].max() == 0


def test_plus_has_vertical_ink_and_minus_does_not() -> None:
    plus = operator_glyph_pool("+", 20, np.random.default_rng(1))
    minus = operator_glyph_pool("-", 20, np.random.default_rng(1))
    # Rows 6..9 / 18..21 above and below the bar, columns 12..15 where the vertical stroke runs.
    assert (plus[:, 8:11, 11:17].max(axis=(1, 2)) > 200).all()
    assert (plus[:, 17:19, 11:17].max(axis=(1, 2)) > 200).all()
    assert minus[:, :11].max() == 0 and minus[:, 18:].max() == 0
    # Minus spans columns ~6..21: every column in 9..17 has ink somewhere on rows 11..16.
    assert (minus[:, 11:17, 9:18].max(axis=1).min(axis=1) > 150).all()


def test_glyph_pool_is_seeded_and_varied() -> None:
    a = operator_glyph_pool("*", 30, 7)
    np.testing.assert_array_equal(a, operator_glyph_pool("*", 30, 7))
    assert len({img.tobytes() for img in a}) > 5


def test_bad_operator() -> None:
    with pytest.raises(LatentworksError, match="operator"):
        operator_glyph_pool("/")


def _fake_mnist(n_per_class: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), n_per_class)
    images = rng.integers(0, 256, size=(labels.size, 28, 28), dtype=np.uint8)
    return images, labels


def test_render_shapes_and_independent_picks() -> None:
    images, labels = _fake_mnist(20)
    bank = GlyphBank.from_mnist(images, labels, ops="+-", rng=0)
    out = bank.render(["11+11", "7-7  "], rng=1)
    assert out.shape == (2, 5, 28, 28) and out.dtype == np.uint8
    # Each '1' occurrence is a '1' from the pool, but positions draw independently.
    ones = {img.tobytes() for img in images[labels == 1]}
    assert all(out[0, k].tobytes() in ones for k in (0, 1, 3, 4))
    assert len({out[0, k].tobytes() for k in (0, 1, 3, 4)}) > 1
    assert out[1, 3].max() == 0 and out[1, 4].max() == 0  # spaces are blank
    np.testing.assert_array_equal(out, bank.render(["11+11", "7-7  "], rng=1))


def test_render_is_fast_for_course_size() -> None:
    images, labels = _fake_mnist(50)
    bank = GlyphBank.from_mnist(images, labels, ops="+-", rng=0)
    out = bank.render(["12+34"] * 20_000, rng=0)
    assert out.shape == (20_000, 5, 28, 28)


def test_render_unknown_character() -> None:
    images, labels = _fake_mnist()
    bank = GlyphBank.from_mnist(images, labels, ops="+", rng=0)
    with pytest.raises(LatentworksError, match="no glyphs"):
        bank.render(["1-1"])


def test_strip_round_trip_and_wrong_size() -> None:
    glyphs = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    strip = render_strip(glyphs)
    assert strip.shape == (28, 140)
    np.testing.assert_array_equal(strip[:, 28:56], glyphs[1])
    np.testing.assert_array_equal(split_strip(strip, 5), glyphs)
    with pytest.raises(LatentworksError, match="28 high and 196 wide"):
        split_strip(strip, 7)
    with pytest.raises(LatentworksError, match="28 high"):
        split_strip(np.zeros((30, 140), np.uint8), 5)


def _strip() -> np.ndarray:
    glyphs = np.zeros((5, 28, 28), dtype=np.uint8)
    glyphs[:, 10:18, 10:18] = 200
    return render_strip(glyphs)


def test_load_png_modes(tmp_path: Path) -> None:
    strip = _strip()
    Image.fromarray(strip).save(tmp_path / "l.png")
    np.testing.assert_array_equal(load_strip_png(tmp_path / "l.png", 5), split_strip(strip, 5))

    rgba = np.zeros((28, 140, 4), dtype=np.uint8)
    rgba[..., :3] = strip[..., None]
    rgba[..., 3] = np.where(strip > 0, 255, 0)  # transparent background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_strip_png(tmp_path / "rgba.png", 5), split_strip(strip, 5))

    Image.fromarray(strip.astype(np.uint16) * 257).save(tmp_path / "16.png")
    assert Image.open(tmp_path / "16.png").mode.startswith("I")
    np.testing.assert_array_equal(load_strip_png(tmp_path / "16.png", 5), split_strip(strip, 5))

    Image.fromarray(strip).convert("P").save(tmp_path / "p.png")
    Image.fromarray(strip).convert("LA").save(tmp_path / "la.png")
    for name in ("p.png", "la.png"):
        got = load_strip_png(tmp_path / name, 5)
        assert got.shape == (5, 28, 28) and got.dtype == np.uint8
        assert abs(int(got[0, 12, 12]) - 200) <= 2 and got[0, 0, 0] == 0

    Image.fromarray(strip).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    assert load_strip_png(tmp_path / "cmyk.jpg", 5).shape == (5, 28, 28)


def test_load_png_inverts_dark_on_light(tmp_path: Path) -> None:
    strip = _strip()
    Image.fromarray(255 - strip).save(tmp_path / "inv.png")
    np.testing.assert_array_equal(load_strip_png(tmp_path / "inv.png", 5), split_strip(strip, 5))
    raw = load_strip_png(tmp_path / "inv.png", 5, invert=False)
    assert raw[0, 0, 0] == 255


def test_load_png_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(LatentworksError, match="empty.png"):
        load_strip_png(empty, 5)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(LatentworksError, match="junk.png"):
        load_strip_png(junk, 5)
    with pytest.raises(LatentworksError, match="does not exist"):
        load_strip_png(tmp_path / "missing.png", 5)
    Image.fromarray(np.zeros((28, 100), np.uint8)).save(tmp_path / "narrow.png")
    with pytest.raises(LatentworksError, match="140 wide"):
        load_strip_png(tmp_path / "narrow.png", 5)
