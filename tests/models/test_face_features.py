"""The packaged face feature network: it loads, embeds deterministically, and tells held-out faces from noise;
the SimCLR views and the training entry on a tiny folder."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from latentworks.data.image_folders import decode_image, holdout_indices, list_image_files
from latentworks.errors import LatentworksError
from latentworks.models.face_features import FaceFeatures, gaussian_blur, random_view
from latentworks.pipelines.face_features import PACKAGED_FACE_FEATURES, load_face_features, train_face_features
from latentworks.studies.generative_runs import find_faces

FACES = find_faces(None)
needs_faces = pytest.mark.skipif(FACES is None, reason="shared/data/faces/celebA not present")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def held_out_faces(n: int) -> torch.Tensor:
    """The first ``n`` faces of the held-out split every face run uses (decoded one by one: no whole-folder pass)."""
    files = list_image_files(FACES)
    _, test = holdout_indices(len(files), 0.1)
    faces = [decode_image(files[i], 64, 3)[0] for i in test[:n]]
    return torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).contiguous()


def test_the_packaged_weights_load_and_say_how_they_were_trained():
    model = load_face_features()
    assert not model.training and model.run_dir == PACKAGED_FACE_FEATURES
    assert (PACKAGED_FACE_FEATURES / "model.safetensors").stat().st_size <= 2_200_000
    readme = json.loads((PACKAGED_FACE_FEATURES / "README.json").read_text())
    assert "SimCLR" in readme["objective"] and "train split only" in readme["split"]
    check = readme["heldout_check"]
    assert check["n"] == 1000 and check["view_match_top1"] > 0.5 and check["ordered"] is True
    assert check["fld_floor"] < check["fld_blur"]["1.0"] < check["fld_noise"]["0.3"]


def test_a_folder_without_the_network_is_one_line(tmp_path):
    with pytest.raises(LatentworksError, match="no face feature network in"):
        load_face_features(tmp_path)


@needs_faces
def test_embeds_a_batch_deterministically_and_held_out_faces_sit_together_away_from_noise():
    model = load_face_features()
    faces = held_out_faces(64)
    emb = model.embed_images(faces)
    assert emb.shape == (64, model.feature_dim) and torch.isfinite(emb).all()
    assert torch.equal(emb, model.embed_images(faces))  # eval mode: the same faces, the same features
    assert torch.allclose(emb, model.embed_images(faces, batch_size=7), atol=1e-5)  # batch-size independent
    noise = torch.rand(32, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    a, b = emb[:32].mean(0), emb[32:].mean(0)
    assert torch.dist(a, b) < 0.5 * torch.dist(a, model.embed_images(noise).mean(0))
    blurred = model.embed_images(gaussian_blur(faces[32:].float() / 255, 2.0)).mean(0)
    assert torch.dist(a, b) < torch.dist(a, blurred)  # blur is seen: no blur among the augmentations


def test_random_views_are_seeded_crops_in_range():
    x = torch.rand(6, 3, 64, 64)
    v1 = random_view(x, torch.Generator().manual_seed(3))
    assert v1.shape == x.shape and float(v1.min()) >= 0 and float(v1.max()) <= 1
    assert torch.equal(v1, random_view(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(v1, random_view(x, torch.Generator().manual_seed(4)))
    with pytest.raises(ValueError, match="3, 64, 64"):
        FaceFeatures().features(torch.rand(2, 1, 28, 28))


def test_training_reads_only_the_train_split_and_writes_a_loadable_package(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    readme = train_face_features(folder, tmp_path / "net", epochs=1, batch=16, check_faces=4, progress=False,
                                 config=FaceFeatures.Config(channels=(4, 8), convs=(1, 1)))
    assert "36 faces" in readme["split"] and readme["heldout_check"]["n"] == 4  # 10 % held out, never trained on
    assert readme["cpu_seconds"] >= 0 and readme["threads"] == 1 and len(readme["curve"]) == 1
    model = load_face_features(tmp_path / "net")
    assert model.feature_dim == 8 and model.embed_images(torch.rand(3, 3, 64, 64)).shape == (3, 8)
