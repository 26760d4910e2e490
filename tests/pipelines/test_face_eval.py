"""``gen eval`` and ``GenerativeRun.evaluate`` on a face run: FLD beside its real floor and precision / recall in the
face feature network's space, through the same code; any other folder gets one line."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import latentworks as lw
from latentworks.cli import dispatch, main
from latentworks.data.image_folders import list_image_files
from latentworks.errors import LatentworksError
from latentworks.models.io import save_model
from latentworks.studies.generative_runs import find_faces

FACES = find_faces(None)
vae_mod = pytest.importorskip("latentworks.models.vae")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def face_run(tmp_path_factory):
    """A 1-epoch tiny VAE of the faces recipe on 80 CelebA faces (copied into a temporary folder)."""
    if FACES is None:
        pytest.skip("shared/data/faces/celebA not present")
    root = tmp_path_factory.mktemp("faces")
    (root / "celebA").mkdir()
    for path in list_image_files(FACES)[:80]:
        shutil.copy(path, root / "celebA" / path.name)
    cfg = lw.recipe("generative", "faces", kind="vae", **{
        "data.data": str(root / "celebA"), "model.latent_dim": 8, "model.filters": 8, "model.max_filters": 16,
        "train.epochs": 1, "train.batch_size": 16, "train.progress": False, "eval.eval_images": 8,
        "eval.snapshot_grid": 2})
    return lw.train(cfg, root / "run")


def test_gen_eval_of_a_face_run_prints_fld_floor_precision_recall_and_the_api_agrees(face_run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert dispatch(["gen", "eval", str(face_run.dir), "--n", "40", "--no-kid", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "face feature network" in text and "floor (train vs held-out)" in text and "precision" in text
    assert "class histogram" not in text and not (face_run.dir / "figures" / "eval_class_histogram.png").exists()
    result = json.loads(out.read_text())
    assert result["n_test"] == 8 and result["n_train_floor"] == 40  # 10 % of 80 held out
    assert result["fld_floor"] > 0 and result["fld_ratio"] > 0 and 0 <= result["precision"] <= 1
    assert result["features"]["weights_sha256_16"] and "class_histogram" not in result
    api = face_run.evaluate(n=40)
    assert (api["fld"], api["fld_floor"], api["precision"], api["recall"]) == (
        result["fld"], result["fld_floor"], result["precision"], result["recall"])


def test_a_run_on_another_folder_gets_one_line_saying_no_feature_network_fits(tmp_path, capsys):
    folder = tmp_path / "flowers"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    save_model(vae_mod.VAE(vae_mod.VAE.Config(latent_dim=2, channels=3, image_size=16, filters=8, max_filters=16)),
               run)
    (run / "config.json").write_text(json.dumps({"recipe": "default", "data": {"data": str(folder)}}))
    assert main(["gen", "eval", str(run), "--n", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no feature network fits" in err[0] and str(folder) in err[0]
    # the faces recipe's name alone does not make a 3×16×16 model a face run
    (run / "config.json").write_text(json.dumps({"recipe": "faces", "data": {"data": str(folder)}}))
    from latentworks.models.io import load_model
    from latentworks.pipelines.generative_eval import evaluate_run

    with pytest.raises(LatentworksError, match="no feature network fits"):
        evaluate_run(load_model(run), run, n=20)


def test_the_study_scores_a_face_run_once_and_the_explorer_shows_it(face_run, monkeypatch):
    from latentworks.explore.runs import _results, load_run
    from latentworks.studies import generative_faces

    monkeypatch.setattr(generative_faces, "FACE_EVAL_N", 40)
    ev = generative_faces.score_face_run(face_run.dir, face_run.model, seed=0)
    assert ev["settings"]["n"] == 40 and ev["fld_ratio"] > 0
    stamp = (face_run.dir / "results.json").stat().st_mtime_ns
    assert generative_faces.score_face_run(face_run.dir, face_run.model, seed=0) == ev  # read back, not rescored
    assert (face_run.dir / "results.json").stat().st_mtime_ns == stamp
    run = load_run(face_run.dir, "faces-vae")
    run.results = _results(face_run.dir)
    assert f"face FLD {ev['fld_ratio']:.2f}× floor" in run.title() and "recall" in run.title()
    assert run.summary()["headline"]["key"] == "eval.fld_ratio"
