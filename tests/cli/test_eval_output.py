"""``arithmetic eval`` follows the one output rule for the files it writes under RUN/length/: the same
measurement is reused, another one replaces a file only with --overwrite, and a refused command writes nothing,
not even the lengths before the refused one.

The bad-input case for tests/test_bad_inputs.py (its catalogue is being rewritten elsewhere): ``arithmetic eval
{t2t} --digits 3 --n 20`` after ``--n 10`` into the same file → exit 2, one line naming --overwrite, the file
byte-identical."""

import pytest

import latentworks as lw
from latentworks.cli import main
from latentworks.recipes.arithmetic import example


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval-output") / "t2t"
    lw.train(example("text2text_aligned"), out)  # seconds: the plumbing, not the quality
    return out


def _eval(*argv: str) -> int:
    return main(["arithmetic", "eval", *argv])


def _tree(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_measurement_is_reused_and_another_needs_overwrite(run, capsys):
    assert _eval(str(run), "--digits", "3", "--n", "10") == 0
    first = run / "length" / "digits-3-plus-minus-seed0.json"
    written = first.read_bytes()
    assert _eval(str(run), "--digits", "3", "--n", "10") == 0  # same queries, same weights: nothing to replace
    assert first.read_bytes() == written
    capsys.readouterr()

    before = _tree(run)
    assert _eval(str(run), "--digits", "3", "--n", "20") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err and "Traceback" not in err, err
    assert _tree(run) == before

    assert _eval(str(run), "--digits", "3", "--n", "20", "--overwrite") == 0
    assert first.read_bytes() != written and '"n_requested": 20' in first.read_text()


def test_a_refused_length_leaves_the_lengths_before_it_unwritten(run, capsys):
    assert _eval(str(run), "--digits", "4", "--n", "10", "--seed", "3") == 0
    capsys.readouterr()
    before = _tree(run)
    # 5 digits would be new, 4 digits is another measurement in an existing file: refused before any scoring
    assert _eval(str(run), "--digits", "5", "4", "--n", "12", "--seed", "3") == 2
    err = capsys.readouterr().err
    assert "digits-4-plus-minus-seed3.json" in err and "--overwrite" in err
    assert _tree(run) == before and not (run / "length" / "digits-5-plus-minus-seed3.json").exists()


def test_a_folder_where_the_file_goes_is_never_replaced(run, capsys):
    (run / "length" / "digits-6-plus-minus-seed0.json").mkdir(parents=True)
    before = _tree(run)
    assert _eval(str(run), "--digits", "6", "--n", "10", "--overwrite") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a folder" in err, err
    assert _tree(run) == before and (run / "length" / "digits-6-plus-minus-seed0.json").is_dir()


def test_the_api_keeps_the_rule_too(run):
    from latentworks.errors import LatentworksError
    from latentworks.pipelines.length import evaluate_length

    kept = evaluate_length(run, 7, n=10, seed=4)
    assert evaluate_length(run, 7, n=10, seed=4)["exact_match"] == kept["exact_match"]  # reused
    with pytest.raises(LatentworksError, match="--overwrite"):
        evaluate_length(run, 7, n=11, seed=4)
    assert evaluate_length(run, 7, n=11, seed=4, overwrite=True)["n_requested"] == 11
