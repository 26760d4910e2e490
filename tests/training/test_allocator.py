"""training/allocator.py: freed memory stays in the process (no page faults on reuse), and a user's own malloc
options win. Each case runs in a fresh interpreter: the setting is per process and cannot be undone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc's malloc only")

CHURN = """
import resource, sys
import numpy as np
from latentworks.training.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
assert applied is None or keep_freed_memory() is applied  # asked again: the same answer
def churn():
    arrays = [np.ones(2**18, np.float32) for _ in range(16)]  # 16 MiB in 1 MiB pieces, then all freed
    del arrays
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    churn()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _churn(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", CHURN, mode], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


def test_freed_memory_is_reused_without_page_faults():
    applied, faults = _churn("keep")
    _, plain = _churn("plain")
    assert applied == "True"
    # 20 rounds of 16 MiB: glibc's defaults give every round fresh pages (~4,096 faults a round), ours none.
    assert plain > 20 * 1000
    assert faults < 500


def test_malloc_options_from_the_environment_are_left_alone():
    applied, _ = _churn("keep", MALLOC_TRIM_THRESHOLD_="1000000")
    assert applied == "False"
    applied, _ = _churn("keep", GLIBC_TUNABLES="glibc.malloc.trim_threshold=1000000")
    assert applied == "False"
