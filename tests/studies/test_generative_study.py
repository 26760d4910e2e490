"""``latentworks run --profile test --only generative``: the generative study end to end, in seconds."""

import json
import math

import numpy as np
import torch

from latentworks.cli import main
from latentworks.recipes.studies import GENERATIVE
from latentworks.studies import generative_figures as study


def test_generative_study_writes_report_and_results(tmp_path, capsys):
    out = tmp_path / "study"
    threads = torch.get_num_threads()
    assert main(["run", "--profile", "test", "--only", "generative", "--out", str(out), "--no-progress"]) == 0
    assert torch.get_num_threads() == threads  # the study's single-thread setting does not leak
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-3].startswith("Done in ") and lines[-2].endswith(str((out / "report.html").resolve()))
    assert lines[-1].endswith(f"latentworks explore {out.resolve()}")

    html = (out / "report.html").read_text()
    assert "Generative models on MNIST" in html
    assert "FLD floor" in html and "conditional accuracy" in html
    assert html.count("<img") >= 10  # grids, interpolations, arithmetic, histogram, run figures

    results = json.loads((out / "results.json").read_text())
    assert list(results["studies"]) == ["generative"]
    mnist = results["studies"]["generative"]["metrics"]["mnist"]
    plan = GENERATIVE["test"]
    for name in ("vae", "dcgan", "cgan"):
        m = mnist[name]
        assert sum(m["class_histogram"]) == plan.eval_n == m["n"]
        assert math.isfinite(m["fld"]) and m["fld_floor"] > 0
        assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1
        assert (out / "generative" / "mnist" / "figures" / f"{name}_samples.png").exists()
        assert (out / "generative" / "mnist" / "figures" / f"{name}_interpolation.png").exists()
    assert 0 <= mnist["cgan"]["conditional_accuracy"] <= 1
    assert "conditional_accuracy" not in mnist["dcgan"]
    vae = mnist["vae"]
    assert vae["iw_k"] == plan.nll_k and vae["iw_images"] == plan.nll_images
    assert vae["iw_nll_nats"] <= vae["neg_elbo_nats"] + 1.0  # the IW bound is at least as tight (MC noise)
    for name in ("vae", "dcgan"):
        cells = mnist[name]["arithmetic"]["cells"]
        assert all(len(v) == 3 for v in cells.values())
    assert mnist["reader"]["weights_sha256_16"]


def test_grey_share_and_attributes():
    sharp = np.zeros((2, 28, 28), np.float32)
    sharp[:, 10:18, 10:18] = 1.0
    from latentworks.pipelines.generative_eval import grey_share

    assert grey_share(sharp) == 0.0
    assert grey_share(np.full((1, 28, 28), 0.5, np.float32)) == 1.0
    assert np.allclose(study.ink(sharp), 64 / 784)
    rgb = np.ones((1, 4, 4, 3), np.float32)
    assert abs(study.luminance(rgb)[0] - 1.0) < 1e-6


def test_attribute_arithmetic_without_reader_picks_extremes(tmp_path):
    from latentworks.latent.tools import sample_grid
    from latentworks.pipelines.generative import build_model
    from latentworks.recipes.generative import recipe, resolve

    torch.manual_seed(0)
    cfg = recipe("default", kind="vae", **{"model.latent_dim": 4, "model.filters": 4, "model.max_filters": 8})
    model = build_model(resolve(cfg)).eval()
    row = study.attribute_arithmetic(model, 3, 4, study.ink, "ink", tmp_path / "arith.png")
    ink = study.ink(sample_grid(model, 4, 3).images)
    order = np.argsort(ink, kind="stable")
    assert row["cells"]["a"] == order[-3:][::-1].tolist()
    assert row["cells"]["b"] == order[:3].tolist()
    assert row["ink_a"] >= row["ink_b"]
    assert (tmp_path / "arith.png").exists() and row["digit_a"] is None


def test_class_fld_figure_draws_measured_classes_and_skips_unmeasured_ones(tmp_path):
    from PIL import Image

    measured = {"fld_per_class": [1.0, None, *[2.0] * 8], "fld_per_class_floor": [0.5] * 10}
    path = study.class_fld_figure({"dcgan": measured, "vae": {"fld_per_class": [None] * 10}}, tmp_path / "c.png")
    assert path == tmp_path / "c.png" and Image.open(path).size[0] > 400
    unmeasured = {"fld_per_class": [None] * 10, "fld_per_class_floor": [None] * 10}
    assert study.class_fld_figure({"dcgan": unmeasured}, tmp_path / "none.png") is None
    assert study.class_fld_figure({"cgan": {}}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_the_likelihood_is_scored_for_kinds_with_an_unconditional_elbo():
    """The study's IW-NLL goes to the kinds whose ELBO is of p(x) alone, as their registrations say."""
    from latentworks import registry
    from latentworks.studies.generative_runs import scores_likelihood

    scored = {k for k in registry.kind_names("generative") if scores_likelihood(k)}
    assert scored == {k for k in registry.kind_names("generative", "elbo") if not registry.kind(k).can("label")}
    assert "vae" in scored and not scored & {"cvae", "dcgan", "cgan", "cae"}
