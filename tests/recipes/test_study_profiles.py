"""Each profile of ``latentworks run`` trains exactly the runs its entry in ``recipes/studies.py`` names, with the
entry's settings: the study modules add no runs and no numbers of their own."""

import pytest

from latentworks.recipes.generative import recipe_kinds
from latentworks.recipes.studies import ARITHMETIC, CHARRNN, GENERATIVE, PROFILES
from latentworks.studies.catalogue import plan_study
from latentworks.studies.generative_runs import find_faces


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    root = tmp_path_factory.mktemp("plans")
    return {profile: {job.name: job for job in plan_study(profile, root / profile, progress=False)}
            for profile in PROFILES}


@pytest.mark.parametrize("profile", PROFILES)
def test_the_arithmetic_part_is_its_entry(plans, profile):
    entry, jobs = ARITHMETIC[profile], plans[profile]
    sweep = [jobs[f"{entry.sweep.task} {entry.sweep.recipe} {f:g}"] for f in entry.sweep.fractions]
    assert [j.config["data"]["train_fraction"] for j in sweep] == list(entry.sweep.fractions)
    for run in entry.runs:
        cfg = jobs[f"{run.task} {run.recipe}"].config
        assert (cfg["task"], cfg["recipe"], cfg["data"]["train_fraction"]) == (run.task, run.recipe, run.fraction)
        assert cfg["data"]["max_int"] == entry.max_int
        if run.steps:
            assert cfg["train"]["steps"] == run.steps
        if run.epochs:
            assert cfg["train"]["epochs"] == run.epochs
    assert sum(j.family == "arithmetic" for j in jobs.values()) == len(entry.sweep.fractions) + len(entry.runs)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_generative_part_is_every_kind_of_its_recipes(plans, profile):
    entry, jobs = GENERATIVE[profile], plans[profile]
    expected = list(recipe_kinds(entry.recipe))
    if entry.faces and find_faces(None) is not None:  # the faces recipe only where its folder is found
        expected += [f"faces {k}" for k in recipe_kinds(entry.faces)]
    got = [name for name, j in jobs.items() if j.family == "generative"]
    assert got == expected
    for kind in recipe_kinds(entry.recipe):
        assert (jobs[kind].config["recipe"], jobs[kind].config["data"]["limit"]) == (entry.recipe, entry.limit)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_char_rnn_part_is_its_entry(plans, profile):
    entry, jobs = CHARRNN[profile], plans[profile]
    assert jobs["numpy main"].config["recipe"] == entry.main
    assert ("torch LSTM" in jobs) == (entry.torch is not None)
    for opt, lr in entry.optimizers:
        cfg = jobs[f"{opt} lr {lr:g}"].config
        assert (cfg["recipe"], cfg["train"]["optimizer"], cfg["train"]["lr"]) == (entry.optim, opt, lr)
    grid = [j.config for name, j in jobs.items() if name.startswith("grid ")]
    cells = len(entry.grid.hidden) * len(entry.grid.lr) * len(entry.grid.seq_len) if entry.grid else 0
    assert len(grid) == cells and all(c["train"]["steps"] == entry.grid.steps for c in grid)
    assert sum(j.family == "charrnn" for j in jobs.values()) == 1 + bool(entry.torch) + len(entry.optimizers) + cells
