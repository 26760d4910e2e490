"""Option groups that several verbs share: one declaration each, reused by composition."""

from __future__ import annotations

import os
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
    overwrite: bool = False  # replace an output file that already exists (never a run's own files)


# A folder holding one of these is a run or study folder: no -o may write into it (see output_path).
MARKERS = ("config.json", "model.json", "results.json", "report.json", "sweep.json")
PNG = (".png",)


def run_folder_of(path: str | Path) -> Path | None:
    """The innermost run or study folder that ``path`` (resolved) lies in, or None."""
    for root in Path(path).resolve().parents:
        if any((root / name).is_file() for name in MARKERS):
            return root
    return None


def output_path(given: str | None, *, overwrite: bool = False, default: str | Path | None = None,
                own: str | Path | None = None, suffixes: tuple[str, ...] | None = PNG) -> Path | None:
    """The one rule for every file a command writes: ``given`` (the user's ``-o``) or else ``default`` (None: no
    file), checked before any work. Never replaces an existing file without ``overwrite``, nor ever anything but
    a regular file; a ``-o`` never lands in a run or study folder, and a default only inside ``own`` (the run
    the verb reads: its own outputs); the name ends in one of ``suffixes`` (None: any), the formats written."""
    if given is None and default is None:
        return None
    shown = given if given is not None else str(default)
    require(shown.strip() != "" and "\0" not in shown, "output", shown, "is empty or not a path; name a file")
    path = Path(shown)
    if path.is_symlink() and not path.exists():
        require(False, "output", shown, f"is a link to {os.readlink(path)}, which does not exist; remove the link "
                "or name another file")
    require(not path.is_dir(), "output", shown, "is a folder; name a file inside it")
    require(not path.exists() or path.is_file(), "output", shown, "is not a regular file (a device, pipe or "
            "socket) and is never replaced; name a file")
    if given is not None:
        require(path.resolve().parent.is_dir(), "output", shown, f"is in a folder that does not exist "
                f"({path.parent}); create it first")
    holder = run_folder_of(path)
    if holder is not None and (given is not None or own is None or not path.resolve().is_relative_to(
            Path(own).resolve())):
        require(False, "output", shown, f"is inside the run or study folder {holder}, whose files are never "
                "replaced; name a file outside it" + ("" if given is not None else " with -o"))
    if suffixes is not None:
        require(path.suffix.lower() in suffixes, "output", shown, f"this command writes {' or '.join(suffixes)} "
                f"files only; name a file ending in {suffixes[0]}")
    require(overwrite or not path.exists(), "output", shown, "already exists; pass --overwrite to replace it, or "
            "name another file")
    return path


__all__ = ["MARKERS", "Device", "Output", "Positional", "output_path", "run_folder_of"]
