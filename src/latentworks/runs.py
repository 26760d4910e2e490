"""Run folders: the one place every experiment writes to.

A run folder holds ``config.json``, ``metrics.jsonl``, ``results.json``, ``checkpoints/`` and ``figures/``.
All JSON is written atomically so a crash never leaves half a file behind. Whether a folder holds the run a config
asks for (a resume, a finished run to reuse) is :mod:`latentworks.resume`'s to say.
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

from latentworks._version import __version__
from latentworks.checksum import verified, with_checksum
from latentworks.errors import LatentworksError
from latentworks.folder_lock import LOCK_NAME, check_unlocked, lock_run_dir, release_run_dir

MAX_JSON_BYTES = 256 * 2**20  # no file latentworks writes comes near; a larger one is not ours (or a bomb)
CHECKSUMMED = ("config.json", "model.json")  # files that define a model: checked when read (checksum.py)


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path`` (mode as the umask says)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report copied to a shared folder must stay readable
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
    """A JSON file; any failure to read or parse it is one line naming the file."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_JSON_BYTES:
            mb = path.stat().st_size / 2**20
            raise LatentworksError(f"{path} is {mb:.0f} MB, over the {MAX_JSON_BYTES // 2**20} MB a latentworks JSON "
                                   "file may hold; pass the right one")
        tree = json.loads(path.read_bytes().decode("utf-8"))
    except RecursionError:
        raise LatentworksError(f"{path} nests deeper than JSON parsing allows; the file is damaged") from None
    except FileNotFoundError:
        raise LatentworksError(f"{path} not found; is this a latentworks run folder?") from None
    except IsADirectoryError:
        raise LatentworksError(f"{path} is a folder, not a JSON file; the run folder is damaged") from None
    except UnicodeDecodeError:
        raise LatentworksError(f"{path} is not UTF-8 text; the file is damaged (restore or retrain the run)") from None
    except json.JSONDecodeError as err:
        raise LatentworksError(f"{path} is not valid JSON ({err.msg}); the file is damaged") from None
    except OSError as err:
        raise LatentworksError(f"cannot read {path} ({err.strerror or err}); check its permissions") from None
    return verified(path, tree) if path.name in CHECKSUMMED else tree


def read_results_json(path: str | Path) -> dict[str, Any]:
    """A results.json, which is a JSON object; anything else (a list, a number) is one line naming the file."""
    results = read_json(path)
    if not isinstance(results, dict):
        raise LatentworksError(f"{path} holds a JSON {type(results).__name__}, not the object latentworks writes; "
                               "the file is damaged (restore or retrain the run)")
    return results


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
    # why here: the bottom layer stays free of torch (seconds to import) for commands that only read run folders
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
        write_json(self.config_path, with_checksum(to_jsonable(config)))

    def write_results(
        self, *, kind: str, config: Any, metrics: dict[str, Any], seed: int, extra: dict[str, Any] | None = None,
        runtime: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``results.json``: what ran (config, seed, versions, commit, world size, backend, device) and what it
        measured."""
        results = {
            "kind": kind,
            "seed": seed,
            "config": to_jsonable(config),
            **to_jsonable(metrics),
            **(to_jsonable(extra) if extra else {}),
            "runtime": runtime or {"world_size": 1, "backend": None, "device": "cpu"},
            "environment": environment(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json(self.results_path, results)
        return results

    def read_results(self) -> dict[str, Any]:
        return current_results(read_results_json(self.results_path))

    def read_metrics(self) -> list[dict[str, Any]]:
        """The metric rows; a line torn by a crash or a full disk is skipped, not fatal."""
        if not self.metrics_path.exists():
            return []
        rows = []
        for line in self.metrics_path.read_bytes().decode("utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


def add_results_section(run_dir: str | Path, name: str, section: dict[str, Any]) -> dict[str, Any]:
    """Put ``section`` under ``name`` in a finished run's results.json, atomically, and return the results.

    For what is measured on a run after training (the study's evaluation): the file is rewritten only when the
    section is new or differs, so a resumed study leaves a run it already scored byte for byte as it was."""
    path = Path(run_dir) / "results.json"
    results = read_results_json(path)
    section = to_jsonable(section)
    if results.get(name) != section:
        results[name] = section
        write_json(path, results)
    return current_results(results)


def claim_run_dir(out: str | Path, *, resume: bool = False, overwrite: bool = False) -> Path:
    """The folder a training run may write to; a run already there is never replaced silently.

    ``resume`` needs a run to continue. Otherwise the folder must be empty or new, unless ``overwrite``, which
    moves the old run aside to ``<name>.old-N`` (it is never deleted).
    """
    if str(out).strip() == "":
        raise LatentworksError("--out is empty; name the run folder to write, e.g. --out runs/my-run")
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise LatentworksError(f"--out {root} is a file, not a folder; pick a folder name for the run")
    if resume:
        if overwrite:
            raise LatentworksError("--resume and --overwrite contradict each other; pass one of them")
        if not (root / "config.json").is_file():
            raise LatentworksError(f"{root} holds no run to resume (config.json missing); drop --resume")
        if (root / "results.json").is_file() and "studies" in _as_dict(read_json(root / "results.json")):
            raise LatentworksError(f"{root} holds a study, not a single run; resume it with latentworks run "
                                   f"--resume --out {root}")
        lock_run_dir(root)
        return root
    if root.is_dir():
        check_unlocked(root)
    if root.is_dir() and any(p.name != LOCK_NAME for p in root.iterdir()):
        if not overwrite:
            raise LatentworksError(f"{root} already holds a run; pass --resume to continue it, --overwrite to move "
                                   "it aside, or another --out")
        n = 1
        while root.with_name(f"{root.name}.old-{n}").exists():
            n += 1
        aside = root.with_name(f"{root.name}.old-{n}")
        release_run_dir(root)  # a lock of this process's goes aside with its folder; the new one is locked below
        root.rename(aside)
        print(f"latentworks: moved the previous run in {root} aside to {aside}", file=sys.stderr)
    root.mkdir(parents=True, exist_ok=True)
    lock_run_dir(root)
    return root


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# Result keys renamed since runs were first written: text→image scores were kept apart by a prefix until every
# arithmetic task scored with the same keys and said how in ``scored_by``.
_OLD_PREFIX, _OLD_SCORED_BY = "readback_", "digit reader read-back"


def current_results(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` (a results.json) with the keys of this version: the one place old run folders are upgraded."""
    test = results.get("test")
    if isinstance(test, dict) and any(k.startswith(_OLD_PREFIX) for k in test):
        renamed = {k.removeprefix(_OLD_PREFIX): v for k, v in test.items()}
        results = {**results, "test": {**renamed, "scored_by": renamed.get("scored_by", _OLD_SCORED_BY)}}
    return results
