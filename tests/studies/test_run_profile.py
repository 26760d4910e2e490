"""`latentworks run` end to end on the test-sized profile: it must produce the report and results."""

import json

from latentworks.cli import main


def test_run_test_profile_arithmetic_writes_report(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["run", "--profile", "test", "--only", "arithmetic", "--out", str(out), "--no-progress",
                 "--data-dir", "embedded"]) == 0
    page = (out / "report.html").read_text()
    assert "Arithmetic" in page and "exact match" in page
    assert page.count("data:image/png;base64,") >= 4
    results = json.loads((out / "results.json").read_text())
    metrics = results["studies"]["arithmetic"]["metrics"]
    assert any(key.startswith("text2text/best") for key in metrics)
    assert all(0 <= m["exact_match"] <= 1 for m in metrics.values() if m["exact_match"] is not None)


def test_unknown_study_is_a_one_line_error(tmp_path, capsys):
    assert main(["run", "--profile", "test", "--only", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown study" in err and err.count("\n") == 1
