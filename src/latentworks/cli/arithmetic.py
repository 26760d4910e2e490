"""``latentworks arithmetic train | sweep | predict | render | eval``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated

from latentworks.cli import limits
from latentworks.cli.common import Output, Positional, output_path
from latentworks.cli.parsing import TrainFamily, option_hints, option_value, parse, parse_train, train_command
from latentworks.config import ConfigError, flag_alias, override, require, validate
from latentworks.data.arithmetic_dataset import QueryFormat
from latentworks.data.roots import check_data_dir
from latentworks.recipes import arithmetic as recipes

# --ops and --supervision select too: ``default`` is long-multiply on '*' alone, columns-multiply (also the old
# ``best``) on '*' beside '+' or '-', and glyph-answers from answers alone; recipes.recipe prints which recipe a
# ``default`` or an old name stands for.
FAMILY = TrainFamily(recipes=recipes, selectors={"task": ("--task",), "name": ("--preset", "--recipe"),
                                                 "data.ops": ("--ops",), "supervision": ("--supervision",)},
                     default_recipe=lambda chosen: "default",
                     alias=lambda name, run: recipes.chosen_recipe(name, run.task, run.data.ops, run.supervision),
                     run_classes=lambda: sorted({c for _, _, c in recipes.MODEL_CONFIGS.values()}, key=str))


MAX_QUERIES = 1_000_000  # per length: a million 200-digit queries and answers are about 1 GB of text

def _label(cls: type) -> str:
    names = [f"{t} {r}" for (t, r), (_, _, c) in recipes.MODEL_CONFIGS.items() if c is cls]
    return " / ".join(names)


def _hints(chosen: type) -> dict[str, str]:
    return option_hints(FAMILY.run_classes(), chosen, _label)


def _headline(test: dict) -> dict:
    return {k: v for k, v in test.items() if not isinstance(v, dict)}


def train(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.arithmetic import train as train_run

    return train_command(FAMILY, argv, prog, "Train one arithmetic model and score it on held-out queries.",
                         train_run, lambda r: {"test": _headline(r["test"]), "train": r["train"]}, _hints)


def mnist_addition(argv: list[str], prog: str) -> int:
    """MNIST-addition on the benchmark's own protocol: the mnist-addition recipe, trained and scored on sums."""
    from latentworks.pipelines.arithmetic import train as train_run

    for flag in ("--task", "--preset", "--recipe", "--supervision"):
        if option_value(argv, (flag,)) is not None:
            raise ConfigError(f"{flag}: mnist-addition trains its own recipe (image→text from sums only); drop it")
    argv = ["--task", "img2text", "--preset", "mnist-addition", *argv]  # --digits is the data's N (an alias)
    if option_value(argv, ("--out",)) is None and not any(a in ("-h", "--help", "--print-config") for a in argv):
        digits = option_value(argv, ("--digits", "--number-length")) or "1"
        seed = option_value(argv, ("--seed",)) or "0"
        argv += ["--out", f"runs/mnist-addition/N{digits}-seed{seed}"]
    parsed = parse_train(FAMILY, argv, prog, "MNIST-addition on its own protocol: MNIST train images shuffled with "
                         "--seed and cut into 60,000 / 2N sums of two N-digit numbers (each image once, labelled "
                         "with the sum only); scored on the sums built the same way from MNIST test.", _hints)
    if parsed is None:
        return 0
    cfg, opts = parsed
    r = train_run(cfg, opts.out, resume=opts.resume, overwrite=opts.overwrite)
    if r is None:  # a torchrun rank that does not write
        return 0
    test = r["test"]
    print(f"MNIST-addition N = {cfg.data.number_length}, seed {cfg.train.seed}: sum accuracy "
          f"{test['sum_accuracy']:.2%} on n = {test['n']:,} test sums ({r['train']['queries']:,} training sums, "
          f"{r['train']['steps']:,} steps)")
    print(json.dumps({"out": opts.out, "test": _headline(test), "train": r["train"]}))
    return 0


@dataclass
class SweepOptions:
    train_fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5)  # one run per fraction


def sweep(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.arithmetic import train as train_run
    from latentworks.pipelines.sweep import sweep as run_sweep

    if option_value(argv, ("--train-fraction",)) is not None:
        raise ConfigError("a sweep trains at each of --train-fractions; drop --train-fraction")
    fractions_argv, rest = _split_fractions(argv)
    options = parse(SweepOptions, fractions_argv, prog=prog)
    require(bool(options.train_fractions), "train_fractions", "", "needs at least one value, e.g. --train-fractions "
            "0.1 0.5")
    for f in options.train_fractions:
        require(0 < f < 1, "train_fractions", list(options.train_fractions), "must lie strictly between 0 and 1")
    if not any(a == "--out" or a.startswith("--out=") for a in rest):
        rest += ["--out", "runs/sweep"]
    parsed = parse_train(FAMILY, rest, prog, "Train at several train fractions: curves and exact match vs "
                         "fraction (--train-fractions 0.05 0.1 0.25 0.5).", _hints)
    if parsed is None:
        return 0
    cfg, opts = parsed

    def run(c, run_dir):
        return train_run(c, run_dir, resume=opts.resume, overwrite=opts.overwrite)

    summary = run_sweep(lambda f: validate(override(cfg, {"data.train_fraction": f})),
                        list(options.train_fractions), opts.out, train_fn=run)
    print(json.dumps(summary))
    return 0


def _split_fractions(argv: list[str]) -> tuple[list[str], list[str]]:
    """``--train-fractions 0.05 0.1 ...`` (or ``=a,b``) apart from the train command's own options."""
    mine, rest, i = [], [], 0
    while i < len(argv):
        token = argv[i]
        if token == "--train-fractions":
            mine.append(token)
            i += 1
            while i < len(argv) and not argv[i].startswith("--"):
                mine += [v for v in argv[i].split(",") if v]
                i += 1
            continue
        if token.startswith("--train-fractions="):
            mine += ["--train-fractions", *[v for v in token.split("=", 1)[1].split(",") if v]]
        else:
            rest.append(token)
        i += 1
    return mine, rest


@dataclass
class Predict:
    run: Positional[str]  # a finished arithmetic run folder
    query: Positional[str]  # e.g. '12+34'
    image: str | None = None  # image→text runs: a (28, 28·L) PNG strip of the query (default: drawn from MNIST test)
    seed: int = 0  # which MNIST test handwriting draws the query when no --image is given
    data_dir: str | None = None  # folder holding MNIST ('embedded': the packaged sample)
    out: Output = field(default_factory=Output)  # text→image runs: the PNG of the drawn answer

    def check(self) -> None:
        limits.seed(self.seed)


def predict(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.arithmetic import predict as run_predict
    from latentworks.pipelines.arithmetic import run_info
    from latentworks.pipelines.tasks import task as task_of

    args = validate(parse(Predict, argv, prog=prog, description="Answer a query with a trained arithmetic run."))
    task, _, _ = run_info(args.run)
    output = args.out.output
    require(args.image is None or task_of(task).images_in, "image", args.image,
            f"only applies to img2text runs; {args.run} is a {task} run")
    require(output is None or task_of(task).images_out, "output", output,
            f"only applies to text2img runs (the answer is drawn); {args.run} is a {task} run")
    if output is None and task_of(task).images_out:  # never a file in the working folder that was not asked for
        raise ConfigError(f"{args.run} is a text2img run: it draws the answer; pass -o answer.png to write it")
    output = output_path(output, overwrite=args.out.overwrite)
    check_data_dir(args.data_dir)
    print(run_predict(args.run, args.query, image=args.image, out_png=output, data_dir=args.data_dir,
                      seed=args.seed))
    return 0


@dataclass
class Render:
    query: Positional[str]  # e.g. '12+34'
    output: Annotated[str, flag_alias("-o")]  # the PNG to write
    overwrite: bool = False  # replace the PNG if it already exists
    format: QueryFormat = field(default_factory=QueryFormat)
    seed: int = 0  # which MNIST test handwriting is drawn
    data_dir: str | None = None  # folder holding MNIST ('embedded': the packaged sample)

    def check(self) -> None:
        limits.seed(self.seed)


def render(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.arithmetic import render_query

    args = validate(parse(Render, argv, prog=prog, description="Draw a query with MNIST test-split digits as a PNG "
                          "strip."))
    output_path(args.output, overwrite=args.overwrite)
    check_data_dir(args.data_dir)
    validate(args.format)
    print(render_query(args.query, args.output, spec=args.format.spec(), data_dir=args.data_dir, seed=args.seed))
    return 0


@dataclass
class Eval:
    run: Positional[str]  # a finished text→text run folder
    # operand lengths to score: N (both operands N digits) or AxB (A digits, then B), e.g. --digits 3 10 100 4x2
    digits: tuple[str, ...] = ("3", "5", "10")
    n: int = 10_000  # fresh queries per length (fewer where fewer exist; 1 to 1,000,000)
    ops: str | None = None  # operators to score (default: the run's), e.g. --ops +
    seed: int = 0  # which queries are drawn
    out: Output = field(default_factory=Output)  # the figure (default: RUN/figures/length_generalisation.png)

    def check(self) -> None:
        limits.seed(self.seed)
        limits.between(self.n, "n", 1, MAX_QUERIES, "queries and answers held in memory and written per length")


def evaluate(argv: list[str], prog: str) -> int:
    from pathlib import Path

    from latentworks.pipelines.arithmetic import run_info
    from latentworks.pipelines.length import (
        evaluate_length,
        held_out_mirror_free,
        length_figure,
        length_outputs,
        parse_lengths,
    )

    args = validate(parse(Eval, argv, prog=prog, description="Score a text→text run on fresh queries whose "
                          "operands have exactly N digits (length generalisation); queries and answers are written "
                          "to RUN/length/."))
    require(bool(args.digits), "digits", args.digits, "needs at least one length, e.g. --digits 3 10")
    lengths = [parse_lengths(d) for d in args.digits]
    equal = [a for a, b in lengths if a == b]  # the figure's x axis: unequal lengths are printed only
    output = output_path(args.out.output, overwrite=args.out.overwrite, own=args.run, default=Path(args.run)
                         / "figures" / "length_generalisation.png" if len(equal) > 1 else None)
    for path, state in length_outputs(args.run, lengths, args.n, args.ops, args.seed):
        if state in ("new", "other"):  # a reused or upgraded file holds this very measurement
            output_path(None, overwrite=args.out.overwrite, default=path, own=args.run, suffixes=(".json",))
    curve = {}
    for digits, other in lengths:
        r = evaluate_length(args.run, digits, n=args.n, ops=args.ops, seed=args.seed, other=other,
                            overwrite=args.out.overwrite)
        if digits == other:
            curve[digits] = r["exact_match_by_op"]
        ops = "  ".join(f"{op} {v:.2%}" for op, v in r["exact_match_by_op"].items())
        label = f"{digits:4d}" if digits == other else f"{digits}x{other}".rjust(4)
        print(f"{label} digits: exact match {r['exact_match']:.2%}, per-char {r['char_accuracy']:.2%} on "
              f"{r['n']:,} fresh queries ({ops}) → {r['file']}")
    if "*" in (args.ops or run_info(args.run)[1].ops):  # ×: does it answer a×b when b×a was not trained either?
        m = held_out_mirror_free(args.run, args.ops)
        ops = "  ".join(f"{op} {v:.2%} of {m['n_by_op'][op]:,}" for op, v in m["exact_match_by_op"].items())
        print(f"held out, mirror (b op a) not trained either: exact match {m['exact_match']:.2%} on {m['n']:,} "
              f"of {m['held_out']:,} held-out queries ({ops})")
    if len(curve) > 1:
        print(length_figure({Path(args.run).name: curve}, output))
    return 0


__all__ = ["FAMILY", "evaluate", "mnist_addition", "predict", "render", "sweep", "train"]
