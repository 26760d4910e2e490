"""One run in the report: folded into a line of the headline measures its kind registers, opening to its
measures, figures, wrong answers and configuration; and runs of one kind compared side by side.

Every value comes from the run's results.json and is tagged with its key (:func:`latentworks.report.html.shown`),
so a test can read each one back.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from latentworks.config import flatten
from latentworks.registry import headlines, measures_of
from latentworks.report.html import Section, Table, shown, value_at
from latentworks.report.names import METRICS, fmt, kind_of, label
from latentworks.runs import RunDir, read_json

# What a run's table lists below its headline measures (which the registry names) and its other held-out scores:
# how it was scored and what it cost, never a headline.
RUN_FACTS = ("test.n", "test.scored_by", "eval.n", "eval.fld", "eval.fld_floor", "eval.mean_confidence",
             "eval.grey_share", "eval.code_purity", "data.test_images", "corpus.val", "train_loss",
             "completion_hits", "train.seconds", "train.steps", "train.examples_per_sec", "train_seconds", "steps",
             "chars_per_sec")

FIGURE_CAPTIONS = {
    "training_curves": "held-out (test) and training accuracy after every epoch, on a fixed subset of each split "
                       "larger than the run's eval_subset (the table scores every held-out query, so the last point "
                       "can differ from it); solid = exact match, dotted = per-character. A gap between train and "
                       "test is overfitting",
    "loss": "loss by step: training (averaged over each logging window) and, where drawn, validation",
    "error_sizes": "how far off the wrong answers are (numeric |error|, log scale): mostly one digit off means the "
                   "model computes column by column",
    "misclassified": "held-out queries it answered wrongly: expected and predicted",
    "generated_vs_real": "each answer drawn by the model (left) beside real MNIST test handwriting of the same "
                         "answer (right)",
    "several_hands": "the same held-out answers written from several style codes: the digits should change shape "
                     "the way two people's handwriting does, and stay readable",
    "samples": "samples from the prior, cells numbered so cells can be picked for latent arithmetic",
    "reconstructions": "held-out test images (top) and their reconstructions (bottom): a good autoencoder keeps "
                       "each digit's identity and slant, a blurry one only its rough shape",
    "d_accuracy": "how often the discriminator is right, on real and on generated images; near 50 % on both is "
                  "the balance a GAN aims for",
    "codes": "one row per InfoGAN code value, the same noise down each column: each row should be one kind of "
             "digit",
    "eval_elbo": "held-out ELBO (nats per image) after every epoch; higher is better",
    "eval_recon_mse": "held-out reconstruction MSE after every epoch",
    "accuracy": "next-character accuracy: training (smoothed) and validation",
}


def caption_for(stem: str, results: dict[str, Any] | None = None) -> str:
    """What to look at in a run's figure, by its file name (and the run's results, for the sizes it names)."""
    if stem.startswith("epoch_"):
        return f"the same latent vectors decoded after epoch {int(stem[6:])}"
    subset = value_at(results or {}, "config.eval.eval_subset")
    n = value_at(results or {}, "test.n")
    if stem == "training_curves" and subset and n and subset < n:
        return (f"held-out (test) and training accuracy after every epoch, scored on a {subset:,}-query "
                f"subset of each split (the table scores all {n:,} held-out queries, so the last point can differ "
                "from it); solid = exact match, dotted = per-character. A gap between train and test is "
                "overfitting")
    return FIGURE_CAPTIONS.get(stem, stem.replace("_", " "))


def run_measures(results: dict[str, Any]) -> list[tuple[str, str, Any, str]]:
    """(key in results.json, human name, value, format) of what a run recorded: the headline measures its kind
    registers first, in their order, then its other held-out scores, then :data:`RUN_FACTS`."""
    out = [(m.key, m.name, v, m.fmt) for m, v in headlines(results)]
    test = results.get("test") if isinstance(results.get("test"), dict) else {}
    keys = [f"test.{k}" for k in test if k != "n" and (k in METRICS or k.startswith("iw_nll_k"))]
    for key in dict.fromkeys([*keys, *RUN_FACTS]):
        value = value_at(results, key)
        if value is not None and key not in {k for k, *_ in out}:
            last = key.rsplit(".", 1)[-1]
            out.append((key, label(last), value, "num" if last.startswith("iw_nll_k") else kind_of(last)))
    return out


def _note(key: str, results: dict[str, Any]) -> str:
    """What a bare value needs beside it to be read right (the digit a class balance is about, "of N")."""
    ev = results.get("eval") if isinstance(results.get("eval"), dict) else {}
    if key.endswith("class_max_rel_deviation") and ev.get("class_worst_digit") is not None:
        return f" (digit {ev['class_worst_digit']}: {ev['class_worst_count']:,} of {ev['n']:,} samples)"
    if key == "completion_hits" and isinstance(results.get("completions"), list):
        return f" of {len(results['completions'])}"
    return ""


def section_from_run(run_dir: str | Path, figures: list[tuple[Path, str]] | None = None,
                     skip: tuple[str, ...] = ()) -> Section:
    """A run folded into one line (the headline measures its kind registers, read from its results.json) that
    opens to its measures, figures (but those named in ``skip``), the command that opens it in the explorer,
    and its configuration."""
    run = RunDir(run_dir, create=False)
    results = run.read_results()
    measures = run_measures(results)
    good = {m.key: m.good for m in measures_of(results)}
    values = {key: shown(v, k, key, good.get(key, METRICS.get(key.rsplit(".", 1)[-1], ("", "", ""))[2]))
              + html.escape(_note(key, results)) for key, _, v, k in measures}
    line = ", ".join(f"{html.escape(name)} {values[key]}" for key, name, *_ in measures if key in good)
    config = html.escape(json.dumps(results.get("config", {}), indent=1))
    runtime = results.get("runtime") or {}
    facts = [str(run.root), str(results.get("kind")), f"random seed {results.get('seed')}",
             f"{runtime.get('world_size', 1)} process(es) on {runtime.get('device', 'cpu')}"]
    text = (f'<p class="meta">{" · ".join(html.escape(f) for f in facts)}</p>'
            f"<p>Open it in the explorer: <code>latentworks explore {html.escape(str(run.root))}</code></p>"
            f"<details><summary>configuration</summary><pre>{config}</pre></details>")
    # Values go in already formatted (as each measure's own format asks), right-aligned as numbers.
    table = (Table(["measure", "value"], [[name, values[key]] for key, name, *_ in measures],
                   formats=["text", "html"]) if measures else None)
    tables = ([table] if table else []) + [_text_table(p) for p in sorted(run.figures.glob("*.table.json"))]
    if figures is None:
        pngs = sorted(run.figures.glob("*.png"))
        epochs = [p for p in pngs if p.stem.startswith("epoch_")]
        keep = set(epochs[:1] + epochs[-1:])  # the first and last epoch; the GIF animates the rest
        figures = [(p, caption_for(p.stem, results)) for p in pngs if (not p.stem.startswith("epoch_") or p in keep)
                   and p.stem not in skip]
    return Section(results.get("title", run.root.name), text=text, tables=tables,
                   figures=figures, folded=True, summary=line, run=str(run.root))


def _text_table(path: Path) -> Table:
    """A run's table of strings (``figures/NAME.table.json``: columns, rows, caption), shown as text."""
    data = read_json(path)
    return Table(list(data["columns"]), [list(r) for r in data["rows"]], caption=data.get("caption", ""),
                 formats=["mono"] * len(data["columns"]))


def compare_runs(run_dirs: list[str | Path]) -> Section | None:
    """Runs of one kind side by side: their measures and the settings in which they differ."""
    results = [RunDir(d, create=False).read_results() for d in run_dirs]
    kinds = {r.get("kind") for r in results}
    if len(results) < 2 or len(kinds) != 1:
        return None
    configs = [flatten(r.get("config", {})) for r in results]
    shown_only = ("train.progress", "train.device", "eval.print_samples")  # they change the log, not the run
    differ = sorted(k for k in set().union(*configs) if len({json.dumps(c.get(k)) for c in configs}) > 1
                    and not k.startswith(shown_only))
    measured = [{key: (name, v, k) for key, name, v, k in run_measures(r)} for r in results]
    keys = list(dict.fromkeys(key for m in measured for key in m))  # every measure any of the runs has
    names = {key: next(m[key][0] for m in measured if key in m) for key in keys}
    rows = [[Path(d).name, *[fmt(*m[key][1:]) if key in m else "—" for key in keys],
             *[json.dumps(c.get(k)) for k in differ]] for d, m, c in zip(run_dirs, measured, configs)]
    return Section(f"Comparison of {len(results)} {kinds.pop()} runs", tables=[Table(
        ["run", *[names[k] for k in keys], *[k.rsplit(".", 1)[-1] for k in differ]], rows,
        formats=["text", *["shown"] * len(keys), *["mono"] * len(differ)],
        tips=["", *keys, *differ],
        caption="Measures on each run's held-out data, and every setting in which the runs differ")])



__all__ = ["FIGURE_CAPTIONS", "RUN_FACTS", "caption_for", "compare_runs", "run_measures", "section_from_run"]
