"""Every number the study's page shows in its summary and its run lines is read back from the run's results.json.

The page tags each value it took from a run (``<span class="v" data-key=... data-fmt=...>`` inside an element with
``data-run``); this test parses the page, finds each value in the run's results.json under its key, and checks the
text is what ``report.names.fmt`` makes of it, so the page can no longer disagree with the data.

The same check reads a finished quick study's page when ``LATENTWORKS_QUICK_STUDY`` names its folder (read only):

    LATENTWORKS_QUICK_STUDY=runs/quick python -m pytest tests/studies/test_report_readback.py -k quick
"""

import html
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from latentworks import registry
from latentworks.cli import main
from latentworks.report.html import value_at
from latentworks.report.names import fmt
from latentworks.runs import RunDir, read_results_json

VOID = {"img", "meta", "br", "hr", "input", "link", "source"}


class Tagged(HTMLParser):
    """Every tagged value with the run it belongs to, where it sits (a run line, a run table, a summary row)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.values: list[dict[str, str]] = []
        self.run_lines: dict[str, list[str]] = {}  # run folder -> the keys its folded line shows, in order
        self.summary_rows: list[dict[str, str]] = []  # one per row of the summary table: its run, its keys
        self._open: dict[str, str] | None = None

    def _inside(self, tag: str, **attrs: str) -> bool:
        return any(t == tag and all(v in a.get(k, "").split() for k, v in attrs.items()) for t, a in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in VOID:
            return
        self.stack.append((tag, a))
        if tag == "tr" and self._inside("table", **{"class": "summary"}) and self._inside("tbody"):
            self.summary_rows.append({"run": a.get("data-run", ""), "keys": ""})
        if tag == "details" and "data-run" in a:
            self.run_lines.setdefault(a["data-run"], [])
        if tag == "span" and "data-key" in a:
            run = next((x["data-run"] for _, x in reversed(self.stack) if "data-run" in x), "")
            where = ("summary row" if self._inside("table", **{"class": "summary"})
                     else "run line" if self._inside("summary") else "run table")
            self._open = {"run": run, "key": a["data-key"], "fmt": a["data-fmt"], "where": where, "text": ""}
            if where == "run line":
                self.run_lines[run].append(a["data-key"])
            if where == "summary row":
                self.summary_rows[-1]["keys"] += a["data-key"] + " "

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if tag == "span" and self._open is not None:
            self.values.append(self._open)
            self._open = None
        if any(t == tag for t, _ in self.stack):  # a stray end tag closes nothing
            while self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data


@pytest.fixture(scope="module")
def study(serial_study) -> Path:
    return serial_study


@pytest.fixture(scope="module", params=["test", "quick"])
def profile_study(request) -> tuple[str, Path]:
    """The test profile's study (trained here), or the finished quick study ``LATENTWORKS_QUICK_STUDY`` names."""
    if request.param == "test":
        return "test", request.getfixturevalue("study")
    folder = os.environ.get("LATENTWORKS_QUICK_STUDY")
    if not folder:
        pytest.skip("the quick profile trains for minutes: set LATENTWORKS_QUICK_STUDY to a finished quick study")
    study = Path(folder).resolve()
    assert (study / "report.html").is_file(), f"{study} holds no report.html: not a finished study"
    assert read_results_json(study / "results.json").get("profile") == "quick", f"{study} is not a quick study"
    return "quick", study


def test_every_number_in_the_summary_and_the_run_lines_is_the_runs_results_json(profile_study):
    profile, study = profile_study
    page = Tagged()
    page.feed((study / "report.html").read_text())
    results = {run: RunDir(run, create=False).read_results() for run in {v["run"] for v in page.values}}
    assert page.values and all(v["run"] for v in page.values)  # no tagged value without its run
    for v in page.values:
        value = value_at(results[v["run"]], v["key"])
        assert value is not None, f"{v['where']} of {v['run']} shows {v['key']}, which its results.json lacks"
        assert v["text"] == html.unescape(fmt(value, v["fmt"])), v
        registered = {m.key: m.fmt for m in registry.measures_of(results[v["run"]])}
        assert v["fmt"] == registered.get(v["key"], v["fmt"]), v  # a headline measure shown as registered

    # every row of the summary comes from a run: its figure and its held-out n, and it names the recipe
    assert len(page.summary_rows) >= 10
    for row in page.summary_rows:
        assert row["run"] and len(row["keys"].split()) == 2, row
    head = (study / "report.html").read_text().split("<table class='summary'>")[1].split("</thead>")[0]
    assert "recipe" in head
    if profile == "test":
        assert "peer" not in head  # no peer figure at this profile: the empty column is gone

    # every run line shows exactly its kind's registered headline measures, in their order; never training time
    assert len(page.run_lines) >= 10
    for run, keys in page.run_lines.items():
        assert keys == [m.key for m, _ in registry.headlines(RunDir(run, create=False).read_results())], run
        assert keys and not any(k.startswith("train.") or k == "train_seconds" for k in keys)
    families = {str(RunDir(run, create=False).read_results()["kind"]).split("/")[0] for run in page.run_lines}
    assert families == {"arithmetic", "generative", "charrnn"}


def test_the_generative_evaluation_is_in_each_runs_results_json_and_a_rerun_leaves_it(study, tmp_path):
    study = Path(shutil.copytree(study, tmp_path / "study"))  # the resume below must not touch the shared study
    runs = [study / "generative" / "mnist" / name / "results.json" for name in ("vae", "dcgan", "cgan")]
    for path in runs:
        ev = RunDir(path.parent, create=False).read_results()["eval"]
        assert sum(ev["class_histogram"]) == ev["n"]
        assert ev["class_histogram"][ev["class_worst_digit"]] == ev["class_worst_count"]
        expected = ev["n"] / len(ev["class_histogram"])
        assert ev["class_max_rel_deviation"] == pytest.approx((ev["class_worst_count"] - expected) / expected)
    page = (study / "report.html").read_text()
    # one seeded grid per model: the study's numbered grid, not the run's own (another seed) as well
    assert page.count("samples from the prior (grid seed") == 2 * 3  # alt text and caption of three grids
    assert "samples from the prior, cells numbered" not in page
    before = {p: p.read_bytes() for p in runs}
    assert main(["run", "--profile", "test", "--only", "generative", "--out", str(study), "--no-progress",
                 "--data-dir", "embedded", "--resume"]) == 0
    assert {p: p.read_bytes() for p in runs} == before  # scored once: a resume neither re-scores nor rewrites
