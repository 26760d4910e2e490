"""The char-RNN part of ``latentworks run``: a from-scratch NumPy RNN, optimizers, temperature, a grid.

Every loss is validation nats/char on the last 10 % of the corpus (never trained on), next to the uniform
baseline ln V. What each profile trains is :data:`latentworks.recipes.studies.CHARRNN` (full: Tiny Shakespeare when
the data folder has it, NumPy and torch runs plus the hidden x lr x seq-len grid).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from latentworks.recipes.studies import CHARRNN, CharProfile
from latentworks.report.html import Headline, Section, Table, headline_from_run
from latentworks.report.run_section import section_from_run
from latentworks.studies.catalogue import StudyContext, StudyResult, register_study

TEMPERATURES = (0.4, 0.6, 0.8, 1.0, 1.2, 1.4)


def _corpus(ctx: StudyContext, plan: CharProfile) -> tuple[str, str]:
    """(text option, description): Tiny Shakespeare for the full profile when found, else the embedded one."""
    from latentworks.data.text import find_text, load_corpus
    from latentworks.errors import LatentworksError

    if ctx.profile == "full":
        try:
            return find_text("tinyshakespeare", ctx.data_dir), "Tiny Shakespeare (1.1M characters)"
        except LatentworksError:
            pass
    if plan.corpus_chars is None:
        return "default", "the embedded stdlib pydoc corpus (~465k characters)"
    path = ctx.out / "charrnn" / "corpus.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(load_corpus("default")[: plan.corpus_chars])
    return str(path), f"the first {plan.corpus_chars:,} characters of the embedded pydoc corpus"


def _config(ctx: StudyContext, text: str, out: Path, name: str, **changes: Any):
    from latentworks.recipes.charrnn import recipe, resolve

    main = out.name in ("numpy-main", "torch-lstm")  # only these get figures, a 1000-char text and a section
    cfg = recipe(name, **{"data.text": text, "train.seed": ctx.seed, "train.device": ctx.device,
                          "train.progress": ctx.progress, "eval.print_samples": False,
                          "eval.generate_length": 1000 if main else 200,
                          "eval.figures": main, **changes})
    # Resolved here so that a finished run's stored (resolved) config compares equal under --resume.
    return resolve(cfg)


def _planned(ctx: StudyContext, plan: CharProfile, text: str) -> dict[str, tuple[Path, Any]]:
    """Every run of the char-RNN study by its table name: (run folder, config)."""
    root = ctx.out / "charrnn"
    runs = {"numpy main": (root / "numpy-main", plan.main)}
    if plan.torch:
        runs["torch LSTM"] = (root / "torch-lstm", plan.torch)
    planned = {name: (out, _config(ctx, text, out, recipe)) for name, (out, recipe) in runs.items()}
    for opt, lr in plan.optimizers:
        out = root / f"optim-{opt}"
        planned[f"{opt} lr {lr:g}"] = (out, _config(ctx, text, out, plan.optim,
                                                     **{"train.optimizer": opt, "train.lr": lr}))
    if plan.grid:
        grid = plan.grid
        for hidden, lr, seq in itertools.product(grid.hidden, grid.lr, grid.seq_len):
            name = f"H {hidden} lr {lr:g} T {seq}"
            out = root / "grid" / name.replace(" ", "_")
            planned[f"grid {name}"] = (out, _config(ctx, text, out, grid.recipe, **{
                "model.hidden": hidden, "train.lr": lr, "data.seq_len": seq, "train.steps": grid.steps,
                "train.eval_every": grid.steps}))
    return planned


def charrnn_plan(ctx: StudyContext) -> list:
    plan = CHARRNN[ctx.profile]
    text, _ = _corpus(ctx, plan)
    return [ctx.job(name, cfg, out) for name, (out, cfg) in _planned(ctx, plan, text).items()]


def _row(name: str, res: dict[str, Any]) -> list[Any]:
    return [name, res["val_loss"], res["val_acc"], res["train_loss"], res["steps"], res["chars_per_sec"],
            res["train_seconds"]]


COLUMNS = ["run", "validation nats/char", "next-character accuracy", "training nats/char", "steps",
           "characters/s", "training time"]
FORMATS = ["text", "num", "pct", "num", "int", "int", "secs"]
TIPS = ["", "val_loss", "val_acc", "train_loss", "steps", "chars_per_sec", "train_seconds"]


def _clean(text: str, n: int = 160) -> str:
    return text[:n].replace("\n", " ⏎ ")


@register_study("charrnn", order=30, plan=charrnn_plan)
def charrnn_study(ctx: StudyContext) -> StudyResult:
    from latentworks.pipelines.charrnn import load_sampler, train_charrnn
    from latentworks.recipes.charrnn import recipe
    from latentworks.report.plots import bar_plot, line_plot
    from latentworks.runs import RunDir

    plan = CHARRNN[ctx.profile]
    root = ctx.out / "charrnn"
    text, corpus = _corpus(ctx, plan)
    planned = _planned(ctx, plan, text)

    def run(name: str) -> dict[str, Any]:
        out, cfg = planned[name]
        return ctx.train(train_charrnn, cfg, out)

    runs: dict[str, dict[str, Any]] = {}
    main_dir = planned["numpy main"][0]
    runs["numpy main"] = main = run("numpy main")
    if plan.torch:
        runs["torch LSTM"] = run("torch LSTM")
    uniform = main["corpus"]["uniform_nats"]

    curves: dict[str, tuple[list, list]] = {}
    for opt, lr in plan.optimizers:
        out = planned[f"{opt} lr {lr:g}"][0]
        res = runs[f"{opt} lr {lr:g}"] = run(f"{opt} lr {lr:g}")
        rows = [r for r in RunDir(out, create=False).read_metrics() if "eval/val_loss" in r][:-1]
        # the last periodic point is replaced by the final whole-split validation loss
        curves[f"{opt} (lr {lr:g})"] = ([r["step"] for r in rows] + [res["steps"]],
                                        [r["eval/val_loss"] for r in rows] + [res["val_loss"]])
    fig_dir = root / "figures"
    optim = recipe(plan.optim)
    line_plot(curves, fig_dir / "optimizers.png", xlabel="step", ylabel="validation nats/char",
              title=f"optimizers, same budget ({optim.train.steps} steps)", ylim=(0, uniform * 1.05))

    sampler = load_sampler(main_dir)
    prime = "The " if set("The ") <= set(sampler.vocab.chars) else sampler.vocab.chars[-1]
    temp_rows = [[f"{t:g}", _clean(prime + sampler.text(prime, 200, t, seed=ctx.seed))] for t in TEMPERATURES]
    demo = [[d["prime"], d["completion"], d["target"], "yes" if d["hit"] else "no",
             _clean(d["continuation"], 40)] for d in main["completions"]]

    grid_rows = []
    if plan.grid:
        for hidden, lr, seq in itertools.product(plan.grid.hidden, plan.grid.lr, plan.grid.seq_len):
            res = run(f"grid H {hidden} lr {lr:g} T {seq}")
            grid_rows.append([hidden, lr, seq, res["val_loss"], res["val_acc"], res["chars_per_sec"]])
        best = sorted(grid_rows, key=lambda r: r[3])[:12]
        bar_plot([f"H{r[0]} lr{r[1]:g} T{r[2]}" for r in best], [round(r[3], 3) for r in best],
                 fig_dir / "grid_best.png", title="grid: best validation nats/char", ylabel="nats/char")

    tables = [Table(COLUMNS, [_row(n, r) for n, r in runs.items()], formats=FORMATS, tips=TIPS,
                    caption=f"Validation = last 10 % of {corpus}; uniform baseline ln V = {uniform:.3f}"),
              Table(["temperature", f"sample primed with {prime!r} (NumPy main run)"], temp_rows,
                    formats=["text", "mono"],
                    caption="Low temperatures repeat the likeliest words; high ones invent spellings"),
              Table(["prime", "greedy completion", "word", "match", "continuation"], demo,
                    formats=["mono", "mono", "mono", "text", "mono"],
                    caption=f"Half-word completion (temperature 0) of the {len(demo)} most frequent names of the "
                            "training text (capitalised words of 5+ letters rarely seen in lower case, counted in the "
                            f"text itself): {main['completion_hits']} of {len(demo)} completed")]
    if grid_rows:
        tables.append(Table(["hidden", "learning rate", "sequence length", "validation nats/char",
                             "next-character accuracy", "characters/s"], grid_rows,
                            formats=["int", "num", "int", "num", "pct", "int"],
                            caption=f"hidden x lr x seq-len grid: vanilla RNN, Adam, batch 32, "
                                    f"{plan.grid.steps} steps each (longer sequences see more characters)"))
    intro = (f"<p>Character models on {corpus}. The NumPy RNN/LSTM are written from scratch (explicit BPTT, "
             "gradient-checked against finite differences and torch). All losses are <b>validation</b> "
             "nats per character on the held-out last 10 % (predicted with the whole preceding stream as "
             f"context); ln V = {uniform:.3f} is the uniform predictor. Karpathy's min-char-rnn reaches "
             "about 2.0 nats/char (smoothed <i>training</i> loss) on Tiny Shakespeare. Same optimizer "
             "budget: "
             f"{optim.train.steps} steps of batch {optim.train.batch_size} x {optim.data.seq_len} "
             "characters.</p>")
    figures = [(fig_dir / "optimizers.png", "validation loss by optimizer, same steps, each at one "
                                             "conventional learning rate (the ranking depends on it)")]
    if grid_rows:
        figures.append((fig_dir / "grid_best.png", "best grid cells"))
    subsections = [section_from_run(main_dir)]
    if plan.torch:
        subsections.append(section_from_run(root / "torch-lstm"))
    title = "Character RNN: NumPy from scratch" + (" and a torch LSTM" if plan.torch else "")
    section = Section(title, text=intro, tables=tables, figures=figures, subsections=subsections)
    metrics = {n: {"val_loss": r["val_loss"], "chars_per_sec": r["chars_per_sec"]} for n, r in runs.items()}
    metrics["uniform_nats"] = uniform
    metrics["completion_hits"] = f"{main['completion_hits']}/{len(main['completions'])}"
    if grid_rows:
        metrics["grid_best"] = min(grid_rows, key=lambda r: r[3])[:4]
    return StudyResult([section], {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                   for k, v in metrics.items()},
                       _headlines({name: planned[name][0] for name in runs if name in planned}, corpus))


# Peers on Tiny Shakespeare (anchors §5). Only nanoGPT's CPU model reports the same measure on the same 90/10 split;
# min-char-rnn's ≈ 2.0 nats/char is a smoothed *training* loss, so it is named in the note, never put in the column.
PEERS = {"numpy main": (None, "Karpathy's min-char-rnn (NumPy vanilla RNN, H 100) reaches about 2.0 nats/char of "
                              "smoothed training loss on Tiny Shakespeare, a different measure, so no peer column"),
         "torch LSTM": (1.88, "nanoGPT's CPU example (4-layer transformer, 128 wide, 2,000 iterations): 1.88 "
                              "validation nats/char on the same 90/10 split")}


def _headlines(folders: dict[str, Path], corpus: str) -> list[Headline]:
    """The main runs' first registered headline measure, read from each run's results.json."""
    from latentworks import registry
    from latentworks.runs import RunDir

    shakespeare = corpus.startswith("Tiny Shakespeare")
    out = []
    for name in ("numpy main", "torch LSTM"):
        if name not in folders:
            continue
        peer, note = PEERS[name]
        what = "NumPy RNN from scratch" if name == "numpy main" else "torch LSTM"
        measure = registry.measures_of(RunDir(folders[name], create=False).read_results())[0]
        out.append(headline_from_run(folders[name], "char-RNN", f"{what}: {measure.name} (lower is better)", measure,
                                     n_key="corpus.val", peer=peer if shakespeare else None,
                                     peer_note=note + ("" if shakespeare or peer is None else "; not shown here: "
                                                       "this profile's corpus is not Tiny Shakespeare"),
                                     held_out=f"the last 10 % of {corpus}"))
    return [h for h in out if h is not None]
