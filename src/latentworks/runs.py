"""Run folders: the one place every experiment writes to.

A run folder holds ``config.json``, ``metrics.jsonl``, ``results.json``, ``checkpoints/`` and ``figures/``.
All JSON is written atomically so a crash never leaves half a file behind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from latentworks import __version__
from latentworks.errors import LatentworksError


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, paths, numpy and torch scalars into plain JSON values (NaN becomes null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LatentworksError(f"{path} not found; is this a latentworks run folder?") from None
    except json.JSONDecodeError as err:
        raise LatentworksError(f"{path} is not valid JSON ({err.msg}); the file is damaged") from None


def git_commit() -> str | None:
    """The commit of the latentworks source tree, when it is a git checkout (None for wheels)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=5,
    )
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def cpu_model() -> str:
    """The CPU's marketing name, for benchmark records."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    """1/5/15-minute load averages: benchmarks record them because this box is often shared."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def environment() -> dict[str, Any]:
    """Library versions and machine facts recorded next to every result."""
    import torch

    env: dict[str, Any] = {
        "latentworks": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "git_commit": git_commit(),
    }
    return env


class RunDir:
    """Paths and writers for one run folder."""

    def __init__(self, root: str | Path, *, create: bool = True):
        self.root = Path(root)
        if create:
            self.figures.mkdir(parents=True, exist_ok=True)
            self.checkpoints.mkdir(parents=True, exist_ok=True)

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def results_path(self) -> Path:
        return self.root / "results.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    def write_config(self, config: Any) -> None:
        write_json(self.config_path, config)

    def write_results(
        self, *, kind: str, config: Any, metrics: dict[str, Any], seed: int, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``results.json``: what ran (config, seed, versions, commit) and what it measured."""
        results = {
            "kind": kind,
            "seed": seed,
            "config": to_jsonable(config),
            **to_jsonable(metrics),
            **(to_jsonable(extra) if extra else {}),
            "environment": environment(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json(self.results_path, results)
        return results

    def read_results(self) -> dict[str, Any]:
        return read_json(self.results_path)

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        lines = self.metrics_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a resumable checkpoint (the torch trainer's or the NumPy loop's)."""
    checkpoints = Path(run_dir) / "checkpoints"
    return (checkpoints / "latest.json").is_file() or (checkpoints / "last.json").is_file()


def finished_results(run_dir: str | Path, key: str, config: Any) -> dict[str, Any] | None:
    """``run_dir``'s results.json if that run finished with ``config`` (stored under ``config[key]``), else None.

    Only the ``progress`` flag may differ: it changes what is printed, not what is trained.
    """
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        return None
    results = read_json(path)
    saved = (results.get("config") or {}).get(key)
    wanted = to_jsonable(dataclasses.asdict(config))
    if not isinstance(saved, dict) or any(saved.get(k) != v for k, v in wanted.items() if k != "progress"):
        return None
    return results
