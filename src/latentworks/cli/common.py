"""Option groups that several verbs share: one declaration each, reused by composition."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from latentworks.config import flag_alias, require

Positional = tyro.conf.Positional


@dataclass
class Device:
    device: str = "auto"  # auto | cpu | cuda | cuda:N

    def check(self) -> None:
        require(self.device in ("auto", "cpu") or self.device.startswith("cuda"), "device", self.device,
                "must be auto, cpu, cuda or cuda:N")


@dataclass
class Output:
    output: Annotated[str | None, flag_alias("-o")] = None  # where to write the result (default: RUN/figures/…)


PROTECTED = {"model.json", "model.safetensors", "results.json", "config.json", "metrics.jsonl", "vocab.json",
             "generation.txt", "sweep.json"}


def check_output(output: str | None) -> Path | None:
    """An output path the user named: not empty, not a folder, and never one of a run folder's own files
    (a run or study folder is one that holds a ``config.json``, ``model.json`` or ``results.json``)."""
    if output is None:
        return None
    require(output.strip() != "", "output", output, "is empty; name a file")
    path = Path(output)
    require(not path.is_dir(), "output", output, "is a folder; name a file inside it")
    require(path.resolve().parent.is_dir(), "output", output, f"is in a folder that does not exist "
            f"({path.parent}); create it first")
    target = path.resolve()
    for root in target.parents:
        if any((root / name).is_file() for name in ("config.json", "model.json", "results.json")):
            parts = target.relative_to(root).parts
            require(not (parts[0] in PROTECTED or parts[0] == "checkpoints"), "output", output,
                    f"would overwrite the run's own {parts[0]} in {root}; write somewhere else")
            break
    return path


__all__ = ["Device", "Output", "Positional", "check_output"]
