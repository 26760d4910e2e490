"""The report's faces section scores each face run in the face feature network's space and shows it."""

import shutil

import pytest
import torch

from latentworks.data.image_folders import list_image_files
from latentworks.runs import read_json
from latentworks.studies import generative_faces, generative_sections
from latentworks.studies.catalogue import StudyContext
from latentworks.studies.generative_runs import find_faces

FACES = find_faces(None)
TINY = {"model.latent_dim": 8, "model.filters": 8, "model.max_filters": 16, "train.epochs": 1,
        "train.batch_size": 16, "eval.eval_images": 8, "eval.snapshot_grid": 2}


@pytest.mark.skipif(FACES is None, reason="shared/data/faces/celebA not present")
def test_the_faces_section_shows_fld_ratio_precision_and_recall(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    data = tmp_path / "data"
    (data / "faces" / "celebA").mkdir(parents=True)
    for path in list_image_files(FACES)[:80]:
        shutil.copy(path, data / "faces" / "celebA" / path.name)
    monkeypatch.setattr(generative_faces, "FACE_EVAL_N", 40)
    monkeypatch.setattr(generative_sections, "FACE_EVAL_N", 40)
    ctx = StudyContext(profile="test", out=tmp_path / "study", data_dir=str(data), progress=False, device="cpu")
    section, metrics = generative_sections.faces_part(ctx, tmp_path / "study" / "faces", **TINY)
    table = section.tables[0]
    assert table.columns[3:6] == ["FLD / floor", "precision", "recall"]
    for row, kind in zip(table.rows, ("vae", "dcgan"), strict=True):
        ev = read_json(tmp_path / "study" / "faces" / kind / "results.json")["eval"]
        assert row[3:6] == [ev["fld_ratio"], ev["precision"], ev["recall"]] and ev["n"] == 40
        assert metrics[kind]["fld_ratio"] == ev["fld_ratio"] > 0
    assert "face feature network" in table.caption
    from latentworks.recipes.studies import GENERATIVE
    from latentworks.studies.generative import _headlines

    faces = {kind: tmp_path / "study" / "faces" / kind for kind in ("vae", "dcgan")}
    fld = [h for h in _headlines({}, faces, GENERATIVE["test"], False) if h.key == "eval.fld_ratio"]
    assert [h.ours for h in fld] == [metrics["vae"]["fld_ratio"], metrics["dcgan"]["fld_ratio"]]
    assert "40 fresh samples vs 8 held-out CelebA faces" in fld[0].held_out
