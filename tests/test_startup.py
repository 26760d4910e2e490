"""Start-up: the command line answers --help without importing torch, which takes seconds. The imports kept inside
functions (each with a one-line reason) exist for this; every other import sits at the top of its module."""

import subprocess
import sys

import pytest

PROBE = """
import contextlib, io, sys
from latentworks.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
heavy = sorted({"torch", "matplotlib", "torchmetrics"} & set(sys.modules))
print(",".join(heavy))
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_imports_no_torch(argv):
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"latentworks {' '.join(argv)} imported {done.stdout.strip()}"
