"""The Python API: the README's example runs as written, and every run kind has exactly its verbs."""

import re
from pathlib import Path

import numpy as np
import pytest

import latentworks as lw
from latentworks.errors import LatentworksError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    section = README.read_text().split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(8, " in out and (tmp_path / "runs" / "api-t2t" / "results.json").is_file()
    answer, exact = out.splitlines()[0].split()
    assert answer == "7" and float(exact) >= 0.9, out  # the model learned to add, and says so without padding
    assert code.count("overwrite=True)") == 2  # both lw.train calls: running it again moves the first runs aside


def test_a_second_train_into_one_folder_names_the_api_arguments(tmp_path, capsys):
    cfg = lw.recipe("arithmetic", "columns", task="text2text", **{"data.max_int": 9, "train.steps": 2,
                                                                "train.progress": False, "model.hidden": 8})
    first = lw.train(cfg, tmp_path / "run")
    with pytest.raises(LatentworksError, match=r"already holds a run; pass overwrite=True .* resume=True") as err:
        lw.train(cfg, tmp_path / "run")
    assert "--" not in str(err.value)  # no command-line flag in a Python caller's error
    with pytest.raises(LatentworksError, match="resume=True and overwrite=True contradict"):
        lw.train(cfg, tmp_path / "run", resume=True, overwrite=True)
    again = lw.train(cfg, tmp_path / "run", overwrite=True)
    assert (tmp_path / "run.old-1" / "results.json").is_file() and again.predict("3+4") == first.predict("3+4")


def test_verbs_follow_the_kind(tmp_path):
    cfg = lw.recipe("arithmetic", "columns", task="text2text", **{"data.max_int": 9, "train.epochs": 1,
                                                                "train.progress": False, "model.hidden": 16})
    run = lw.train(cfg, tmp_path / "t2t")
    again = lw.load(tmp_path / "t2t")
    answer = run.predict("9+9")
    assert again.predict("3+4") == run.predict("3+4") and answer == answer.strip() and 1 <= len(answer) <= 2
    assert run.evaluate()["n"] == run.results["test"]["n"]  # the held-out split, scored again
    with pytest.raises(LatentworksError, match="has no sample\\(\\); it has predict, evaluate"):
        run.sample()
    with pytest.raises(LatentworksError, match="has no directions\\(\\)"):
        run.directions()
    with pytest.raises(LatentworksError, match="malformed"):
        run.predict("3++4")
    with pytest.raises(LatentworksError, match="not a run config"):
        lw.train({"train": {}}, tmp_path / "x")


def test_a_generative_run_samples_deterministically(tmp_path):
    vae = lw.train(lw.recipe("generative", "test", kind="vae", **{"data.data_dir": "embedded", "data.limit": 64,
                                                                  "train.progress": False}), tmp_path / "vae")
    a, b = vae.sample(n=3, seed=5), vae.sample(n=3, seed=5)
    assert a.shape == (3, 28, 28) and np.array_equal(a, b) and not np.array_equal(a, vae.sample(n=3, seed=6))
    assert vae.decode(vae.encode(a)).shape == a.shape
    vectors, share = vae.directions(n=3, seed=0)  # PCA of its encoded held-out images (the embedded sample)
    assert vectors.shape == (3, vae.model.config.latent_dim) and share.shape == (3,)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1) and (np.diff(share) <= 0).all() and 0 < share.sum() <= 1
    assert np.array_equal(vae.directions(n=3, seed=0)[0], vectors)
    with pytest.raises(LatentworksError, match="latent_dim"):
        vae.decode(np.zeros((1, 3)))
