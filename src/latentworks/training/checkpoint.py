"""Checkpoints as safetensors + JSON, written so that a crash can never corrupt the last good one.

Each save writes ``step-NNNNNNNN.safetensors`` (every tensor: weights, optimizer moments, RNG states) and
``step-NNNNNNNN.json`` (config, step, the non-tensor optimizer state, numpy/python RNG), each via a temp
file and a rename, and only then points ``latest.json`` at them. Loading never unpickles anything, and falls
back to the newest intact checkpoint when the latest one is damaged (saying so). The torch trainer and the
NumPy char-RNN loop write this one format (:func:`write_checkpoint`).
"""

from __future__ import annotations

import errno
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentworks.errors import LatentworksError
from latentworks.runs import atomic_write_bytes, to_jsonable, write_json

KEEP_LAST = 2
CARRIED = "carried/"  # the prefix of the tensors a model carries between steps


def _flatten_optimizer(name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict:
    """Move tensors of an optimizer state_dict into ``tensors``; return the JSON-able rest."""
    state = optimizer.state_dict()
    meta_state: dict[str, dict[str, Any]] = {}
    for pid, slots in state["state"].items():
        meta_slots: dict[str, Any] = {}
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim/{name}/{pid}/{key}"] = value.detach().cpu().contiguous()
                meta_slots[key] = {"tensor": True}
            else:
                meta_slots[key] = value
        meta_state[str(pid)] = meta_slots
    return {"state": meta_state, "param_groups": state["param_groups"]}


def _unflatten_optimizer(name: str, meta: dict, tensors: dict[str, torch.Tensor]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for pid, slots in meta["state"].items():
        state[int(pid)] = {
            key: tensors[f"optim/{name}/{pid}/{key}"] if isinstance(value, dict) and value.get("tensor") else value
            for key, value in slots.items()
        }
    return {"state": state, "param_groups": meta["param_groups"]}


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    np_state = np.random.get_state()
    meta = {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": to_jsonable(random.getstate()),
    }
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda/")]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    name, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(
    directory: str | Path,
    *,
    step: int,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    meta: dict[str, Any],
    carried: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a complete, resumable checkpoint of torch modules and optimizers (and the ``carried`` tensors of
    :meth:`Trainable.carried_state`); return its safetensors path."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"model/{name}/{key}"] = value.detach().cpu().contiguous()
    for key, value in (carried or {}).items():
        tensors[f"{CARRIED}{key}"] = value.detach().cpu().contiguous()
    optim_meta = {name: _flatten_optimizer(name, opt, tensors) for name, opt in optimizers.items()}
    rng_tensors, rng_meta = capture_rng()
    tensors.update(rng_tensors)
    return write_checkpoint(directory, step, tensors, {"optimizers": optim_meta, "rng": rng_meta, **meta})


def carried_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``carried`` tensors a checkpoint holds, by the names the model gave them."""
    return {k[len(CARRIED):]: v for k, v in tensors.items() if k.startswith(CARRIED)}


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """safetensors ``save_file`` whose I/O failures are ``OSError`` (a full disk, a read-only folder), so the
    command line reports them in one line like any other write."""
    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as err:
        text = str(err)
        code = next((e for e, name in ((errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only"),
                                       (errno.EACCES, "Permission denied"), (errno.EDQUOT, "quota"))
                     if name in text), errno.EIO)
        raise OSError(code, os.strerror(code), str(path)) from None


def write_checkpoint(directory: str | Path, step: int, tensors: dict[str, torch.Tensor],
                     meta: dict[str, Any]) -> Path:
    """The one checkpoint format: tensors to ``step-N.safetensors``, ``meta`` to ``step-N.json``, then the
    ``latest.json`` pointer, each written atomically; older checkpoints beyond the last ``KEEP_LAST`` go."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"step-{step:08d}"
    weights_path = directory / f"{stem}.safetensors"
    tmp = directory / f".{stem}.safetensors.{os.getpid()}.tmp"
    try:
        # safetensors refuses tensors that share storage, and tied weights do; clone makes each one its own.
        save_tensors({k: v.clone() for k, v in tensors.items()}, tmp, metadata={"step": str(step)})
        os.chmod(tmp, 0o666 & ~_umask())
        tmp.replace(weights_path)
    finally:
        tmp.unlink(missing_ok=True)
    write_json(directory / f"{stem}.json", {"step": step, **to_jsonable(meta)})
    write_json(directory / "latest.json", {"step": step, "weights": weights_path.name, "meta": f"{stem}.json"})
    _prune(directory, keep=KEEP_LAST)
    return weights_path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prune(directory: Path, keep: int) -> None:
    stems = sorted(p.stem for p in directory.glob("step-*.safetensors"))
    for stem in stems[:-keep]:
        for suffix in (".safetensors", ".json"):
            (directory / f"{stem}{suffix}").unlink(missing_ok=True)


def latest_checkpoint(directory: str | Path) -> Path | None:
    pointer = Path(directory) / "latest.json"
    if not pointer.exists():
        return None
    try:
        return Path(directory) / json.loads(pointer.read_text())["weights"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read(directory: Path, stem: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """One checkpoint's (tensors, meta); raises ``ValueError`` describing any damage."""
    try:
        meta = json.loads((directory / f"{stem}.json").read_bytes().decode("utf-8"))
        tensors = load_file(str(directory / f"{stem}.safetensors"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SafetensorError, RuntimeError) as err:
        raise ValueError(str(err).splitlines()[0][:100] if str(err) else type(err).__name__) from None
    if not isinstance(meta, dict) or meta.get("step") != int(stem.split("-")[1]):
        raise ValueError("its metadata names another step")
    return tensors, meta


def load_checkpoint(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, meta) of the newest intact checkpoint in ``directory``; a damaged newer one is skipped with a
    note, and none intact is a one-line error."""
    directory = Path(directory)
    stems = sorted({p.stem for p in directory.glob("step-*.safetensors")} |
                   {p.stem for p in directory.glob("step-*.json")}, reverse=True)
    pointed = latest_checkpoint(directory)
    if pointed is not None and pointed.stem in stems:  # the pointer's choice first: it was written last
        stems.remove(pointed.stem)
        stems.insert(0, pointed.stem)
    if not stems:
        raise LatentworksError(f"no checkpoint in {directory}; train first, or drop --resume")
    problems = []
    for stem in stems:
        try:
            tensors, meta = _read(directory, stem)
        except ValueError as err:
            problems.append(f"{stem} ({err})")
            continue
        if problems:
            print(f"latentworks: checkpoint {problems[0]} is damaged; resuming from {stem} instead",
                  file=sys.stderr)
        return tensors, meta
    raise LatentworksError(f"every checkpoint in {directory} is damaged ({problems[0]}); train again without "
                           "--resume (--overwrite moves this run aside)")


def restore_modules(modules: dict[str, torch.nn.Module], tensors: dict[str, torch.Tensor]) -> None:
    for name, module in modules.items():
        prefix = f"model/{name}/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        missing, unexpected = module.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise LatentworksError(
                f"checkpoint does not fit the model '{name}' (missing {len(missing)}, unexpected {len(unexpected)} "
                "tensors); it was made with a different configuration"
            )


def restore_optimizers(
    optimizers: dict[str, torch.optim.Optimizer], meta: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> None:
    for name, opt in optimizers.items():
        opt.load_state_dict(_unflatten_optimizer(name, meta["optimizers"][name], tensors))
        _match_layouts(opt)


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Lay each restored moment out like its parameter. Checkpoints store tensors contiguous, and a fused
    optimizer walks a channels-last parameter and a contiguous moment element by element in memory order, which
    pairs the wrong elements (it moved a resumed run's weights by 3e-2 in one step)."""
    for param, slots in optimizer.state.items():
        for key, value in slots.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                slots[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


__all__ = [
    "atomic_write_bytes",
    "carried_tensors",
    "latest_checkpoint",
    "load_checkpoint",
    "restore_modules",
    "restore_optimizers",
    "restore_rng",
    "save_checkpoint",
]
