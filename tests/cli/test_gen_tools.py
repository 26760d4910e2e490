import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentworks.cli import dispatch
from latentworks.errors import LatentworksError
from latentworks.models.io import save_model

vae_mod = pytest.importorskip("latentworks.models.vae")
cond_mod = pytest.importorskip("latentworks.models.conditional")

TINY = {"filters": 8, "max_filters": 16}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    torch.manual_seed(0)
    save_model(vae_mod.VAE(vae_mod.VAE.Config(latent_dim=2, **TINY)), root / "vae")
    save_model(cond_mod.CGAN(cond_mod.CGAN.Config(latent_dim=3, **TINY)), root / "cgan")
    return root


def run(*argv):
    return dispatch(["gen", *map(str, argv)])


def printed_path(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_sample_interpolate_arith_sweep_manifold_write_pngs(runs, capsys, tmp_path):
    vae = runs / "vae"
    assert run("sample", vae, "--n", 3, "--seed", 334, "--truncate", 2, "--scale", 0.5) == 0
    path = printed_path(capsys)
    assert path.endswith("sample_n3_seed334_t2_s0.5.png") and (vae / "figures").exists()
    run("interpolate", vae, "--seed", 4, "--steps", 5, "--slerp", "-o", tmp_path / "i.png")
    assert printed_path(capsys) == str(tmp_path / "i.png") and (tmp_path / "i.png").exists()
    run("arith", vae, "--grid-seed", 334, "--n", 3, "--a", "1,2", "--b", "3", "--c", "8,0")
    assert printed_path(capsys).endswith("arith_seed334.png")
    run("sweep-dim", vae, "--dim", 1, "--from", -5, "--to", 5, "--steps", 4)
    assert printed_path(capsys).endswith("sweep_dim1_seed0.png")
    run("manifold", vae, "--n", 3)
    assert printed_path(capsys).endswith("manifold_n3.png")
    run("traverse", runs / "cgan", "--points", 3, "--steps", 50, "--label", 7)
    assert printed_path(capsys).endswith(".gif")


def test_encode_decode_reconstruct_user_images(runs, capsys, tmp_path):
    from PIL import Image

    img = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)).save(img)
    run("encode", runs / "vae", img, img)
    payload = json.loads(capsys.readouterr().out)
    assert payload["latent_dim"] == 2 and len(payload["z"]) == 2
    run("encode", runs / "vae", img, "--invert", "-o", tmp_path / "z.json")
    assert printed_path(capsys) == str(tmp_path / "z.json")
    run("decode", runs / "vae", tmp_path / "z.json")
    assert printed_path(capsys).endswith("decode_z.png")
    run("reconstruct", runs / "vae", img)
    out = capsys.readouterr().out
    assert "mean pixel MSE" in out and out.strip().endswith("reconstruct.png")


@pytest.mark.parametrize("argv, match", [
    (["arith", "vae", "--grid-seed", 334, "--a", "17,23,5", "--b", 100, "--c", 1], r"0\.\.99"),
    (["sweep-dim", "vae", "--dim", 2], "latent_dim is 2"),
    (["manifold", "cgan"], "latent_dim is 3"),
    (["decode", "cgan", "ZJSON"], "latent_dim is 3"),
    (["reconstruct", "cgan", "IMG"], "no encoder"),
    (["sample", "vae", "--label", 3], "unconditional"),
    (["sample", "cgan", "--label", 12], "between 0 and 9"),
    (["sample", "missing"], "not a run folder"),
    (["interpolate", "vae", "--steps", 1], "between 2 and 4,096"),
])
def test_user_mistakes_are_one_line_errors(runs, tmp_path, argv, match):
    z = tmp_path / "z.json"
    z.write_text(json.dumps({"z": [[0.0, 1.0]]}))
    img = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (28, 28)).save(img)
    subs = {"vae": runs / "vae", "cgan": runs / "cgan", "missing": tmp_path / "nope", "ZJSON": z, "IMG": img}
    argv = [subs.get(a, a) if isinstance(a, str) else a for a in argv]
    with pytest.raises(LatentworksError, match=match) as err:
        run(*argv, "-o", tmp_path / "out.png")  # a new file: the shared runs' own figures may exist already
    assert "\n" not in str(err.value)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    from latentworks.models.digit_reader import DigitReader

    save_model(DigitReader(DigitReader.Config(channels=(4, 8), feature_dim=8)), tmp_path / "reader")
    with pytest.raises(LatentworksError, match="digit_reader"):
        run("sample", tmp_path / "reader")


def test_eval_on_the_embedded_sample_with_a_given_reader(runs, tmp_path, capsys):
    from latentworks.models.digit_reader import DigitReader

    torch.manual_seed(0)
    save_model(DigitReader(DigitReader.Config(channels=(4, 8), feature_dim=8)), tmp_path / "reader")
    out = tmp_path / "eval.json"
    run("eval", runs / "vae", "--n", 60, "--reader", tmp_path / "reader", "--data-dir", "embedded",
        "--no-kid", "--k", 3, "--nll-images", 4, "-o", out)
    text = capsys.readouterr().out
    assert "FLD" in text and "IW NLL" in text
    result = json.loads(out.read_text())
    assert sum(result["class_histogram"]) == 60 and result["fld_floor"] >= 0
    assert result["likelihood"]["n"] == 4 and result["reader"]["weights_sha256_16"]
    with pytest.raises(LatentworksError, match="reader"):
        run("eval", runs / "vae", "--n", 20, "--reader", runs / "cgan", "--data-dir", "embedded")
    from latentworks.models.dcgan import DCGAN

    save_model(DCGAN(DCGAN.Config(latent_dim=4, codes=3, **TINY)), tmp_path / "info")
    run("eval", tmp_path / "info", "--n", 30, "--reader", tmp_path / "reader", "--data-dir", "embedded",
        "--no-kid", "-o", tmp_path / "info.json")
    assert "code purity" in capsys.readouterr().out
    info = json.loads((tmp_path / "info.json").read_text())
    assert len(info["code_classes"]) == 3 and 0.1 <= info["code_purity"] <= 1  # ≥ 1 / classes by definition
    import shutil

    shutil.copytree(runs / "vae", tmp_path / "fashion")
    (tmp_path / "fashion" / "config.json").write_text(json.dumps({"data": {"data": "fashion-mnist"}}))
    with pytest.raises(LatentworksError, match="fashion-mnist"):
        run("eval", tmp_path / "fashion", "--reader", tmp_path / "reader", "--data-dir", "embedded")


def test_directions_print_each_share_and_write_the_default_figure(runs, capsys, tmp_path):
    assert run("directions", runs / "cgan", "--n", 2, "--seed", 1, "--steps", 3) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("ganspace") and [line.split()[0] for line in lines[1:3]] == ["PC1", "PC2"]
    shares = [float(line.split()[1].rstrip("%")) for line in lines[1:3]]
    assert 0 < shares[1] <= shares[0] <= 100
    assert lines[-1] == str(runs / "cgan" / "figures" / "directions_n2_seed1.png") and Path(lines[-1]).exists()
    run("directions", runs / "vae", "--n", 5, "-o", tmp_path / "d.png")
    out = capsys.readouterr().out
    assert "no config.json" in out and out.count("PC") == 2  # an encoder without its data; 2 latent dimensions
    assert (tmp_path / "d.png").exists()
    with pytest.raises(LatentworksError, match="between 1 and 4,096"):
        run("directions", runs / "vae", "--n", 0)


def test_the_main_cli_reports_one_line(runs, capsys):
    from latentworks.cli import main

    argv = ["gen", "arith", str(runs / "vae"), "--grid-seed", "1", "--a", "100", "--b", "1", "--c", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "0..99" in err and len(err.strip().splitlines()) == 1
