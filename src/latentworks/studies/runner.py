"""``latentworks run``: every registered study part's plan trained by an executor, then the report.

The parts and their plans are :mod:`latentworks.studies.catalogue`'s; what each profile trains is
:mod:`latentworks.recipes.studies`'.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from latentworks.errors import LatentworksError
from latentworks.folder_lock import lock_run_dir, owns_run_dirs
from latentworks.recipes.studies import PROFILES
from latentworks.report.html import Headline, Section, save_page, write_report
from latentworks.report.names import duration
from latentworks.runs import claim_run_dir, environment, write_json
from latentworks.studies.catalogue import STUDIES, StudyContext, study_names
from latentworks.studies.console import closing
from latentworks.studies.executor import check_resumable, make_executor, ticking


@owns_run_dirs  # the study folder is given back when the study ends, even inside a longer process
def run_study(profile: str, out: str | Path, only: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run the registered studies and write ``out/report.html`` and ``out/results.json``."""
    if profile not in PROFILES:
        raise LatentworksError(f"unknown profile '{profile}'; choose one of {', '.join(PROFILES)}")
    names = study_names(only)
    overwrite = kwargs.pop("overwrite", False)
    executor = make_executor(kwargs.pop("executor", "local"), kwargs.pop("workers", None), kwargs.pop("address", None))
    ctx = StudyContext(profile=profile, out=Path(out), **kwargs)
    # Bars only where someone watches them; a log gets one plain line per run (the trainers' bars are off too).
    ctx.progress = ctx.progress and sys.stderr.isatty()
    if ctx.resume:
        if not ctx.out.is_dir():
            raise LatentworksError(f"{ctx.out} holds no study to resume; drop --resume")
        if (ctx.out / "config.json").is_file():  # a single run's folder: a study summary would replace its results
            raise LatentworksError(f"{ctx.out} holds a single run, not a study; resume it with its family's train "
                                   "--resume, or give run --resume a study folder")
        lock_run_dir(ctx.out)
    else:  # the seed and device were judged before (cli.report): a refused setting leaves no folder behind
        claim_run_dir(ctx.out, overwrite=overwrite)
    sections: list[Section] = []
    summary: dict[str, Any] = {"profile": profile, "studies": {}, "seed": ctx.seed,
                               "executor": type(executor).__name__, "workers": executor.workers}
    started = time.perf_counter()
    jobs = [job for name in names for job in STUDIES[name][2](ctx)]
    summary["runs"] = len(jobs)
    summary["reused_runs"] = check_resumable(jobs) if ctx.resume else 0
    executor.run(jobs, ctx.progress)
    summary["train_seconds"] = round(time.perf_counter() - started, 1)
    ctx.resume = True  # every planned run has finished: the study functions read them
    headlines: list[Headline] = []
    if not ctx.progress:
        print(f"latentworks: runs trained in {duration(summary['train_seconds'])}; scoring and drawing the report "
              f"({', '.join(names)})", file=sys.stderr, flush=True)
    bar = tqdm(total=len(names), desc="study report", unit="part", disable=not ctx.progress, dynamic_ncols=True)
    with ticking(bar):
        for name in names:
            bar.set_postfix_str(f"scoring and drawing {name}", refresh=True)
            t0 = time.perf_counter()
            result = STUDIES[name][1](ctx)
            sections += result.sections
            headlines += result.headlines
            summary["studies"][name] = {"metrics": result.metrics, "seconds": round(time.perf_counter() - t0, 1)}
            bar.update(1)
    bar.close()
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["environment"] = environment()
    write_json(ctx.out / "results.json", summary)
    where = ("the embedded MNIST sample (4,000 MNIST train digits for training, 1,000 MNIST test digits held out)"
             if profile != "full" and not ctx.data_dir else "the full datasets")
    w = executor.workers
    workers = f"{w} worker{'s' if w != 1 else ''}" if w else "every worker of the Ray cluster"
    kind = type(executor).__name__.removesuffix("Executor").lower()
    # A resumed study's wall time is this invocation's only: say so, rather than pass it off as the study's.
    timing = (f"{duration(summary['seconds'])} for this invocation, which resumed a stopped study and reused "
              f"{summary['reused_runs']} of its {len(jobs)} runs as they were" if summary["reused_runs"]
              else f"{duration(summary['seconds'])} in all")
    intro = (f"<p>Study profile <b>{profile}</b> on {where}, random seed {ctx.seed}, {timing}"
             f" ({workers}, {kind} executor). The summary gives every headline figure"
             " beside the course's own and a published peer's where the set-up matches; each section below "
             "opens with its tables and figures, and every run folds into one line that opens to its details.</p>")
    title = f"latentworks study ({profile} profile)"
    write_report(sections, ctx.out / "report.html", title=title, intro=intro, headlines=headlines)
    save_page(ctx.out / "report.json", sections, title, intro, headlines)
    print(closing(headlines, ctx.out, summary["seconds"], workers), flush=True)
    return summary


