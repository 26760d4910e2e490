import numpy as np
import pytest
import torch
from PIL import Image

from latentworks.errors import LatentworksError
from latentworks.report.pictures import number_cells, save_png, snapshot, tile, write_gif


def test_tile_places_cell_i_at_row_i_div_ncol():
    images = np.stack([np.full((3, 4), i / 10) for i in range(5)])  # 5 cells in 2 rows → 3 columns
    mosaic = tile(images, nrow=2, pad=1)
    assert mosaic.shape == (2 * 3 + 1, 3 * 4 + 2)
    for i in range(5):
        r, c = divmod(i, 3)
        assert np.allclose(mosaic[r * 4:r * 4 + 3, c * 5:c * 5 + 4], i / 10)
    assert np.allclose(mosaic[4:, 10:], 1.0)  # the missing sixth cell is background


def test_tile_takes_nchw_tensors_grey_and_rgb_with_a_border():
    grey = tile(torch.zeros(4, 1, 5, 5), nrow=2, pad=2, border=True, background=0.5)
    assert grey.shape == (2 * 7 + 2, 2 * 7 + 2)
    assert grey[0, 0] == 0.5 and grey[2, 2] == 0.0
    rgb = tile(torch.rand(3, 3, 6, 6), nrow=1)
    assert rgb.shape == (6, 3 * 8 - 2, 3)


def test_snapshot_scales_small_cells_up_to_56_pixels():
    assert snapshot(torch.rand(4, 1, 28, 28), 2).shape == (2 * (2 * 30 + 2), 2 * (2 * 30 + 2), 3)
    assert snapshot(torch.rand(1, 3, 64, 64), 1).shape == (68, 68, 3)
    assert snapshot(torch.rand(1, 3, 64, 64), 1).dtype == np.uint8


def test_number_cells_writes_in_each_cells_corner_only():
    picture = snapshot(torch.ones(4, 1, 28, 28), 2)
    labelled = number_cells(picture, 4, 2)
    changed = np.argwhere((labelled != picture).any(-1))
    assert len(changed) > 0
    cell = picture.shape[0] // 2
    corners = {(int(r) // cell, int(c) // cell) for r, c in changed}
    assert corners == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert (changed % cell).max() < cell // 2  # the numbers stay in the top-left quarter of their cells


def test_save_png_and_write_gif_round_trip(tmp_path):
    picture = snapshot(torch.rand(4, 1, 28, 28), 2)
    path = save_png(picture, tmp_path / "grid.png")
    assert np.array_equal(np.asarray(Image.open(path)), picture)
    gif = write_gif([np.zeros((8, 8)), np.ones((8, 8)), np.full((8, 8), 0.5)], tmp_path / "a.gif", min_side=32)
    with Image.open(gif) as img:
        assert img.n_frames == 3 and img.size == (32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "grid.png"]  # no temp files left
    with pytest.raises(LatentworksError, match="no frames"):
        write_gif([], tmp_path / "b.gif")
