"""``latentworks run`` (the study → one HTML report) and ``latentworks report RUN_DIR...``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from latentworks.cli.common import Output, Positional, output_path
from latentworks.cli.parsing import parse
from latentworks.config import require, validate
from latentworks.data.roots import check_data_dir
from latentworks.errors import LatentworksError


@dataclass
class RunStudy:
    profile: Literal["test", "quick", "full"] = "quick"  # quick: ≤ 10 min on 2 CPU cores, offline; full: real data
    out: str = "runs/study"  # the study folder (report.html, results.json and one folder per run)
    only: tuple[str, ...] = ()  # study names to run (default: all), e.g. --only arithmetic charrnn
    resume: bool = False  # continue a stopped study: finished runs reused, interrupted ones continued
    overwrite: bool = False  # move a study already in --out aside (to <out>.old-N) and start afresh
    seed: int = 0  # same seed, same numbers on CPU
    data_dir: str | None = None  # folder with the datasets ('embedded': the packaged MNIST sample)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    progress: bool = True  # progress bars on a terminal (elsewhere, and with --no-progress: one line per run)
    executor: Literal["local", "ray"] = "local"  # local: worker processes on this machine; ray: Ray tasks
    workers: int | None = None  # runs at a time (default: what the cores and memory allow; 1: one by one here)
    address: str | None = None  # ray: join this running cluster (e.g. auto, or ray://host:10001) instead


def run_study_command(a: RunStudy, only: list[str] | None = None) -> dict[str, Any]:
    from latentworks.studies.runner import run_study
    from latentworks.training.config import TrainConfig

    check_data_dir(a.data_dir)
    require(a.out.strip() != "", "out", a.out, "is empty; name the study folder")
    validate(TrainConfig(seed=a.seed, device=a.device))  # the runs' settings, judged before the study folder exists
    return run_study(a.profile, a.out, only=only or [s for part in a.only for s in part.split(",") if s] or None,
                     data_dir=a.data_dir, seed=a.seed, progress=a.progress, device=a.device, resume=a.resume,
                     overwrite=a.overwrite, executor=a.executor, workers=a.workers, address=a.address)


def run(argv: list[str], prog: str) -> int:
    a = parse(RunStudy, argv, prog=prog, description="The main job: train and score every family's part of the "
              "study, then write one self-contained HTML report.")
    run_study_command(a)  # it ends by printing the summary table, the report's path and the explore command
    return 0


@dataclass
class Report:
    runs: Positional[list[str]]  # a study folder (its report is rebuilt), or run folders (compared when alike)
    title: str | None = None  # the page's title (default: the study's own, or 'latentworks report')
    out: Output = field(default_factory=Output)  # the HTML file to write (default: report.html)


def build_report(paths: list[str | Path], output: str | Path, title: str | None = None) -> Path:
    """A study folder's page rebuilt from its ``report.json``, or a page of run folders: each run folded into
    one line, and a comparison table first when two or more runs are of one kind."""
    import tempfile

    from latentworks.errors import LatentworksError
    from latentworks.report.arithmetic import records_section
    from latentworks.report.html import load_page, write_report
    from latentworks.report.run_section import compare_runs, section_from_run
    from latentworks.runs import read_results_json

    pages = [Path(p) / "report.json" for p in paths if (Path(p) / "report.json").is_file()]
    if pages:
        if len(paths) > 1:
            raise LatentworksError(f"{pages[0].parent} is a study folder; build its report on its own "
                                   "(latentworks report STUDY_DIR)")
        return load_page(pages[0]).write(output, title)
    for p in paths:
        results = Path(p) / "results.json"
        if results.is_file() and "studies" in read_results_json(results):
            raise LatentworksError(f"{p} is a study folder from before report.json; rebuild its report with "
                                   f"latentworks run --resume --out {p} (finished runs are reused)")
    runs = [section_from_run(p) for p in paths]
    for run in runs:
        run.folded = len(runs) > 1  # one run: its details open; several: one line each
    comparison = compare_runs(paths)
    if comparison is not None:
        runs = [comparison, *runs]
    with tempfile.TemporaryDirectory() as scratch:  # the page embeds its figures: none is left on disk
        # MNIST-addition runs beside the published systems, multiplication on longer operands: where given
        records = records_section(paths, Path(scratch) / "multiplication_length.png", mnist_addition=False)
        return write_report(([records] if records else []) + runs, output, title=title or "latentworks report")


def report(argv: list[str], prog: str) -> int:
    a = parse(Report, argv, prog=prog, description="One self-contained HTML page: a study folder's report rebuilt, "
              "or run folders side by side.")
    if not a.runs:  # an empty page is no report
        raise LatentworksError("latentworks report needs at least one run or study folder, e.g. latentworks report "
                               "runs/study")
    output = output_path(a.out.output, overwrite=a.out.overwrite, default="report.html", suffixes=(".html", ".htm"))
    print(build_report(a.runs, output, a.title).resolve())
    return 0


@dataclass
class Download:
    # MNIST / Fashion-MNIST: the four IDX files; tinyshakespeare: the char-rnn corpus (then --text tinyshakespeare)
    dataset: Positional[Literal["mnist", "fashion-mnist", "tinyshakespeare"]]


def download(argv: list[str], prog: str) -> int:
    from latentworks.data.corpora import CORPORA, download_corpus
    from latentworks.data.mnist_files import download as fetch

    a = parse(Download, argv, prog=prog, description="Fetch MNIST or Fashion-MNIST from the canonical mirrors "
              "(md5-checked), or Tiny Shakespeare from karpathy/char-rnn (sha256-checked), into the cache. Nothing "
              "else in latentworks reaches the network.")
    print(download_corpus(a.dataset) if a.dataset in CORPORA else fetch(a.dataset))
    return 0


__all__ = ["RunStudy", "build_report", "download", "report", "run", "run_study_command"]
