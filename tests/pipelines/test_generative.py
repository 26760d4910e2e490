"""Generative runs end to end on tiny settings: CLI training, run folders, determinism, resume, bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from latentworks.cli import main
from latentworks.errors import LatentworksError
from latentworks.models.io import load_model
from latentworks.pipelines.generative import load_generative, train_generative
from latentworks.recipes.generative import recipe

torch.set_num_threads(1)
MNIST = ["--data", "mnist", "--data-dir", "embedded", "--no-progress"]
TINY = dict(
    data="mnist",
    data_dir="embedded",
    limit=96,
    batch_size=32,
    filters=4,
    max_filters=8,
    latent_dim=4,
    eval_images=64,
    snapshot_grid=2,
    progress=False,
)
# Where each short name lives in the run config (the rest are model fields).
HOME = {"data": "data.data", "data_dir": "data.data_dir", "limit": "data.limit", "size": "data.size",
        "binarize": "data.binarize", "batch_size": "train.batch_size", "epochs": "train.epochs", "seed": "train.seed",
        "progress": "train.progress", "device": "train.device", "lr": "train.lr", "eval_images": "eval.eval_images",
        "snapshot_grid": "eval.snapshot_grid"}


def gen(kind: str, **kw):
    """The default recipe of ``kind`` with short-named changes."""
    return recipe("default", kind=kind, **{HOME.get(k, f"model.{k}"): v for k, v in kw.items()})


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTWORKS_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """A tiny VAE and a tiny DCGAN trained through the CLI on 512 MNIST images for one epoch."""
    root = tmp_path_factory.mktemp("gen")
    outs = {}
    for model in ("vae", "dcgan"):
        out = root / model
        code = main(
            [
                "gen",
                "train",
                "--model",
                model,
                *MNIST,
                "--limit",
                "512",
                "--epochs",
                "1",
                "--size",
                "28",
                "--filters",
                "8",
                "--out",
                str(out),
                "--eval-images",
                "200",
                "--snapshot-grid",
                "4",
            ]
        )
        assert code == 0
        outs[model] = out
    return outs


def test_cli_vae_run_folder(cli_runs):
    out = cli_runs["vae"]
    for name in ("config.json", "results.json", "metrics.jsonl", "model.json", "model.safetensors"):
        assert (out / name).exists(), name
    for name in ("epoch_001.png", "epochs.gif", "samples.png", "loss.png", "reconstructions.png"):
        assert (out / "figures" / name).exists(), name
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == "generative/vae" and results["train"]["images"] == 512
    assert results["train"]["steps"] == 4 and results["data"]["test_images"] == 1000
    assert results["test"]["elbo"] < 0 and 0 < results["test"]["recon_mse"] < 0.5
    model = load_generative(out)
    assert model.kind == "vae" and model.config.image_size == 28
    with torch.no_grad():
        assert model.decode(model.sample_latent(3)).shape == (3, 1, 28, 28)


def test_cli_dcgan_logs_discriminator_accuracy(cli_runs):
    out = cli_runs["dcgan"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "d_loss" in r]
    assert train_rows and {"g_loss", "d_acc_real", "d_acc_fake"} <= set(train_rows[-1])
    assert any("eval/d_acc_heldout_real" in r for r in rows)
    assert (out / "figures" / "d_accuracy.png").exists()
    with Image.open(out / "figures" / "epochs.gif") as gif:
        assert gif.format == "GIF"
    assert load_generative(out).kind == "dcgan"


def test_checkpoint_of_another_model_kind_is_refused(cli_runs, capsys):
    with pytest.raises(LatentworksError, match="holds a 'vae' model"):
        load_model(cli_runs["vae"], expect="dcgan")
    code = main(
        [
            "gen",
            "train",
            "--model",
            "dcgan",
            *MNIST,
            "--epochs",
            "2",
            "--out",
            str(cli_runs["vae"]),
            "--resume",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "holds a 'vae' run, not 'dcgan'" in err and len(err.strip().splitlines()) == 1


def test_wrong_size_is_a_one_line_error(tmp_path, capsys):
    code = main(["gen", "train", "--model", "vae", *MNIST, "--size", "30", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "--size 30" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "checkpoints").exists()


def test_resume_with_another_size_is_refused(cli_runs, capsys):
    code = main(
        [
            "gen",
            "train",
            "--model",
            "vae",
            *MNIST,
            "--size",
            "32",
            "--filters",
            "8",
            "--epochs",
            "2",
            "--out",
            str(cli_runs["vae"]),
            "--resume",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--size 28, not 32" in err


def test_empty_folder_and_unlabelled_conditional_are_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(
        [
            "gen",
            "train",
            "--model",
            "vae",
            "--data",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    )
    assert code == 2 and "no valid image" in capsys.readouterr().err
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(4):
        Image.fromarray(np.full((10, 10, 3), 40 * i, np.uint8)).save(pics / f"{i}.png")
    with pytest.raises(LatentworksError, match="needs class labels"):
        train_generative(gen("cgan", data=str(pics), size=8, progress=False), tmp_path / "c")


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


@pytest.mark.parametrize("model, extra", [("vae", {}), ("dcgan", {}), ("dcgan", {"bf16": True})],
                         ids=["vae", "dcgan", "dcgan-bf16"])
def test_same_seed_same_weights(tmp_path, model, extra):
    if extra.get("bf16"):
        from latentworks.models.builders import check_bf16

        try:
            check_bf16(torch.device("cpu"))
        except LatentworksError:
            pytest.skip("this CPU has no bfloat16 units")
    cfg = gen(model, epochs=1, **TINY, **extra)
    train_generative(cfg, tmp_path / "a")
    train_generative(cfg, tmp_path / "b")
    assert_same_weights(tmp_path / "a", tmp_path / "b")
    train_generative(gen(model, epochs=1, seed=1, **TINY, **extra), tmp_path / "c")
    wa, wc = weights(tmp_path / "a"), weights(tmp_path / "c")
    assert any(not torch.equal(wa[k], wc[k]) for k in wa if wa[k].is_floating_point())


@pytest.mark.parametrize(
    "model, extra",
    [("vae", {}), ("cgan", {"ema": 0.9, "augment": "color,translation,cutout"}),
     ("vae", {"pixel_layers": 2, "pixel_channels": 4, "binarize": True})],
)
def test_resume_equals_uninterrupted_training(tmp_path, model, extra):
    train_generative(gen(model, epochs=2, **TINY, **extra), tmp_path / "straight")
    train_generative(gen(model, epochs=1, **TINY, **extra), tmp_path / "resumed")
    results = train_generative(gen(model, epochs=2, **TINY, **extra), tmp_path / "resumed", resume=True)
    assert_same_weights(tmp_path / "straight", tmp_path / "resumed")
    if "ema" in extra:  # the generator's weight average and its update count resume too (and the augmentations,
        # drawn from the step's noise, are the same ones)
        assert int(weights(tmp_path / "resumed")["ema_updates"]) == 6
    if "pixel_layers" in extra:  # the autoregressive decoder is scored by its ELBO, not by drawn reconstructions
        assert results["test"]["elbo"] < 0 and "recon_mse" not in results["test"]
        assert load_generative(tmp_path / "resumed").pixel_head is not None
    assert results["train"]["steps"] == 6
    assert sorted(p.name for p in (tmp_path / "resumed" / "figures").glob("epoch_*.png")) == [
        "epoch_001.png",
        "epoch_002.png",
    ]


def test_a_fitted_prior_is_fitted_when_training_ends_and_travels_with_the_run(tmp_path):
    train_generative(gen("vae", epochs=1, prior="fitted", **TINY), tmp_path / "vae")
    model = load_generative(tmp_path / "vae")
    assert not torch.equal(model.prior_chol, torch.eye(4)) and bool(model.prior_mean.abs().sum() > 0)
    saved = weights(tmp_path / "vae")
    assert torch.equal(saved["prior_chol"], model.prior_chol)  # in model.safetensors, not refitted on load
    z = model.sample_latent(8, torch.Generator().manual_seed(0))
    plain = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(z, model.prior_mean + plain @ model.prior_chol.T)


def test_folder_training_with_holdout_and_rgb(tmp_path):
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(20):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(
            pics / f"{i}.jpg"
        )
    results = train_generative(
        gen("cae", data=str(pics), size=8, epochs=1, batch_size=8, filters=4, latent_dim=3, progress=False),
        tmp_path / "cae",
    )
    assert results["data"]["test_images"] == 2 and results["train"]["images"] == 18
    assert results["data"]["channels"] == 3 and 0 < results["test"]["recon_mse"] < 1


DDP_SCRIPT = """
import sys
import torch
torch.set_num_threads(1)
from latentworks.pipelines import generative as G
from latentworks.training.trainer import Trainer
fit = Trainer.fit
def checked_fit(self, *a, **k):
    out = fit(self, *a, **k)
    import gc
    from torch.nn.parallel import DistributedDataParallel
    # Every DDP wrapper is gone once fit returns: one left over keeps gloo alive into interpreter shutdown.
    assert not torch.distributed.is_initialized()
    assert not [o for o in gc.get_objects() if isinstance(o, DistributedDataParallel)]
    total = sum(float(p.detach().double().sum()) for p in self.raw_model.parameters())
    (G.Path(sys.argv[1]) / f"rank{self.dist.rank}.txt").write_text(repr(total))
    return out
Trainer.fit = checked_fit
model, d_norm, codes = sys.argv[2], sys.argv[3], int(sys.argv[4])
from latentworks.recipes.generative import recipe
changes = {"data.data_dir": "embedded", "data.limit": 64, "train.batch_size": 16, "model.filters": 4,
           "model.latent_dim": 4, "train.epochs": 1, "train.progress": False, "train.device": "cpu",
           "model.d_norm": d_norm if d_norm != "-" else None, "model.codes": codes}
G.train_generative(recipe("default", kind=model, **changes), sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.parametrize("model,d_norm,codes", [("cgan", "-", 0), ("dcgan", "spectral", 3)])
def test_two_process_gloo_ddp_gan_keeps_ranks_in_sync(tmp_path, model, d_norm, codes):
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_gan.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "ddp"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LATENTWORKS_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29547",
        str(script),
        str(out),
        model,
        d_norm,
        str(codes),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "rank0.txt").read_text() == (out / "rank1.txt").read_text()
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == f"generative/{model}"
    assert results["config"]["model"]["d_norm"] == (None if d_norm == "-" else d_norm)
    assert results["config"]["model"]["codes"] == codes


def test_cli_spectral_discriminator_with_its_own_rate(tmp_path, capsys):
    out = tmp_path / "sn"
    args = ["gen", "train", "--model", "dcgan", *MNIST, "--limit", "96", "--batch-size", "32", "--filters", "4",
            "--max-filters", "8", "--latent-dim", "4", "--eval-images", "64", "--snapshot-grid", "2",
            "--out", str(out)]
    assert main([*args, "--epochs", "1", "--d-norm", "spectral", "--lr", "1e-4", "--d-lr", "4e-4"]) == 0
    model = load_generative(out)
    assert model.config.d_norm == "spectral"
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["d_lr"] == 4e-4
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--d-norm", "batch", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "trained with --d-norm spectral, not batch" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(LatentworksError, match="--norm 'spectral' is not one of"):
        train_generative(gen("vae", norm="spectral", **TINY), tmp_path / "v")


def test_gan_options_on_an_autoencoder_and_codes_through_the_cli(tmp_path, capsys):
    for name, value in (("codes", 10), ("ema", 0.999), ("d-lr", 1e-3), ("pixel-layers", 2)):
        model = "vae" if name != "pixel-layers" else "dcgan"
        assert main(["gen", "train", "--model", model, f"--{name}", str(value), "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert f"--{name} is an option of" in err and f"not of the {model} model" in err, err
        with pytest.raises(LatentworksError, match="no field"):
            gen(model, **{name.replace("-", "_"): value})
    out = tmp_path / "info"
    assert main(["gen", "train", "--model", "dcgan", *MNIST, "--limit", "96", "--batch-size", "32", "--filters", "4",
                 "--max-filters", "8", "--latent-dim", "6", "--codes", "3", "--eval-images", "64",
                 "--snapshot-grid", "2", "--epochs", "1", "--out", str(out)]) == 0
    assert load_generative(out).config.codes == 3
    assert (out / "figures" / "codes.png").exists()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(0 <= r.get("code_acc", -1) <= 1 for r in rows)
