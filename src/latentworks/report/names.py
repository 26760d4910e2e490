"""Human names for the metric keys in results.json and metrics.jsonl, with how each is shown.

A report never prints a raw key: tables and plot legends go through :func:`label` and :func:`fmt`, and the key
stays available in a tooltip. Formats: ``pct`` (share shown as a percentage), ``pct_signed`` (a relative
deviation), ``num``, ``int``, ``secs``, ``ratio`` (× a reference), ``text``.
"""

from __future__ import annotations

import html
import math
import numbers
from typing import Any

# key -> (human name, format, what it measures)
METRICS: dict[str, tuple[str, str, str]] = {
    "exact_match": ("exact match", "pct", "share of held-out queries whose whole answer is right"),
    "char_accuracy": ("per-character accuracy", "pct", "share of answer characters right: the course's Keras "
                      "accuracy, which counts '46' for '47' as half right"),
    "abs_error": ("mean |error|", "num", "mean absolute numeric error of the answers that are numbers"),
    "parsable": ("answers that are numbers", "pct", "share of answers that parse as an integer"),
    "n": ("held-out queries", "int", "how many held-out queries were scored"),
    "scored_by": ("scored by", "text", "what read the answers that were scored: the model's own answer text, or "
                  "for drawn answers the digit reader"),
    "recon_mse": ("reconstruction MSE", "num", "mean squared pixel error of held-out images and their "
                  "reconstructions (pixels in [0, 1])"),
    "elbo": ("ELBO (nats)", "num", "evidence lower bound per image on held-out images; higher is better"),
    "val_loss": ("validation nats/char", "num", "cross-entropy per character on the held-out tail of the corpus"),
    "val_acc": ("next-character accuracy", "pct", "share of held-out characters predicted exactly"),
    "train_loss": ("training nats/char", "num", "smoothed training loss at the end"),
    "chars_per_sec": ("characters/s", "int", "training throughput"),
    "steps": ("optimizer steps", "int", ""),
    "seconds": ("training time", "secs", "wall time of training, every session of the run"),
    "examples_per_sec": ("examples/s", "int", "training throughput"),
    "completion_hits": ("names completed", "int", "how many of the training text's most frequent names the model "
                        "completes greedily from their first half"),
    "fld": ("FLD", "num", "Fréchet distance between samples and held-out digits in the digit reader's features; "
            "lower is better"),
    "fld_floor": ("FLD floor", "num", "the same distance between real train and real test digits: what a perfect "
                  "generator would score"),
    "fld_ratio": ("FLD / floor", "ratio", "how many times the floor; 1× is as good as real data"),
    "precision": ("precision", "pct", "share of samples inside the real digits' k-NN manifold (quality)"),
    "recall": ("recall", "pct", "share of real test digits inside the samples' manifold (coverage)"),
    "conditional_accuracy": ("conditional accuracy", "pct", "share of samples the reader reads as the digit asked "
                             "for"),
    "class_max_rel_deviation": ("worst digit class vs uniform", "pct_signed", "the class furthest from a tenth of "
                                "the samples: (count − n/10) / (n/10), signed (−100 % is a digit never drawn)"),
    "mean_confidence": ("reader confidence", "pct", "the reader's mean top probability on the samples"),
    "grey_share": ("grey share of the ink", "pct", "mid-grey pixels among the inked ones: a blur measure"),
    "code_purity": ("code purity", "pct", "share of samples drawn in their InfoGAN code's most common class"),
    # metrics.jsonl curves
    "loss": ("training loss", "num", ""),
    "d_loss": ("discriminator loss", "num", ""),
    "g_loss": ("generator loss", "num", ""),
    "d_acc_real": ("D right on real images", "pct", ""),
    "d_acc_fake": ("D right on generated images", "pct", ""),
    "code_acc": ("D names the code", "pct", ""),
    "eval/d_acc_heldout_real": ("D right on held-out real images", "pct", ""),
    "eval/recon_mse": ("held-out reconstruction MSE", "num", ""),
    "eval/elbo": ("held-out ELBO (nats)", "num", ""),
    "eval/test_exact_match": ("held-out exact match", "pct", ""),
    "eval/test_char_accuracy": ("held-out per-character accuracy", "pct", ""),
    "eval/train_exact_match": ("training exact match", "pct", ""),
    "eval/train_char_accuracy": ("training per-character accuracy", "pct", ""),
    "eval/val_loss": ("validation nats/char", "num", ""),
    "eval/val_acc": ("validation next-character accuracy", "pct", ""),
}


def label(key: str) -> str:
    """The human name of a metric key (the key itself, tidied, when unknown)."""
    if key in METRICS:
        return METRICS[key][0]
    if key.startswith("iw_nll_k"):
        return f"IW-NLL, k = {key[8:]} (nats)"
    return key.replace("eval/", "held-out ").replace("_", " ")


def kind_of(key: str) -> str:
    return METRICS.get(key, ("", "auto", ""))[1]


def fmt(value: Any, kind: str = "auto") -> str:
    """A value as a reader wants it: percentages with one decimal (two between 99 % and 100 %, never rounded up
    to 100 %), numbers to four figures, durations in s, min or h."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or (isinstance(value, numbers.Real) and not math.isfinite(float(value))):
        return "—"
    if kind == "text" or isinstance(value, str):
        return html.escape(str(value))
    if kind == "pct":
        pct = 100 * float(value)
        return f"{min(pct, 99.99):.2f} %" if 99 <= pct < 100 else f"{pct:.1f} %"
    if kind == "pct_signed":
        return f"{100 * float(value):+.1f} %"
    if kind == "ratio":
        return f"{float(value):.2f}×"
    if kind == "secs":
        return duration(float(value))
    if kind == "int" or (kind == "auto" and isinstance(value, numbers.Integral)):
        return f"{int(round(float(value))):,}"
    v = float(value)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3e}"
    if abs(v) >= 100:
        return f"{v:,.1f}"
    return f"{v:.4g}"


def duration(seconds: float) -> str:
    """Seconds under 10 minutes, minutes under 2 hours, then hours."""
    if seconds < 600:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


__all__ = ["METRICS", "duration", "fmt", "kind_of", "label"]
