import sys

import pytest

import latentworks as lw
from latentworks.errors import LatentworksError
from latentworks.training.trainer import open_tensorboard

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _events(run_dir):
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    acc.Reload()
    return acc.Tags()


def test_torch_trainer_logs_scalars_and_image_grids(tmp_path, capsys):
    cfg = lw.recipe("generative", "test", kind="vae", **{"data.data_dir": "embedded", "train.tensorboard": True})
    lw.train(cfg, tmp_path / "vae")
    tags = _events(tmp_path / "vae")
    assert "loss" in tags["scalars"] and any(t.startswith("eval/") for t in tags["scalars"])
    assert "samples" in tags["images"]
    assert f"TensorBoard logs in {tmp_path / 'vae' / 'tensorboard'}" in capsys.readouterr().out


def test_numpy_loop_logs_scalars_and_samples(tmp_path):
    cfg = lw.recipe("charrnn", "test-main", **{"train.steps": 40, "train.tensorboard": True,
                                               "eval.sample_every": 20, "eval.figures": False})
    lw.train(cfg, tmp_path / "char")
    tags = _events(tmp_path / "char")
    assert {"loss", "acc", "eval/val_loss"} <= set(tags["scalars"])
    assert any(t.startswith("samples/") for t in tags["tensors"])  # text summaries are stored as tensors


def test_without_the_extra_the_flag_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with pytest.raises(LatentworksError, match=r"pip install -e '\.\[tensorboard\]'"):
        open_tensorboard(tmp_path)
