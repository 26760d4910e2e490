"""The study registry behind ``latentworks run``.

Each experiment family (arithmetic, generative, char-RNN) registers one function that runs its part of the
study for a profile and returns report sections plus headline metrics. ``latentworks run`` runs them in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentworks.config import to_dict
from latentworks.errors import LatentworksError
from latentworks.report.html import Section, write_report
from latentworks.runs import claim_run_dir, environment, finished_results, has_checkpoint, write_json

PROFILES = ("test", "quick", "full")


@dataclass
class StudyContext:
    profile: str  # test: seconds, for the test-suite; quick: ≤ 10 min on 2 CPU cores; full: the real thing
    out: Path
    data_dir: str | None = None
    seed: int = 0
    progress: bool = True
    device: str = "auto"
    resume: bool = False  # reuse finished runs with the same settings and continue interrupted ones

    def train(self, train_fn: Callable[..., dict[str, Any] | None], config: Any,
              run_dir: Path) -> dict[str, Any] | None:
        """``train_fn(config, run_dir)``: each pipeline's train function. With ``resume``, a run that already
        finished with this config is reused as it is and one with a checkpoint continues from it (a checkpoint
        of other settings is refused by the pipeline); anything else in the way is moved aside."""
        if self.resume:
            done = finished_results(run_dir, {"family": config.family, **to_dict(config)},
                                    ("train.progress", "train.device"))
            if done is not None:
                return done
            if has_checkpoint(run_dir):
                return train_fn(config, run_dir, resume=True)
            return train_fn(config, run_dir, overwrite=True)
        return train_fn(config, run_dir)


@dataclass
class StudyResult:
    sections: list[Section]
    metrics: dict[str, Any] = field(default_factory=dict)


StudyFn = Callable[[StudyContext], StudyResult]
_STUDIES: dict[str, tuple[int, StudyFn]] = {}


def register_study(name: str, order: int) -> Callable[[StudyFn], StudyFn]:
    def decorate(fn: StudyFn) -> StudyFn:
        _STUDIES[name] = (order, fn)
        return fn

    return decorate


def registered() -> list[str]:
    _load_builtin_studies()
    return [name for name, _ in sorted(_STUDIES.items(), key=lambda kv: kv[1][0])]


def _load_builtin_studies() -> None:
    # Importing a study module registers it; kept here so the CLI starts fast when no study runs.
    from latentworks.studies import arithmetic, charrnn, generative  # noqa: F401


def run_study(profile: str, out: str | Path, only: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run the registered studies and write ``out/report.html`` and ``out/results.json``."""
    if profile not in PROFILES:
        raise LatentworksError(f"unknown profile '{profile}'; choose one of {', '.join(PROFILES)}")
    names = registered()
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise LatentworksError(f"unknown study {unknown}; registered studies: {', '.join(names)}")
        names = [n for n in names if n in only]
    overwrite = kwargs.pop("overwrite", False)
    ctx = StudyContext(profile=profile, out=Path(out), **kwargs)
    if ctx.resume:
        if not ctx.out.is_dir():
            raise LatentworksError(f"{ctx.out} holds no study to resume; drop --resume")
    else:
        claim_run_dir(ctx.out, overwrite=overwrite)
    sections: list[Section] = []
    summary: dict[str, Any] = {"profile": profile, "studies": {}, "seed": ctx.seed}
    started = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        result = _STUDIES[name][1](ctx)
        sections += result.sections
        summary["studies"][name] = {"metrics": result.metrics, "seconds": round(time.perf_counter() - t0, 1)}
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["environment"] = environment()
    write_json(ctx.out / "results.json", summary)
    intro = (f"<p>Study profile <b>{profile}</b>, seed {ctx.seed}, {summary['seconds']} s in all. Every accuracy is"
             " measured on held-out data: arithmetic test queries are never seen in training and test images use"
             " MNIST test-split digits. Exact match (the whole answer right) is reported beside per-character"
             " accuracy.</p>")
    write_report(sections, ctx.out / "report.html", title="latentworks study", intro=intro)
    return summary
