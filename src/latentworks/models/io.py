"""One save/load convention for every model, learned once.

``save_model(model, folder)`` writes ``model.safetensors`` (weights) and ``model.json`` (``kind`` plus the
model's dataclass config). ``load_model(folder, expect=...)`` rebuilds the model from the JSON alone and
refuses, with a one-line error, a folder that holds another kind of model. Nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from latentworks.errors import LatentworksError
from latentworks.runs import read_json, write_json

_REGISTRY: dict[str, type[torch.nn.Module]] = {}
ModelT = TypeVar("ModelT", bound=type[torch.nn.Module])


def register_model(kind: str):
    """Class decorator: the class must take a dataclass config as its only argument and keep it as ``.config``."""

    def decorate(cls: ModelT) -> ModelT:
        cls.kind = kind  # type: ignore[attr-defined]
        _REGISTRY[kind] = cls
        return cls

    return decorate


MODEL_MODULES = ("aligned", "img2text", "compute_draw", "seq2seq", "text2img", "digit_reader", "char_lstm", "cae",
                 "vae", "dcgan", "conditional")


def _import_all_models() -> None:
    """Model classes register themselves on import; a fresh process loading a run folder imports them here."""
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(f"latentworks.models.{name}")


def save_model(model: torch.nn.Module, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kind = getattr(model, "kind", None)
    if kind is None:
        raise TypeError(f"{type(model).__name__} is not registered with @register_model")
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = folder / ".model.safetensors.tmp"
    save_file(state, str(tmp), metadata={"kind": kind})
    tmp.replace(folder / "model.safetensors")
    write_json(folder / "model.json", {"kind": kind, "config": dataclasses.asdict(model.config), **(extra or {})})
    return folder / "model.safetensors"


def read_model_info(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    if not (folder / "model.json").exists():
        raise LatentworksError(f"{folder} holds no trained model (model.json missing); pass a finished run folder")
    return read_json(folder / "model.json")


def load_model(
    folder: str | Path, expect: str | tuple[str, ...] | None = None, map_location: str = "cpu"
) -> torch.nn.Module:
    """Rebuild a registered model from ``folder``; ``expect`` names the kind(s) the caller can use."""
    folder = Path(folder)
    info = read_model_info(folder)
    kind = info.get("kind")
    wanted = (expect,) if isinstance(expect, str) else expect
    if wanted is not None and kind not in wanted:
        raise LatentworksError(
            f"{folder} holds a '{kind}' model, not {' or '.join(repr(w) for w in wanted)}; "
            "pass a run folder of the right task"
        )
    if kind not in _REGISTRY:
        _import_all_models()
    if kind not in _REGISTRY:
        raise LatentworksError(f"{folder} holds an unknown model kind '{kind}'; is latentworks up to date?")
    cls = _REGISTRY[kind]
    config_cls = cls.Config  # type: ignore[attr-defined]
    names = {f.name for f in dataclasses.fields(config_cls)}
    config = config_cls(**{k: _untuple(v) for k, v in info["config"].items() if k in names})
    model = cls(config)
    state = load_file(str(folder / "model.safetensors"), device=map_location)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise LatentworksError(f"weights in {folder} do not match its model.json; the run folder is damaged")
    return model.to(map_location).eval()


def _untuple(value: Any) -> Any:
    # JSON has no tuples; dataclass fields typed as tuples are stored as lists.
    return tuple(value) if isinstance(value, list) else value
