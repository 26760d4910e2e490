"""The arithmetic section's records on tiny synthetic run folders: MNIST-addition beside the published systems
(ours from the runs' results.json, "not run" where none), and multiplication exact match against operand length
from the runs' RUN/length/ files."""

import base64
import importlib.util
import io
import re
from pathlib import Path

from PIL import Image

from latentworks.report.arithmetic import (
    PUBLISHED_MNIST_ADDITION,
    mnist_addition_runs,
    mnist_addition_table,
    multiplication_curves,
    priors_table,
    records_section,
)
from latentworks.report.html import write_report
from latentworks.runs import RunDir, write_json

ROOT = Path(__file__).parents[2]


def _mnist_run(root: Path, n: int, seed: int, accuracy: float, train_sums: int) -> Path:
    run = RunDir(root / f"N{n}-seed{seed}")
    run.write_results(kind="arithmetic/img2text", seed=seed,
                      config={"task": "img2text", "recipe": "mnist-addition", "data": {"number_length": n}},
                      metrics={"test": {"sum_accuracy": accuracy, "exact_match": accuracy, "n": 5000 // n},
                               "train": {"queries": train_sums}})
    return run.root


def _text_run(root: Path, name: str, ops: str, scores: dict[str, dict]) -> Path:
    """A text→text run whose RUN/length/ holds files of the form ``arithmetic eval`` writes."""
    run = RunDir(root / name)
    run.write_results(kind="arithmetic/text2text", seed=0, config={"task": "text2text", "data": {"ops": ops}},
                      metrics={"test": {"exact_match": 0.99, "n": 9000}})
    for file, body in scores.items():
        write_json(run.root / "length" / file, body)
    return run.root


def _scored(digits: int, times: float, n: int, other: int | None = None) -> dict:
    extra = {"other_digits": other} if other else {}
    return {"digits": digits, **extra, "ops": "*", "seed": 0, "n": n, "exact_match": times,
            "exact_match_by_op": {"*": times}, "n_by_op": {"*": n}}


def _rows(table) -> dict[int, list]:
    return {row[0]: row for row in table.rows}


def test_published_figures_are_the_deepprooflog_table_and_the_benchmarks_records():
    best = {}
    for p in PUBLISHED_MNIST_ADDITION:
        assert "arXiv:2511.08581" in p.source
        best.setdefault(p.digits, (p.system, p.sum_accuracy))  # declared best first within an N
        assert p.sum_accuracy <= best[p.digits][1]
    assert best == {1: ("ABL", 0.98), 2: ("DeepStochLog", 0.964), 4: ("DPrL", 0.94), 15: ("DPrL", 0.808),
                    100: ("DPrL", 0.378)}
    spec = importlib.util.spec_from_file_location("mnist_addition_benchmark", ROOT / "benchmarks" / "mnist_addition.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert best == bench.RECORDS  # the benchmark's targets and the report's table agree


def test_ours_beside_each_published_n_and_not_run_where_there_is_no_run(tmp_path):
    runs = [_mnist_run(tmp_path, 1, 0, 0.97, 30_000), _mnist_run(tmp_path, 1, 1, 0.98, 30_000),
            _mnist_run(tmp_path, 4, 0, 0.90, 500),  # the embedded sample: not the protocol's 7,500 sums
            _text_run(tmp_path, "t2t", "+-", {})]
    assert sorted(mnist_addition_runs(runs + runs[:1])) == [1, 4]  # a run given twice counts once
    assert len(mnist_addition_runs(runs)[1]) == 2
    rows = _rows(mnist_addition_table(runs))
    assert sorted(rows) == [1, 2, 4, 15, 100]
    assert rows[1][2] == "ABL 98.0 %; DeepStochLog 97.9 %" and rows[1][3] == "97.50 ± 0.71 %"
    assert rows[1][4] == "-0.5 points" and rows[1][5] == "0, 1" and rows[1][6] == "5,000" and rows[1][7] == "30,000"
    assert rows[4][3] == "90.0 %" and rows[4][4] == "-4.0 points" and "not the protocol's 7,500" in rows[4][7]
    for n in (2, 15, 100):
        assert rows[n][3] == "not run" and rows[n][4] == "—" and rows[n][5] == "—"
    assert rows[100][1] == "300" and rows[15][2] == "DPrL 80.8 %; DeepSoftLog 77.1 %; A-NeSI 75.9 %"


def test_multiplication_curves_read_the_length_files_of_runs_with_times(tmp_path):
    times = _text_run(tmp_path, "times", "*", {
        "digits-3-times-seed0.json": _scored(3, 0.9, 100), "digits-3-times-seed1.json": _scored(3, 0.6, 50),
        "digits-6-times-seed0.json": _scored(6, 0.2, 100),
        "digits-3x2-times-seed0.json": _scored(3, 0.1, 100, other=2)})  # unequal lengths: printed, not drawn
    plus = _text_run(tmp_path, "plus", "+-", {"digits-3-plus-minus-seed0.json": {
        "digits": 3, "exact_match_by_op": {"+": 1.0}, "n_by_op": {"+": 10}}})
    curves = multiplication_curves([times, plus])
    assert list(curves) == ["times"] and sorted(curves["times"]) == [3, 6]
    assert curves["times"][3] == (0.8, 150)  # two query seeds pooled by their counts
    assert curves["times"][6] == (0.2, 100)


def test_the_section_embeds_the_figure_and_both_tables(tmp_path):
    runs = [_mnist_run(tmp_path, 2, 3, 0.95, 15_000),
            _text_run(tmp_path, "times", "*", {"digits-3-times-seed0.json": _scored(3, 0.9, 100),
                                               "digits-4-times-seed0.json": _scored(4, 0.7, 100)})]
    priors = priors_table(["recipe", "given"], [["automaton", "alignment"]], "what each recipe is given")
    section = records_section(runs, tmp_path / "figures" / "times.png", priors)
    assert [t.columns[0] for t in section.tables] == ["recipe", "N (digits per number)"]
    page = write_report([section], tmp_path / "report.html").read_text()
    assert "multiplication on operands" in page.lower() and "DeepStochLog 96.4 %" in page and "95.0 %" in page
    payload = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page).group(1)
    assert Image.open(io.BytesIO(base64.b64decode(payload))).format == "PNG"


def test_nothing_to_show_is_no_section_and_a_study_always_shows_the_published_table(tmp_path):
    plain = [_text_run(tmp_path, "plus", "+-", {})]
    assert records_section(plain, tmp_path / "f.png", mnist_addition=False) is None
    section = records_section(plain, tmp_path / "f.png")
    assert len(section.tables) == 1 and not section.figures and not (tmp_path / "f.png").exists()
    assert {row[3] for row in section.tables[0].rows} == {"not run"}


def test_a_page_of_run_folders_shows_the_records_of_the_runs_it_is_given(tmp_path):
    from latentworks.cli.report import build_report

    runs = [_mnist_run(tmp_path, 4, 0, 0.95, 7_500), _mnist_run(tmp_path, 4, 1, 0.93, 7_500),
            _text_run(tmp_path, "times", "*", {"digits-3-times-seed0.json": _scored(3, 0.9, 100),
                                               "digits-4-times-seed0.json": _scored(4, 0.7, 100)})]
    page = build_report(runs, tmp_path / "page.html").read_text()
    assert "DPrL 94.0 %" in page and "94.00 ± 1.41 %" in page and page.count("data:image/png;base64,") == 1
    plain = build_report([_text_run(tmp_path, "plus", "+-", {})], tmp_path / "plain.html").read_text()
    assert "DPrL" not in plain and "multiplication on operands" not in plain.lower()
    assert not list(tmp_path.rglob("multiplication_length.png"))  # embedded in the page, never left in a run
