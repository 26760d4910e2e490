"""The catalogue of study parts behind ``latentworks run``.

Each experiment family (arithmetic, generative, char-RNN) registers two functions: a plan (the independent runs
of its part of the study, as jobs) and a study function that reads the finished runs and returns report
sections plus headline metrics. :mod:`latentworks.studies.runner` collects every plan, has an executor train the
jobs (in this process, or on Ray), then calls the study functions, whose ``ctx.train`` now finds each run
finished. What each profile trains is :mod:`latentworks.recipes.studies`'.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentworks import registry
from latentworks.errors import LatentworksError
from latentworks.report.html import Headline, Section
from latentworks.studies.executor import Job, job_for, run_job


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
        """``train_fn(config, run_dir)``: each pipeline's train function. With ``resume`` (and always once the
        executor has run the plan), a run that already finished with this config is reused as it is, one with a
        checkpoint continues from it, and anything else in the way is moved aside."""
        if self.resume:
            return run_job(job_for(run_dir.name, config, run_dir), self.progress)
        return train_fn(config, run_dir)

    def on_cpu(self) -> bool:
        import torch

        return self.device == "cpu" or (self.device == "auto" and not torch.cuda.is_available())

    def job(self, name: str, config: Any, run_dir: Path, threads: int | None = None, then: str | None = None,
            **then_args: Any) -> Job:
        return job_for(name, config, run_dir, threads, then, **then_args)


@dataclass
class StudyResult:
    sections: list[Section]
    metrics: dict[str, Any] = field(default_factory=dict)
    headlines: list[Headline] = field(default_factory=list)  # rows of the report's summary table


StudyFn = Callable[[StudyContext], StudyResult]
PlanFn = Callable[[StudyContext], list[Job]]
STUDIES: dict[str, tuple[int, StudyFn, PlanFn]] = {}  # name -> (order, study, plan)


def register_study(name: str, order: int, plan: PlanFn) -> Callable[[StudyFn], StudyFn]:
    def decorate(fn: StudyFn) -> StudyFn:
        STUDIES[name] = (order, fn, plan)
        return fn

    return decorate


def registered() -> list[str]:
    _load_builtin_studies()
    return [name for name, _ in sorted(STUDIES.items(), key=lambda kv: kv[1][0])]


def plan_study(profile: str, out: str | Path, only: list[str] | None = None, **kwargs: Any) -> list[Job]:
    """Every independent run a study would train (for estimates and external schedulers)."""
    ctx = StudyContext(profile=profile, out=Path(out), **kwargs)
    return [job for name in study_names(only) for job in STUDIES[name][2](ctx)]


def study_names(only: list[str] | None) -> list[str]:
    """The registered studies, in order, or those of ``only`` (a one-line error for a name not registered)."""
    names = registered()
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise LatentworksError(f"unknown study {unknown}; registered studies: {', '.join(names)}")
        names = [n for n in names if n in only]
    return names


def _load_builtin_studies() -> None:
    # Importing a family's study module registers its part; the registry says which module that is.
    for family in registry.families():
        importlib.import_module(family.study)
