"""The figures of one arithmetic run: curves, error sizes, and the examples it got wrong.

Plain drawing functions: each task (``pipelines/tasks``) picks the ones that show what it does, so this module
imports no pipeline and no task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from latentworks.data.glyphs import render_strip
from latentworks.report import plots
from latentworks.runs import RunDir, write_json

MAX_EXAMPLES = 16


def curves(run: RunDir, history: list[dict[str, Any]], title: str, subset: int | None = None) -> None:
    """Accuracy by epoch and the training loss; ``title`` names the task as a reader says it, ``subset`` how many
    queries of each split the per-epoch points score (the final table scores every held-out query)."""
    evals = [r for r in history if any(k.startswith("eval/") for k in r)]
    if evals:
        series = {}
        for key, name in (("eval/train_exact_match", "train exact match"), ("eval/test_exact_match",
                          "held-out exact match"), ("eval/train_char_accuracy", "train per-char"),
                          ("eval/test_char_accuracy", "held-out per-char")):
            points = [(r["epoch"], r[key]) for r in evals if r.get(key) is not None]
            if points:
                series[name] = ([p[0] for p in points], [p[1] for p in points])
        on = f" ({subset:,}-query subset of each split)" if subset else ""
        if series:
            plots.line_plot(series, run.figures / "training_curves.png", title=f"{title}: accuracy by epoch",
                            xlabel="epoch", ylabel=f"accuracy{on}", ylim=(0, 1.01),
                            styles={"train per-char": ":", "held-out per-char": ":"})
    losses = [(r["step"], r["loss"]) for r in history if "loss" in r]
    if losses:
        plots.line_plot({"train loss": ([p[0] for p in losses], [p[1] for p in losses])},
                        run.figures / "loss.png", title=f"{title}: training loss", xlabel="step",
                        ylabel="loss")


def error_sizes(run: RunDir, histogram: dict[str, int] | None, title: str) -> None:
    if histogram:
        plots.bar_plot(list(histogram), list(histogram.values()), run.figures / "error_sizes.png",
                       title=f"{title}: size of the numeric error on {sum(histogram.values()):,} held-out "
                             "queries",
                       xlabel="|answer − right answer|  (unreadable: not a number)", ylabel="queries",
                       log=True)


def wrong_picks(predicted: list[str], expected: list[str]) -> list[int]:
    """The held-out answers to show as wrong: all of them, or a seeded sample of ``MAX_EXAMPLES`` (so the
    figure is not always the smallest operands)."""
    wrong = [k for k, (p, e) in enumerate(zip(predicted, expected)) if p != e]
    if len(wrong) > MAX_EXAMPLES:
        wrong = sorted(np.random.default_rng(0).choice(wrong, MAX_EXAMPLES, replace=False).tolist())
    return wrong


def misclassified_text(run: RunDir, test, predicted: list[str], wrong: list[int]) -> None:
    """The held-out queries answered wrongly, as a table the report shows as text (``figures/*.table.json``),
    not a picture: the strings without the model's padding, which a reader can copy."""
    if wrong:
        rows = [[test.queries[k].strip(), test.answers[k].strip(), predicted[k].strip() or "(nothing)"]
                for k in wrong]
        write_json(run.figures / "misclassified.table.json",
                   {"columns": ["query", "right answer", "the model's answer"], "rows": rows,
                    "caption": (f"a seeded sample of {MAX_EXAMPLES} held-out queries it answered wrongly"
                                if len(wrong) >= MAX_EXAMPLES else "every held-out query it answered wrongly")})


def misclassified_handwriting(run: RunDir, test, predicted: list[str], inputs: torch.Tensor,
                              wrong: list[int]) -> None:
    if wrong:
        strips = [render_strip(inputs[k].numpy()) / 255.0 for k in wrong]
        labels = [f"{test.answers[k]!r}→{predicted[k]!r}" for k in wrong]
        plots.image_rows(strips, labels, run.figures / "misclassified.png",
                         title="held-out handwriting answered wrongly (expected→predicted)")


def generated_vs_real(run: RunDir, prepared, predicted: list[str], images: torch.Tensor,
                      wrong: list[int]) -> None:
    """Drawn answers beside the same answers in real MNIST test handwriting, half of them wrong ones."""
    test = prepared.test
    picks = list(range(min(8, len(images))))
    if wrong:
        picks = picks[:4] + wrong[:4]
    gen = torch.Generator().manual_seed(0)
    y = torch.from_numpy(test.y)
    real = prepared.test_glyphs.render(y[picks], gen).numpy() / 255.0
    rows, labels, marks = [], [], []
    for n, k in enumerate(picks):
        drawn = images[k].float() / 255.0 if images.dtype == torch.uint8 else images[k]
        fake = render_strip(drawn.numpy())
        rows.append(np.concatenate([fake, np.ones((28, 8)), render_strip(real[n])], axis=1))
        labels.append(f"{test.queries[k].strip()} = {test.answers[k].strip()}")
        misread = predicted and predicted[k].strip() != test.answers[k].strip()
        marks.append([(0, fake.shape[1], f"read as {predicted[k].strip() or '(nothing)'}")] if misread else [])
    plots.image_rows(rows, labels, run.figures / "generated_vs_real.png", marks=marks,
                     title="generated answer (left) beside real MNIST test handwriting (right); red: the digit "
                           "reader reads the drawing as another answer")


def several_hands(path, draw: Callable[[torch.Tensor, int], torch.Tensor], test, inputs: torch.Tensor,
                  hands: int = 5, answers: int = 6, read: Callable[[torch.Tensor], list[str]] | None = None):
    """A seeded pick of ``answers`` held-out answers of the most characters, each drawn from style seeds 1 to
    ``hands`` side by side: a pen with a style code should vary its hand and stay readable. ``draw(x, seed)``
    is the pen: drawn answers (N, La, 28, 28) of query ids ``x``; ``read`` (the digit reader) marks each drawing
    it reads as another answer in red, with what it read."""
    longest = max(len(a.strip()) for a in test.answers)
    pool = [k for k, a in enumerate(test.answers) if len(a.strip()) == longest]
    picks = sorted(np.random.default_rng(0).choice(pool, min(answers, len(pool)), replace=False).tolist())
    drawn = [draw(inputs[picks], seed) for seed in range(1, hands + 1)]
    reads = [read(d) for d in drawn] if read is not None else None
    gap = np.ones((28, 8))
    rows, labels, marks = [], [], []
    for n, k in enumerate(picks):
        strips = [render_strip(d[n].numpy()) for d in drawn]
        rows.append(np.concatenate([part for strip in strips for part in (strip, gap)][:-1], axis=1))
        labels.append(f"{test.queries[k].strip()} = {test.answers[k].strip()}")
        width = strips[0].shape[1] + gap.shape[1]
        marks.append([(h * width, h * width + strips[h].shape[1], f"read as {r[n].strip() or '(nothing)'}")
                      for h, r in enumerate(reads or []) if r[n].strip() != test.answers[k].strip()])
    return plots.image_rows(rows, labels, path, marks=marks, title=f"the same held-out answers drawn {hands} times "
                                                                   f"(style seeds 1–{hands}); red: read as another "
                                                                   "answer by the digit reader")
