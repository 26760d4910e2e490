"""benchmarks/quick_study.py's logic on the char-RNN part of the test profile (the quick study itself is the lead's
measurement, not a test): both studies run, their time and memory are recorded, their weights compared."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "quick_study.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("quick_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_benchmark_records_both_studies_and_compares_their_weights(tmp_path):
    bench = _benchmark()
    result = bench.main(["--profile", "test", "--only", "charrnn", "--workers", "2", "--out-dir",
                         str(tmp_path / "studies"), "--json", str(tmp_path / "q.json")])
    assert json.loads((tmp_path / "q.json").read_text()) == result
    serial, parallel = result["studies"]["serial"], result["studies"]["parallel"]
    assert (serial["workers"], parallel["workers"]) == (1, 2) and serial["runs"] == parallel["runs"] >= 5
    for study in (serial, parallel):
        assert study["wall_seconds"] > 0 and min(study["peak_rss_tree_mb"], study["peak_rss_largest_process_mb"]) > 50
        assert not study["log_has_escape_codes"] and study["log_lines"] < 60
    assert result["weights"]["identical"] and result["weights"]["model_files"] == serial["runs"]

    (tmp_path / "studies" / "parallel" / "charrnn" / "numpy-main" / "model.safetensors").write_bytes(b"changed")
    compared = bench.compare_weights(tmp_path / "studies" / "serial", tmp_path / "studies" / "parallel")
    assert not compared["identical"] and compared["differing"] == ["charrnn/numpy-main/model.safetensors"]
