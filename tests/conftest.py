"""Session-wide settings and the one test-profile study that several test modules read."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tests never reach for the network, and runs stay quiet.
os.environ.setdefault("LATENTWORKS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


#: The command every study test starts from: the test profile, on the embedded data, so that a run's numbers never
#: depend on which datasets the machine has.
RUN = [sys.executable, "-m", "latentworks", "run", "--profile", "test", "--data-dir", "embedded"]


@pytest.fixture(scope="session")
def serial_study(tmp_path_factory) -> Path:
    """The whole test profile trained one run at a time: the reference the worker-pool and Ray studies must equal bit
    for bit, and the study the report read-back reads. Tests only read it; one that changes a study copies it."""
    out = tmp_path_factory.mktemp("serial") / "study"
    proc = subprocess.run([*RUN, "--out", str(out), "--workers", "1", "--no-progress"], capture_output=True,
                          text=True, env={**os.environ, "LATENTWORKS_OFFLINE": "1"}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
