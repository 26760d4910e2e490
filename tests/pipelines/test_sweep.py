"""The train-fraction sweep: one held-out-scored run per fraction, and its two figures."""

import json

from latentworks.pipelines.sweep import run_dir_of, sweep
from latentworks.recipes.arithmetic import RunConfig, recipe


def test_sweep_scores_every_fraction_and_draws_both_figures(tmp_path):
    def make(fraction: float) -> RunConfig:
        return recipe("columns", task="text2text", **{"data.train_fraction": fraction, "data.max_int": 9,
                                                    "train.epochs": 2, "model.hidden": 16, "train.progress": False})

    summary = sweep(make, [0.3, 0.6], tmp_path)
    rows = summary["rows"]
    assert [r["train_fraction"] for r in rows] == [0.3, 0.6]
    for row in rows:
        assert row["run"] == str(run_dir_of(tmp_path, make(row["train_fraction"])))
        saved = json.loads((tmp_path / row["run"] / "results.json").read_text())
        assert row["exact_match"] == saved["test"]["exact_match"]
        assert row["abs_error"] == saved["test"]["abs_error"]
    assert {p.rsplit("/", 1)[-1] for p in summary["figures"]} == {"sweep_training_curves.png",
                                                                    "exact_match_vs_fraction.png"}
    assert json.loads((tmp_path / "sweep.json").read_text())["rows"] == json.loads(json.dumps(rows))
