"""One save/load convention for every model, learned once.

``save_model(model, folder)`` writes ``model.safetensors`` (weights) and ``model.json`` (the model's
``family`` and ``kind``, as :mod:`latentworks.registry` knows them, plus its dataclass config), each
atomically. ``load_model(folder, expect=...)`` rebuilds the model from the JSON alone and refuses, with a
one-line error, a folder that holds another kind of model or a damaged file. Nothing is unpickled. Torch
modules and the NumPy char-RNNs follow the same convention: a class registered with
:func:`latentworks.registry.register_model`, built from its ``Config``, with ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from latentworks import registry
from latentworks.checksum import with_checksum
from latentworks.errors import LatentworksError
from latentworks.models.arithmetic_shape import ArithmeticShape, nest_shape
from latentworks.runs import read_json, to_jsonable, write_json
from latentworks.training.checkpoint import save_tensors

# Fields renamed since a run folder may have been written: old name -> new name.
_RENAMED = {"preset": "style"}


def model_class(kind: str) -> type:
    """The registered class of a model kind (its ``Config`` is the run's ``model`` section)."""
    return registry.kind(kind).cls


def save_model(model: Any, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kind = getattr(model, "kind", None)
    if kind is None:
        raise TypeError(f"{type(model).__name__} is not registered with @register_model")
    family = registry.kind(kind).family
    state = {k: _tensor(v) for k, v in model.state_dict().items()}
    tmp = folder / f".model.safetensors.{os.getpid()}.tmp"
    try:
        save_tensors(state, tmp, metadata={"kind": kind})
        tmp.replace(folder / "model.safetensors")
    finally:
        tmp.unlink(missing_ok=True)
    write_json(folder / "model.json", with_checksum(to_jsonable({
        "family": family, "kind": kind, "config": dataclasses.asdict(model.config), **(extra or {})})))
    return folder / "model.safetensors"


def _tensor(value: Any) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    return value.detach().cpu().contiguous().clone()


def read_model_info(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.is_dir():
        raise LatentworksError(f"{folder} is not a run folder (no such folder); pass the folder a training wrote")
    if not (folder / "model.json").exists():
        raise LatentworksError(f"{folder} holds no trained model (model.json missing); pass a finished run folder")
    info = read_json(folder / "model.json")
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise LatentworksError(f"{folder / 'model.json'} is damaged (no model config); retrain or restore the run")
    return info


def load_model(
    folder: str | Path, expect: str | tuple[str, ...] | None = None, map_location: str = "cpu",
    changes: dict[str, Any] | None = None,
) -> Any:
    """Rebuild a registered model from ``folder``; ``expect`` names the kind(s) the caller can use.

    ``changes`` overrides config fields the weights do not depend on (a text→text model's query and answer
    lengths, to read longer operands); weights that no longer fit are a one-line error."""
    folder = Path(folder)
    info = read_model_info(folder)
    kind = info.get("kind")
    wanted = (expect,) if isinstance(expect, str) else expect
    if wanted is not None and kind not in wanted:
        raise LatentworksError(
            f"{folder} holds a '{kind}' model, not {' or '.join(repr(w) for w in wanted)}; "
            "pass a run folder of the right task"
        )
    if not isinstance(kind, str) or kind not in registry.kind_names():
        raise LatentworksError(f"{folder} holds an unknown model kind '{kind}'; is latentworks up to date?")
    cls = registry.kind(kind).cls
    config_cls = cls.Config  # type: ignore[attr-defined]
    names = {f.name for f in dataclasses.fields(config_cls)}
    saved = {_RENAMED.get(k, k) if _RENAMED.get(k) in names else k: v for k, v in info["config"].items()}
    saved.update(changes or {})
    if "shape" in names:  # arithmetic: shape fields held flat (a model.json before 0.3, or ``changes``) nest
        saved = nest_shape(saved)
    try:
        if "shape" in names:
            saved["shape"] = ArithmeticShape(**saved.get("shape", {}))
        config = config_cls(**{k: _untuple(v) for k, v in saved.items() if k in names})
        model = cls(config)
    except (LatentworksError, TypeError, ValueError) as err:
        raise LatentworksError(f"{folder / 'model.json'} holds a config this latentworks cannot build ({err}); "
                               "retrain the run") from None
    weights = folder / "model.safetensors"
    try:
        state = load_file(str(weights), device=map_location)
    except FileNotFoundError:
        raise LatentworksError(f"{weights} is missing; the run folder is incomplete, retrain it") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise LatentworksError(f"{weights} is damaged or truncated ({str(err).splitlines()[0][:80]}); restore it or "
                               "retrain the run") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError:
        missing, unexpected = ["?"], []
    if (missing or unexpected) and changes:
        raise LatentworksError(f"the weights in {folder} depend on {', '.join(sorted(changes))}; this model cannot "
                               "be widened")
    if missing or unexpected:
        raise LatentworksError(f"weights in {folder} do not match its model.json; the run folder is damaged")
    if isinstance(model, torch.nn.Module):
        model = model.to(map_location).eval()
    return model


def _untuple(value: Any) -> Any:
    # JSON has no tuples; dataclass fields typed as tuples are stored as lists.
    return tuple(value) if isinstance(value, list) else value
