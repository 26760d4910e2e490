"""The arithmetic part of ``latentworks run``: how well do encoder-decoders really learn + and −?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentworks import registry
from latentworks.pipelines.sweep import sweep
from latentworks.pipelines.tasks import IMAGE_TO_TEXT, TEXT_TO_IMAGE, TEXT_TO_TEXT
from latentworks.pipelines.tasks import task as task_of
from latentworks.recipes.arithmetic import RunConfig, recipe
from latentworks.recipes.arithmetic_table import SUPERVISION
from latentworks.recipes.studies import ARITHMETIC, ArithmeticProfile
from latentworks.report.html import Headline, Section, Table, headline_from_run
from latentworks.report.run_section import section_from_run
from latentworks.runs import RunDir
from latentworks.studies.catalogue import StudyContext, StudyResult, register_study


def _config(ctx: StudyContext, profile: ArithmeticProfile, task: str, name: str, fraction: float,
            epochs: int | None, steps: int | None = None) -> RunConfig:
    data_dir = ctx.data_dir if ctx.data_dir or ctx.profile == "full" else "embedded"
    changes: dict[str, Any] = {"data.max_int": profile.max_int, "data.train_fraction": fraction,
                               "data.data_dir": data_dir, "train.seed": ctx.seed, "train.device": ctx.device,
                               "train.progress": ctx.progress}
    if epochs:
        changes["train.epochs"] = epochs
    if steps:
        changes["train.steps"] = steps
    if profile.eval_subset:
        changes["eval.eval_subset"] = profile.eval_subset
    if profile.checkpoint_every:
        changes["train.checkpoint_every"] = profile.checkpoint_every
    return recipe(name, task=task, **changes)


def _sweep_config(ctx: StudyContext, profile: ArithmeticProfile, fraction: float) -> RunConfig:
    s = profile.sweep
    return _config(ctx, profile, s.task, s.recipe, fraction, s.epochs)


def _sweep_folder(ctx: StudyContext, profile: ArithmeticProfile) -> Path:
    return ctx.out / "arithmetic" / f"sweep-{profile.sweep.recipe}"


def _runs(ctx: StudyContext, profile: ArithmeticProfile) -> list[tuple[str, Path, RunConfig]]:
    """The study's runs besides the sweep: (name, run folder, config)."""
    root = ctx.out / "arithmetic"
    return [(f"{r.task} {r.recipe}", root / f"{r.task}-{r.recipe}",
             _config(ctx, profile, r.task, r.recipe, r.fraction, r.epochs, r.steps)) for r in profile.runs]


def arithmetic_plan(ctx: StudyContext) -> list:
    from latentworks.pipelines.sweep import run_dir_of

    profile = ARITHMETIC[ctx.profile]
    sweep_root = _sweep_folder(ctx, profile)
    sweep_configs = [_sweep_config(ctx, profile, f) for f in profile.sweep.fractions]
    # Every text→text run is scored on longer operands; each job does it as soon as its run is trained.
    lengths = {"then": f"{__name__}:score_lengths", "lengths": list(profile.lengths), "n": profile.length_n}
    # One thread per CPU run, whatever the machine: the same bits on any number of cores, and a worker per core.
    threads = 1 if ctx.on_cpu() else None
    named = [(f"{cfg.task} {cfg.recipe} {cfg.data.train_fraction:g}", run_dir_of(sweep_root, cfg), cfg)
             for cfg in sweep_configs] + _runs(ctx, profile)
    return [ctx.job(name, cfg, run_dir, threads, **(lengths if cfg.task == TEXT_TO_TEXT.name else {}))
            for name, run_dir, cfg in named]


def score_lengths(run_dir: Path, lengths: list[int], n: int) -> None:
    """A text→text run scored on fresh queries of each operand length, as :func:`_length_generalisation` reads
    them (each score is kept in the run folder and reused for the same weights and queries)."""
    from latentworks.pipelines.length import evaluate_length

    for d in lengths:
        evaluate_length(run_dir, d, n=n, seed=0)


# The course's own figures (course-notebooks §3.1): the notebook's model at batch 8 for 20 epochs on 0..99 ± 0..99,
# exact match derived from the printed counts of wrong answers, per-character accuracy as Keras printed it.
COURSE_TEXT2TEXT = {0.1: (0.074, 0.602), 0.25: (0.506, 0.811), 0.5: (0.921, 0.972)}
COURSE_SOURCE = ("the course notebook's model, batch 8, 20 epochs, same 0..99 ± 0..99 queries "
                 "(hedzd/A2_RNNs: 16,676 of 18,000 wrong at a 10 % split, 7,413 of 15,000 at 25 %, 788 of 10,000 at "
                 "50 %)")


def _held_out(results: dict[str, Any]) -> str:
    cfg = results["config"]["data"]
    images = " written with MNIST test-split digits" if task_of(results["config"]["task"]).handwriting else ""
    return (f"queries never trained on ({1 - cfg['train_fraction']:.0%} of 0..{cfg['max_int']} "
            f"{' or '.join(cfg['ops']).replace('-', '−')} 0..{cfg['max_int']}){images}")


def _course(results: dict[str, Any]) -> tuple[float, float] | None:
    """The course's (exact match, per-char) for this run's set-up, when the course measured that set-up."""
    data = results["config"]["data"]
    if (data["max_int"], data["ops"], data["layout"]) != (99, "+-", "v23"):
        return None
    return COURSE_TEXT2TEXT.get(round(data["train_fraction"], 3))


def _headline(run_dir: Path | str, what: str, course_note: str = "") -> Headline | None:
    """A summary row read from the run's results.json: its first registered headline measure (exact match),
    beside the course's figure where the course measured the same text→text set-up."""
    results = RunDir(run_dir, create=False).read_results()
    course = _course(results) if results["config"]["task"] == TEXT_TO_TEXT.name else None
    return headline_from_run(run_dir, "arithmetic", what, registry.measures_of(results)[0], n_key="test.n",
                             held_out=_held_out(results), course=course[0] if course else None,
                             course_note=COURSE_SOURCE if course else course_note)


def _headlines(sweep_rows: list[dict[str, Any]], folder: dict[str, Path],
               results: dict[str, dict[str, Any] | None]) -> list[Headline | None]:
    out = [_headline(row["run"], f"text→text exact match, {row['train_fraction']:.0%} of queries for training")
           for row in sweep_rows]
    notebook = results.get(f"{TEXT_TO_TEXT.name} course")
    if notebook:
        f = notebook["config"]["data"]["train_fraction"]
        out.append(_headline(folder[f"{TEXT_TO_TEXT.name} course"],
                             f"the course's model, exact match at {f:.0%} for training"))
    for task, what, course_note in (
            (IMAGE_TO_TEXT, " (learns from the pixels and the query's text)", "the course's copies report only Keras "
             "per-character accuracy on other ranges and splits for image→text, and no score at all for text→image"),
            (TEXT_TO_IMAGE, ", drawn answers read back by the digit reader", "")):
        for name in (n for n in folder if n.split()[0] == task.name and results.get(n)):
            f = results[name]["config"]["data"]["train_fraction"]
            out.append(_headline(folder[name], f"{task.title} {task.headline.name}{what}, {f:.0%} for training",
                                 course_note=course_note))
    return out


def _length_headlines(lengths: dict[str, Any], runs: dict[str, Any],
                      plan: ArithmeticProfile) -> list[Headline | None]:
    """Length-generalisation rows, read from the ``length`` section of each run's results.json."""
    out = []
    longest = max(plan.lengths)
    for name, curve in lengths["curves"].items():
        if name.startswith("columns") and 10 in curve:
            widened = " padded to up to 10 columns" if name.startswith("columns-long") else ""
            out.append(headline_from_run(
                runs[name], "arithmetic", f"text→text {name}: exact match on fresh 10-digit operands (trained on "
                f"0..{plan.max_int}{widened})", "length.10.exact_match", kind="pct", n_key="length.10.n",
                peer_note=_ABACUS, held_out=f"random 10-digit + and − queries (up to {longest} digits in the "
                "figure)"))
        if name.startswith("automaton"):
            for op, word in (("+", "addition"), ("-", "subtraction")):
                if op in lengths["by_op"][name][longest]:
                    out.append(headline_from_run(
                        runs[name], "arithmetic", f"text→text {name}: {word} of fresh {longest}-digit operands "
                        f"(trained on 0..{plan.max_int})", f"length.{longest}.exact_match_by_op.{op}", kind="pct",
                        n_key=f"length.{longest}.n_by_op.{op}", peer_note=_ABACUS if op == "+" else "",
                        held_out=f"random {longest}-digit {op.replace('-', '−')} queries"))
    return out


@register_study("arithmetic", order=10, plan=arithmetic_plan)
def arithmetic_study(ctx: StudyContext) -> StudyResult:
    from latentworks.pipelines.arithmetic import train

    plan = ARITHMETIC[ctx.profile]
    root = ctx.out / "arithmetic"
    summary = sweep(lambda f: _sweep_config(ctx, plan, f), list(plan.sweep.fractions), _sweep_folder(ctx, plan),
                    train_fn=lambda cfg, run_dir: ctx.train(train, cfg, run_dir))
    runs = _runs(ctx, plan)
    results: dict[str, Any] = {}
    for name, run_dir, cfg in runs:
        results[name] = ctx.train(train, cfg, run_dir)

    rows = []
    for row in summary.get("rows", []):
        rows.append([plan.sweep.task, plan.sweep.recipe, row["train_fraction"], row["exact_match"],
                     row["char_accuracy"], row.get("abs_error"), row["seconds"]])
    for name, res in results.items():
        if res is None:
            continue
        task, preset = name.split()
        rows.append([task, preset, res["config"]["data"]["train_fraction"],
                     *[res["test"].get(m.key) for m in task_of(task).measures], res["train"]["seconds"]])
    table = Table(["task", "recipe", "learns from", "trained on", "exact match", "per-character accuracy",
                   "mean |error|", "training time"],
                  [[task_of(r[0]).title, r[1], SUPERVISION[(r[0], r[1])], *r[2:]] for r in rows],
                  formats=["text", "text", "text", "pct", "pct", "pct", "num", "secs"],
                  tips=["", "latentworks.recipes.arithmetic", "the supervision the model had",
                        "share of all queries used for training",
                        "test.exact_match", "test.char_accuracy", "test.abs_error: mean |answer − right answer|",
                        "train.seconds"],
                  caption="Every score on held-out queries; text→image answers are read back by the digit reader")
    text = (
        "<p>Encoder-decoder RNNs that answer <code>12+34</code> with <code>46</code>: from text, from MNIST "
        "handwriting (image→text) and drawing the answer (text→image). Every model is scored on queries it never "
        "saw in training; image queries are written with MNIST <b>test-split</b> digits. The course reports only "
        "Keras per-character accuracy, which hides most errors (its own 60 % per-character at a 10 % split is 7 % "
        "exact match). text→image answers are read back by a digit reader trained separately on MNIST train "
        "digits and never used as a loss.</p>"
    )
    figures = [(p, _SWEEP_CAPTIONS.get(p.stem, p.stem.replace("_", " ")))
               for p in sorted((_sweep_folder(ctx, plan) / "figures").glob("*.png"))]
    folder = {name: run_dir for name, run_dir, _ in runs}
    length_runs = {f"{plan.sweep.recipe}, {r['train_fraction']:.0%} for training": r["run"]
                   for r in summary.get("rows", [])}
    text_runs = {r.recipe: r for r in plan.runs if r.task == TEXT_TO_TEXT.name}
    for preset, line in (("columns-long", "columns-long, {:.0%} for training"),
                         ("automaton", "automaton, {:.0%} for training"), ("course", "the course's model (course)")):
        if preset in text_runs and results.get(f"{TEXT_TO_TEXT.name} {preset}"):
            length_runs[line.format(text_runs[preset].fraction)] = folder[f"{TEXT_TO_TEXT.name} {preset}"]
    lengths = _length_generalisation(length_runs, plan, root / "figures" / "length_generalisation.png",
                                     ctx.progress)
    figures.append((lengths["figure"], "Length generalisation: the same models on fresh queries whose operands have "
                    "more digits than any they trained on (columns-long saw two-digit queries padded with up to 8 "
                    "leading zero columns, i.e. the width of 10-digit ones, but never a non-zero digit there). A model "
                    "that learned the carry rule stays high; one that memorised the two-digit table drops to zero. The "
                    "automaton adds at any length, and subtracts by finding the number its own learned addition "
                    "turns into the first operand"))
    subsections = [section_from_run(r["run"]) for r in summary.get("rows", [])]
    subsections += [section_from_run(run_dir) for _, run_dir, _ in runs]
    subsections.insert(0, _records(root, [r["run"] for r in summary.get("rows", [])] + [d for _, d, _ in runs]))
    section = Section("Arithmetic: text→text, image→text, text→image", text=text, tables=[table],
                      figures=figures, subsections=subsections)
    metrics = {f"{r[0]}/{r[1]}/{r[2]:g}": {"exact_match": r[3], "char_accuracy": r[4]} for r in rows}
    metrics["length_generalisation"] = lengths["curves"]
    headlines = _headlines(summary.get("rows", []), folder, results) + _length_headlines(lengths, length_runs, plan)
    return StudyResult([section], metrics, [h for h in headlines if h is not None])


def _records(root: Path, run_dirs: list[Any]) -> Section:
    """What each recipe is given (recipes/arithmetic_priors.py), MNIST-addition beside the published systems and,
    where a run multiplies and was scored on longer operands, the multiplication-length figure."""
    from latentworks.recipes.arithmetic import TASK_NAMES
    from latentworks.recipes.arithmetic_priors import COLUMNS, note, table_rows
    from latentworks.report.arithmetic import priors_table, records_section

    priors = priors_table(COLUMNS, table_rows(TASK_NAMES, code=False), note())
    return records_section(run_dirs, root / "figures" / "multiplication_length.png", priors)


_ABACUS = ("Abacus embeddings (McLeish et al. 2024) reach 99 % on 100-digit addition after training on up to 20 "
           "digits; not the same set-up")


def _length_generalisation(runs: dict[str, Any], plan: ArithmeticProfile, figure: Path,
                           progress: bool = False) -> dict[str, Any]:
    """Each text→text run scored on fresh queries with longer operands, and the figure."""
    from tqdm.auto import tqdm

    from latentworks.pipelines.length import evaluate_length, length_figure
    from latentworks.runs import add_results_section

    curves: dict[str, dict[int, float]] = {}
    sizes: dict[str, dict[int, int]] = {}
    by_op: dict[str, dict[int, dict[str, float]]] = {}
    n_by_op: dict[str, dict[int, dict[str, int]]] = {}
    bar = tqdm(total=len(runs) * len(plan.lengths), desc="scoring longer operands", unit="length", leave=False,
               disable=not progress, dynamic_ncols=True)
    for name, run in runs.items():
        scored = {}
        for d in plan.lengths:
            bar.set_postfix_str(f"{name}: {d} digits", refresh=False)
            scored[d] = evaluate_length(run, d, n=plan.length_n, seed=0)
            bar.update(1)
        add_results_section(run, "length", {d: {k: r[k] for k in ("n", "exact_match", "char_accuracy",
                                                                  "exact_match_by_op", "n_by_op")}
                                            for d, r in scored.items()})
        curves[name] = {d: r["exact_match"] for d, r in scored.items()}
        by_op[name] = {d: r["exact_match_by_op"] for d, r in scored.items()}
        n_by_op[name] = {d: r["n_by_op"] for d, r in scored.items()}
        sizes[name] = {d: r["n"] for d, r in scored.items()}
    bar.close()
    path = length_figure(by_op, figure, title=f"trained on 0..{plan.max_int}, scored on longer operands",
                         trained_digits=len(str(plan.max_int)))
    return {"figure": path, "curves": curves, "n": sizes, "by_op": by_op, "n_by_op": n_by_op}


_SWEEP_CAPTIONS = {
    "exact_match_vs_fraction": "More training queries, better answers: exact match climbs much faster than the "
                               "per-character accuracy suggests",
    "sweep_training_curves": "Held-out accuracy after every epoch, on a fixed subset of the held-out queries where "
                             "a run has more than its eval_subset (the axis then says how many; the table scores "
                             "all of them, so the last points can differ from it), one colour per train fraction "
                             "(solid: exact match, dotted: per-character): small fractions plateau early",
}
