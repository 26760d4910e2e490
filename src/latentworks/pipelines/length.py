"""Length generalisation: a text→text model trained on short operands, scored on operands of N digits.

A model that learned the carry rule adds 10-digit numbers after seeing only 2-digit ones. The queries are fresh:
drawn with a seed, every operand exactly N digits long (a leading digit 1-9), none of them a training query, and
written out with the answers the model gave. The model's weights are reused as they are; only its query and
answer lengths are widened (models whose weights depend on those lengths are refused in one line).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks.data.arithmetic import ArithmeticSpec, encode, enumerate_queries, evaluate, format_answer, format_query
from latentworks.data.arithmetic_dataset import split_queries
from latentworks.errors import LatentworksError
from latentworks.metrics.arithmetic import score_answers
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import predict_strings, run_info
from latentworks.pipelines.tasks import task as task_of
from latentworks.runs import read_json, write_json

MAX_DIGITS = 1000


def random_operand(rng: np.random.Generator, digits: int) -> int:
    """A uniformly drawn integer of exactly ``digits`` digits (0-9 for one digit), of any size."""
    if digits == 1:
        return int(rng.integers(0, 10))
    head = str(int(rng.integers(1, 10)))
    return int(head + "".join(map(str, rng.integers(0, 10, digits - 1))))


def length_queries(digits: int, n: int, ops: str, seed: int,
                   exclude: set[tuple[int, str, int]] | frozenset = frozenset(),
                   other: int | None = None) -> list[tuple[int, str, int]]:
    """``n`` distinct queries whose first operand has exactly ``digits`` digits and the second ``other`` (default:
    ``digits`` too), none in ``exclude``; fewer when the space holds fewer (one digit: at most 100 per operator)."""
    if other is not None and other != digits:
        return _unequal_queries(digits, other, n, ops, seed, exclude)
    rng = np.random.default_rng([seed, digits])
    if digits <= 2:  # small spaces: enumerate, drop the excluded, then draw without replacement
        lo = 0 if digits == 1 else 10
        pool = [(i, op, j) for i in range(lo, 10 ** digits) for j in range(lo, 10 ** digits) for op in ops
                if (i, op, j) not in exclude]
        return [pool[k] for k in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]
    space = (9 * 10 ** (digits - 1)) ** 2 * len(ops)
    n = min(n, space - sum(1 for i, op, j in exclude if op in ops and len(str(i)) == len(str(j)) == digits))
    out: dict[tuple[int, str, int], None] = {}  # 3+ digits: at least 810,000 queries per operator
    while len(out) < n:
        query = (random_operand(rng, digits), ops[int(rng.integers(len(ops)))], random_operand(rng, digits))
        if query not in exclude:
            out[query] = None
    return list(out)


def _count(digits: int) -> int:
    return 10 if digits == 1 else 9 * 10 ** (digits - 1)


def _unequal_queries(a: int, b: int, n: int, ops: str, seed: int,
                     exclude: set[tuple[int, str, int]] | frozenset) -> list[tuple[int, str, int]]:
    """As :func:`length_queries` for an ``a``-digit first and ``b``-digit second operand (its own random stream)."""
    rng = np.random.default_rng([seed, a, b])
    space = _count(a) * _count(b) * len(ops)
    if space <= 200_000:  # small spaces: enumerate, drop the excluded, then draw without replacement
        lo_a, lo_b = (0 if a == 1 else 10 ** (a - 1)), (0 if b == 1 else 10 ** (b - 1))
        pool = [(i, op, j) for i in range(lo_a, 10 ** a) for j in range(lo_b, 10 ** b) for op in ops
                if (i, op, j) not in exclude]
        return [pool[k] for k in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]
    n = min(n, space - sum(1 for i, op, j in exclude if op in ops and (len(str(i)), len(str(j))) == (a, b)))
    out: dict[tuple[int, str, int], None] = {}
    while len(out) < n:
        query = (random_operand(rng, a), ops[int(rng.integers(len(ops)))], random_operand(rng, b))
        if query not in exclude:
            out[query] = None
    return list(out)


def parse_lengths(token: str | int) -> tuple[int, int]:
    """``'3'`` -> (3, 3), ``'3x2'`` -> (3, 2): the digits of each operand, one line naming the fix otherwise."""
    text = str(token).strip().lower().replace("×", "x")
    parts = text.split("x")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise LatentworksError(f"--digits {token!r}: give a number of digits (3) or one per operand (3x2)")
    a, b = int(parts[0]), int(parts[-1])
    for d in (a, b):
        if not 1 <= d <= MAX_DIGITS:
            raise LatentworksError(f"--digits {token}: each length must be between 1 and {MAX_DIGITS}")
    return a, b


def length_name(a: int, b: int) -> str:
    """How a pair of lengths is written in files and tables: ``3`` or ``3x2``."""
    return str(a) if a == b else f"{a}x{b}"


def _training_queries(run_dir: Path, spec: ArithmeticSpec) -> set[tuple[int, str, int]]:
    data = read_json(run_dir / "config.json")["data"]
    train, _ = split_queries(spec.n_queries, data["train_fraction"], data["split_seed"])
    every = enumerate_queries(spec)
    return {every[k] for k in train}


def _text_run(run_dir: Path, ops: str | None) -> tuple[ArithmeticSpec, Any, str]:
    """The run's spec, task and the operators to score (``ops``, default the run's), each checked in one line."""
    name, spec, _ = run_info(run_dir)
    task = task_of(name)
    if task.handwriting:  # queries of any length are typed: only a text-in, text-out model takes them
        raise LatentworksError(f"{run_dir} holds a {name} model; length generalisation scores text→text runs")
    ops = spec.ops if ops is None else ops
    bad = sorted(set(ops) - set(spec.ops))
    if not ops or bad:
        raise LatentworksError(f"--ops {ops!r}: this run was trained on {spec.ops!r}; choose from those")
    return spec, task, ops


def _weights_sha256(run_dir: Path) -> str | None:
    weights_file = run_dir / "model.safetensors"  # missing: load_model says so in one line
    return hashlib.sha256(weights_file.read_bytes()).hexdigest() if weights_file.is_file() else None


def _saved(path: Path, n: int, weights: str | None) -> tuple[str, dict[str, Any] | None]:
    """What ``path`` holds for a scoring of ``n`` queries by ``weights``: ('new', None) nothing; ('reuse', the
    file) the same measurement (same queries, same weights, so the same answers); ('upgrade', None) the same
    measurement in an older form, rewritten with more keys; ('other', None) other queries or weights (or not a
    file), which the one output rule replaces only with --overwrite."""
    if not path.exists() and not path.is_symlink():
        return "new", None
    try:
        saved = read_json(path) if path.is_file() else None
    except LatentworksError:
        saved = None  # a damaged file is still someone's file: not replaced without --overwrite
    if not isinstance(saved, dict) or saved.get("n_requested") != n or saved.get("model_sha256") != weights:
        return "other", None
    return ("reuse", saved) if "n_by_op" in saved else ("upgrade", None)


def length_outputs(run_dir: str | Path, lengths: list[tuple[int, int]], n: int, ops: str | None = None,
                   seed: int = 0) -> list[tuple[Path, str]]:
    """Each length's file and what :func:`_saved` says of it ('new', 'reuse', 'upgrade', 'other'), judged before
    any scoring, so that a refused command writes nothing (``arithmetic eval`` puts the files to be written through
    ``cli.common.output_path``)."""
    run_dir = Path(run_dir)
    _, _, ops = _text_run(run_dir, ops)
    weights = _weights_sha256(run_dir)
    out = []
    for digits, other in lengths:
        path = length_file(run_dir, digits, other, ops, seed)
        out.append((path, _saved(path, n, weights)[0]))
    return out


def length_file(run_dir: str | Path, digits: int, other: int, ops: str, seed: int) -> Path:
    """Where :func:`evaluate_length` writes: ``RUN/length/digits-N-OPS-seedS.json`` (``digits-NxM-...``)."""
    return Path(run_dir) / "length" / f"digits-{length_name(digits, other)}-{_ops_name(ops)}-seed{seed}.json"


def evaluate_length(run_dir: str | Path, digits: int, n: int = 10_000, ops: str | None = None, seed: int = 0,
                    write: bool = True, other: int | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Score a text→text run on ``n`` fresh queries with ``digits``-digit operands (the second ``other`` digits
    when given); with ``write``, the queries, answers and scores go to :func:`length_file`. A file there from
    the same queries and weights is reused; one from other queries or weights is replaced only with
    ``overwrite`` (the one output rule), else one line says so before any scoring."""
    run_dir = Path(run_dir)
    spec, task, ops = _text_run(run_dir, ops)
    other = digits if other is None else other
    for d in (digits, other):
        if not 1 <= d <= MAX_DIGITS:
            raise LatentworksError(f"--digits {d}: must be between 1 and {MAX_DIGITS}")
    if n < 1:
        raise LatentworksError(f"--n {n}: must be at least 1")
    path = length_file(run_dir, digits, other, ops, seed)
    weights = _weights_sha256(run_dir)
    if write:
        state, saved = _saved(path, n, weights)
        if state == "reuse":
            return {k: v for k, v in saved.items() if k not in ("queries", "expected", "predicted")} | \
                {"file": str(path)}
        if state == "other" and not overwrite:
            raise LatentworksError(f"{path} already holds scores of other queries or other weights; pass "
                                   "--overwrite to replace it, or another --seed to write another file")
    wide = ArithmeticSpec(max_int=max(10 ** max(digits, other) - 1, spec.max_int), ops=spec.ops, layout=spec.layout)
    model = load_model(run_dir, expect=task.kinds,
                       changes={"query_len": wide.query_len, "answer_len": wide.answer_len})
    trained = _training_queries(run_dir, spec) if max(digits, other) <= spec.operand_width else set()
    queries = length_queries(digits, n, ops, seed, trained, other=other)
    if not queries:
        raise LatentworksError(f"no {length_name(digits, other)}-digit query is left outside the training set; "
                               "pick longer operands")
    texts = [format_query(i, op, j, wide) for i, op, j in queries]
    expected = [format_answer(evaluate(i, op, j), wide) for i, op, j in queries]
    with torch.no_grad():
        predicted = predict_strings(model, torch.from_numpy(encode(texts, wide)), wide, batch=512)
    scores = score_answers(predicted, expected)
    by_op = {op: float(np.mean([p == e for (_, o, _), p, e in zip(queries, predicted, expected) if o == op]))
             for op in ops if any(o == op for _, o, _ in queries)}
    result = {"digits": digits, **({"other_digits": other} if other != digits else {}), "ops": ops, "seed": seed,
              "n_requested": n, "model_sha256": weights, "n": scores.n,
              "exact_match": scores.exact_match,
              "char_accuracy": scores.char_accuracy, "exact_match_by_op": by_op,
              "n_by_op": {op: sum(1 for _, o, _ in queries if o == op) for op in by_op},
              "trained_on": f"0..{spec.max_int}", "excluded_training_queries": len(trained)}
    if write:
        write_json(path, {**result, "queries": [t.strip() for t in texts],
                          "expected": [e.strip() for e in expected], "predicted": [p.strip() for p in predicted]})
        result["file"] = str(path)
    return result


def held_out_mirror_free(run_dir: str | Path, ops: str | None = None) -> dict[str, Any]:
    """Exact match on the run's held-out queries of a commutative operator (``+``, ``*``) whose mirror (b op a)
    was not trained either: the queries a model cannot answer by having seen the operands swapped."""
    run_dir = Path(run_dir)
    name, spec, _ = run_info(run_dir)
    task = task_of(name)
    if task.handwriting:
        raise LatentworksError(f"{run_dir} holds a {name} model; the mirror-free score reads text→text runs")
    ops = "".join(op for op in (spec.ops if ops is None else ops) if op in "+*" and op in spec.ops)
    if not ops:
        raise LatentworksError(f"--ops: the mirror-free score needs '+' or '*' among the run's ops {spec.ops!r}")
    trained = _training_queries(run_dir, spec)
    every = enumerate_queries(spec)
    queries = [q for q in every if q[1] in ops and q not in trained and (q[2], q[1], q[0]) not in trained]
    model = load_model(run_dir, expect=task.kinds)
    texts = [format_query(i, op, j, spec) for i, op, j in queries]
    expected = [format_answer(evaluate(i, op, j), spec) for i, op, j in queries]
    with torch.no_grad():
        predicted = predict_strings(model, torch.from_numpy(encode(texts, spec)), spec, batch=512) if queries else []
    right = [p == e for p, e in zip(predicted, expected)]
    by_op = {op: float(np.mean([r for (_, o, _), r in zip(queries, right) if o == op]))
             for op in ops if any(o == op for _, o, _ in queries)}
    return {"n": len(queries), "exact_match": float(np.mean(right)) if right else float("nan"),
            "exact_match_by_op": by_op, "n_by_op": {op: sum(1 for _, o, _ in queries if o == op) for op in by_op},
            "held_out": sum(1 for q in every if q[1] in ops and q not in trained)}


def _ops_name(ops: str) -> str:
    return "-".join({"+": "plus", "-": "minus", "*": "times"}[o] for o in ops)


def length_figure(curves: dict[str, dict[int, dict[str, float]]], path: str | Path, title: str = "",
                  trained_digits: int = 2) -> Path:
    """Exact match against operand length, one panel per operator and one line per model (``curves``: model ->
    digits -> operator -> exact match); the lengths seen in training shaded."""
    from latentworks.report.plots import plt, save_figure

    ops = sorted({op for points in curves.values() for by_op in points.values() for op in by_op},
                 key="+-*".index)
    fig, axes = plt.subplots(1, len(ops), figsize=(5.5 * len(ops), 4), squeeze=False, sharey=True)
    for ax, op in zip(axes[0], ops):
        for name, points in curves.items():
            xs = sorted(d for d in points if op in points[d])
            ax.plot(xs, [points[x][op] for x in xs], marker="o", label=name)
        ax.axvspan(0.8, trained_digits + 0.2, color="k", alpha=0.07, label="lengths seen in training")
        ax.set_xscale("log")
        ax.set(xlabel="digits per operand (log scale)", title={"+": "a + b", "-": "a − b", "*": "a × b"}[op],
               ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("exact match on fresh queries")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8)  # off the data
    fig.suptitle(title or "length generalisation: scored on longer operands than in training")
    return save_figure(fig, path)


__all__ = ["evaluate_length", "held_out_mirror_free", "length_figure", "length_file", "length_name",
           "length_outputs", "length_queries", "parse_lengths", "random_operand"]
