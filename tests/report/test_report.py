import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from latentworks.cli.report import build_report
from latentworks.errors import LatentworksError
from latentworks.pipelines import sweep
from latentworks.report import plots
from latentworks.report.html import Headline, Section, Table, load_page, render, save_page, write_report
from latentworks.report.run_section import compare_runs, section_from_run
from latentworks.runs import RunDir


def _visible_text(page: str) -> str:
    """What a reader sees: no embedded images, tooltips, folded configurations or tags."""
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    page = re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)
    page = re.sub(r'(title|alt)="[^"]*"', "", page)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def _run(root, name, lr=0.1, exact=0.75, kind="demo"):
    run = RunDir(root / name)
    plots.line_plot({"a": ([1, 2, 3], [0.1, 0.5, 0.9])}, run.figures / "loss.png", title="t", xlabel="x",
                    ylabel="y")
    run.write_results(kind=kind, config={"train": {"lr": lr, "epochs": 3}}, seed=3,
                      metrics={"test": {"exact_match": exact, "char_accuracy": 0.9251, "n": 1200}})
    return run.root


def test_run_section_shows_human_names_percentages_and_an_embedded_png(tmp_path):
    page = write_report([section_from_run(_run(tmp_path, "run", kind="arithmetic/text2text"))],
                        tmp_path / "report.html").read_text()
    text = _visible_text(page)
    assert "exact match 75.0 %" in text and "per-character accuracy 92.5 %" in text
    assert "exact_match" not in text and "char_accuracy" not in text  # raw keys stay in tooltips only
    assert f"latentworks explore {tmp_path / 'run'}" in text
    payload = page.split("data:image/png;base64,")[1].split('"')[0]
    assert Image.open(io.BytesIO(base64.b64decode(payload))).format == "PNG"
    assert "loss by step" in text  # the figure's caption says what it shows


def test_summary_table_and_contents_link_to_every_section(tmp_path):
    sections = [Section("Arithmetic", text="<p>a</p>"), Section("Generative models", tables=[
        Table(["model", "share"], [["VAE", 0.5]], formats=["text", "pct"])])]
    headlines = [Headline("arithmetic", "exact match", 0.988, course=0.074, course_note="the course notebook",
                          held_out="unseen queries", n=18000)]
    page = render(sections, headlines=headlines)
    text = _visible_text(page)
    assert "98.8 %" in text and "7.4 %" in text and "18,000" in text and "50.0 %" in text
    links = re.findall(r'href="#([^"]+)"', page)
    assert len(links) == 2 and all(f'id="{anchor}"' in page for anchor in links)
    assert "How to read this" in text


def test_page_saved_as_json_renders_the_same(tmp_path):
    run = _run(tmp_path, "run")
    sections = [Section("Part", text="<p>x</p>", figures=[(run / "figures" / "loss.png", "a curve")],
                        subsections=[section_from_run(run)])]
    headlines = [Headline("part", "measure", 0.5, peer=0.4, peer_note="someone")]
    save_page(tmp_path / "report.json", sections, "T", "<p>intro</p>", headlines)
    again = load_page(tmp_path / "report.json")

    def without_build_time(page: str) -> str:
        return re.sub(r'<p class="meta">.*?</p>', "", page, count=1)

    rebuilt = render(again.sections, title=again.title, intro=again.intro, headlines=again.headlines)
    assert without_build_time(rebuilt) == without_build_time(render(sections, "T", "<p>intro</p>", headlines))
    # the rebuilt page keeps the machine and time the study ran on, not the rebuilding one's
    page = again.write(tmp_path / "again.html")
    assert again.built in page.read_text() and again.env["torch"] in page.read_text()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "report.json").write_text('{"sections": [{"no title": 1}]}')
    with pytest.raises(LatentworksError, match="not a report this latentworks can read"):
        load_page(damaged / "report.json")


def test_report_command_rebuilds_a_study_and_compares_runs_of_one_kind(tmp_path):
    a, b = _run(tmp_path, "a", lr=0.1, exact=0.5), _run(tmp_path, "b", lr=0.3, exact=0.8)
    page = _visible_text(build_report([a, b], tmp_path / "cmp.html").read_text())
    assert "Comparison of 2 demo runs" in page
    table = page.split("Comparison of 2 demo runs")[-1]
    assert re.search(r"\ba\s+50.0 %\s+92.5 %.*?0.1\s+b\s+80.0 %\s+92.5 %.*?0.3", table, re.S)  # measure, lr

    other = _run(tmp_path, "c", kind="other")
    assert compare_runs([a, other]) is None  # different kinds are listed, not compared

    study = tmp_path / "study"
    study.mkdir()
    save_page(study / "report.json", [Section("Only part", text="<p>rebuilt</p>")], "Study title", "", [])
    page = build_report([study], tmp_path / "rebuilt.html").read_text()
    assert "Study title" in page and "rebuilt" in page

    old_study = tmp_path / "old_study"  # written before studies saved report.json
    old_study.mkdir()
    (old_study / "results.json").write_text('{"profile": "quick", "studies": {}}')
    with pytest.raises(LatentworksError, match="--resume --out"):
        build_report([old_study], tmp_path / "old.html")


def test_fraction_figure_draws_bars_below_three_fractions(tmp_path, monkeypatch):
    calls = []
    real_bars, real_line = plots.grouped_bars, plots.line_plot
    monkeypatch.setattr(plots, "grouped_bars", lambda *a, **k: calls.append("bars") or real_bars(*a, **k))
    monkeypatch.setattr(plots, "line_plot", lambda *a, **k: calls.append("line") or real_line(*a, **k))
    rows = [{"train_fraction": f, "exact_match": e, "char_accuracy": c}
            for f, e, c in ((0.05, 0.9, 0.95), (0.1, 0.98, 0.99), (0.5, 0.999, 0.9995))]
    sweep.fraction_figure(rows[:2], "text→text", tmp_path / "two.png")
    sweep.fraction_figure(rows, "text→text", tmp_path / "three.png")
    assert calls == ["bars", "line"]
    assert Image.open(tmp_path / "two.png").size[0] > 0


@pytest.mark.parametrize("value,kind,shown", [(0.9251, "pct", "92.5 %"), (0.9951, "pct", "99.51 %"),
                                              (1.0, "pct", "100.0 %"), (-0.25, "pct_signed", "-25.0 %"),
                                              (1.7634, "ratio", "1.76×"), (754.0, "secs", "12.6 min"),
                                              (18000, "int", "18,000"), (None, "pct", "—")])
def test_values_are_formatted_as_a_reader_expects(value, kind, shown):
    from latentworks.report.names import fmt

    assert fmt(value, kind) == shown


def test_image_grid_writes_png(tmp_path):
    path = plots.image_grid(np.random.rand(6, 28, 28), tmp_path / "g.png", nrow=2, numbered=True)
    assert Image.open(path).size[0] > 0


def _scored_run(root, name, test, kind="arithmetic/text2img"):
    r = RunDir(root / name)
    r.write_results(kind=kind, config={"train": {"lr": 0.1}}, metrics={"test": test}, seed=0)
    return r.root


def test_comparison_keeps_every_measure_any_run_has(tmp_path):
    a = _scored_run(tmp_path, "a", {"exact_match": 0.5, "n": 100}, kind="arithmetic/text2text")
    b = _scored_run(tmp_path, "b", {"exact_match": 0.9, "elbo": -90.0, "n": 60}, kind="arithmetic/text2text")
    table = compare_runs([a, b]).tables[0]
    col = table.columns.index
    assert [r[col("exact match")] for r in table.rows] == ["50.0 %", "90.0 %"]
    assert [r[col("ELBO (nats)")] for r in table.rows] == ["—", "-90"]
    assert [r[col("held-out queries")] for r in table.rows] == ["100", "60"]


def test_a_text2img_run_from_before_one_metric_naming_reads_with_todays_keys(tmp_path):
    from latentworks.resume import finished_results

    old = _scored_run(tmp_path, "old", {"readback_exact_match": 0.5, "readback_char_accuracy": 0.75, "readback_n": 50,
                                 "readback_error_histogram": {"0": 25, "1–9": 25}})
    new = _scored_run(tmp_path, "new", {"exact_match": 0.7, "char_accuracy": 0.8, "n": 60,
                                 "error_histogram": {"0": 42, "1–9": 18}, "scored_by": "digit reader read-back"})
    read = RunDir(old, create=False).read_results()["test"]
    assert read == {"exact_match": 0.5, "char_accuracy": 0.75, "n": 50, "error_histogram": {"0": 25, "1–9": 25},
                    "scored_by": "digit reader read-back"}
    assert finished_results(old, {"train": {"lr": 0.1}})["test"] == read  # a study reusing the run sees the same
    assert RunDir(new, create=False).read_results()["test"]["exact_match"] == 0.7  # today's keys pass untouched
    table = compare_runs([old, new]).tables[0]
    col = table.columns.index
    assert [r[col("exact match")] for r in table.rows] == ["50.0 %", "70.0 %"]
    assert [r[col("held-out queries")] for r in table.rows] == ["50", "60"]
    assert [r[col("scored by")] for r in table.rows] == ["digit reader read-back"] * 2
    assert "read back" not in " ".join(table.columns)  # one column per measure, not one per scoring


def _gan_run(root, name="dcgan"):
    r = RunDir(root / name)
    r.write_results(kind="generative/dcgan", config={"recipe": "quick", "train": {"lr": 2e-4}}, seed=0,
                    metrics={"test": {}, "train": {"seconds": 75.0, "steps": 1200},
                             "eval": {"n": 200, "fld_ratio": 3.25, "precision": 0.41, "recall": 0.2,
                                      "class_max_rel_deviation": 4.0, "class_worst_digit": 6,
                                      "class_worst_count": 100, "fld": 12.5}})
    return r.root


def test_a_gan_run_line_headlines_its_registered_measures_never_its_training_time(tmp_path):
    section = section_from_run(_gan_run(tmp_path))
    line = _visible_text(section.summary)
    assert line == ("FLD / floor 3.25× , precision 41.0 % , recall 20.0 % , worst digit class vs uniform +400.0 % "
                    "(digit 6: 100 of 200 samples)")
    table = _visible_text(write_report([section], tmp_path / "r.html").read_text())
    # the headlines first, training time and steps below them
    assert table.index("FLD / floor 3.25×") < table.index("FLD 12.5") < table.index("training time 75 s")
    assert "optimizer steps 1,200" in table


def test_summary_rows_are_read_from_their_runs_and_empty_columns_are_left_out(tmp_path):
    from latentworks.registry import CLASS_BALANCE, FLD_RATIO
    from latentworks.report.html import headline_from_run

    run = _gan_run(tmp_path)
    rows = [headline_from_run(run, "generative", "DCGAN FLD / floor", FLD_RATIO, n_key="eval.n"),
            headline_from_run(run, "generative", "DCGAN class balance", CLASS_BALANCE, n_key="eval.n")]
    assert rows[1].ours == 4.0 and rows[1].kind == "pct_signed" and rows[1].recipe == "quick" and rows[1].n == 200
    assert headline_from_run(run, "generative", "DCGAN recall", "eval.nothing") is None  # never a number it lacks
    page = render([Section("Part")], headlines=rows)
    head = page.split("<thead>")[1].split("</thead>")[0]
    assert "recipe" in head and "course" not in head and "peer" not in head
    assert f'data-run="{run}"' in page and 'data-key="eval.fld_ratio"' in page


def _red_pixels(path) -> int:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)).sum())


def test_a_misread_drawing_is_framed_in_red_with_what_the_reader_read(tmp_path):
    rows = [np.zeros((28, 92)), np.zeros((28, 92))]
    plain = plots.image_rows(rows, ["156", "42"], tmp_path / "plain.png", title="t")
    marked = plots.image_rows(rows, ["156", "42"], tmp_path / "marked.png", title="t",
                              marks=[[(0, 42, "read as 166")], []])
    assert _red_pixels(plain) == 0 and _red_pixels(marked) > 100


def test_legends_sit_beside_the_axes_and_counts_inside_the_frame(tmp_path, monkeypatch):
    kept = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: kept.setdefault("fig", fig) and path)
    plots.line_plot({"a": ([0, 1], [0, 1]), "b": ([0, 1], [1, 0])}, tmp_path / "l.png", title="", xlabel="",
                    ylabel="")
    fig = kept.pop("fig")
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1  # off the data
    plots.bar_plot(["a", "b"], [10, 40], tmp_path / "b.png", title="", ylabel="")
    ax = kept.pop("fig").axes[0]
    assert ax.get_ylim()[1] > 40 * 1.1  # room above the tallest bar for its count


def test_wrong_answers_are_a_text_table_without_padding(tmp_path):
    from types import SimpleNamespace

    from latentworks.pipelines.arithmetic_figures import misclassified_text

    run = RunDir(tmp_path / "run")
    run.write_results(kind="arithmetic/text2text", config={}, seed=0, metrics={"test": {"exact_match": 0.5, "n": 2}})
    test = SimpleNamespace(queries=["12+34  ", "9-1    "], answers=["46  ", "8   "])
    misclassified_text(run, test, ["47  ", "8   "], [0])
    page = write_report([section_from_run(run.root)], tmp_path / "r.html").read_text()
    assert '<td class="mono">12+34</td><td class="mono">46</td><td class="mono">47</td>' in page
    assert not (run.figures / "misclassified.png").exists()


def test_curves_scored_on_a_subset_say_so_in_the_caption_and_the_axis(tmp_path, monkeypatch):
    from latentworks.pipelines import arithmetic_figures
    from latentworks.report.run_section import caption_for

    results = {"config": {"eval": {"eval_subset": 1000}}, "test": {"n": 18000}}
    assert "1,000-query subset" in caption_for("training_curves", results) and "all 18,000" in caption_for(
        "training_curves", results)
    whole = {"config": {"eval": {"eval_subset": 1000}}, "test": {"n": 800}}
    assert "1,000" not in caption_for("training_curves", whole)  # every held-out query scored: no subset to name
    drawn = {}
    monkeypatch.setattr(plots, "line_plot", lambda series, path, **kw: drawn.setdefault(path.name, kw))
    history = [{"epoch": 1, "step": 5, "eval/test_exact_match": 0.9, "loss": 1.0}]
    arithmetic_figures.curves(RunDir(tmp_path / "run"), history, "text→text", subset=1000)
    assert drawn["training_curves.png"]["ylabel"] == "accuracy (1,000-query subset of each split)"
