"""Where an arithmetic query stands against a run's training: *held out* (in the trained range, never trained on),
*seen in training*, or *outside the trained range* (an operand above ``max_int``).

The project's headline claim is exact match on held-out queries, so the explorer tags every answer. The split is
the pipeline's own: ``split_queries`` over the run's spec with the ``train_fraction`` and ``split_seed`` of its
``config.json``, computed once per run. A text→text model whose weights do not depend on the query length (the
length-generalisation study widens them the same way) also answers operands longer than it was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from latentworks.data.arithmetic import ArithmeticSpec, parse_query
from latentworks.data.arithmetic_dataset import split_queries
from latentworks.errors import LatentworksError
from latentworks.explore.runs import ApiError, Run

HELD_OUT, SEEN, OUTSIDE = "held_out", "seen", "outside"
MAX_DIGITS = 30  # operands the explorer widens a model to (a query is at most 64 characters)


def query_index(i: int, op: str, j: int, spec: ArithmeticSpec) -> int:
    """The query's position in ``enumerate_queries(spec)``: i outer, j inner, operator innermost."""
    return (i * (spec.max_int + 1) + j) * len(spec.ops) + spec.ops.index(op)


def trained_mask(run: Run) -> np.ndarray | None:
    """Per query of the run's grid, whether training saw it (None: the run's config does not say how it split)."""
    if "trained_mask" not in run.cache:
        run.cache["trained_mask"] = _trained_mask(run)
    return run.cache["trained_mask"]


def _digits(n: int) -> str:
    return f"{n} digit" + ("s" if n > 1 else "")


def _trained_mask(run: Run) -> np.ndarray | None:
    spec: ArithmeticSpec = run.extra["spec"]
    data = (run.config or {}).get("data")
    if not isinstance(data, dict) or "train_fraction" not in data or "split_seed" not in data:
        return None
    if (data.get("max_int", spec.max_int), data.get("ops", spec.ops)) != (spec.max_int, spec.ops):
        return None  # a config that does not describe this model's grid cannot say what it trained on
    train, _ = split_queries(spec.n_queries, data["train_fraction"], data["split_seed"])
    mask = np.zeros(spec.n_queries, dtype=bool)
    mask[train] = True
    return mask


def parse(run: Run, text: str) -> tuple[int, str, int]:
    """``text`` as a query of the run's operators; operands may exceed ``max_int`` (tagged outside)."""
    spec: ArithmeticSpec = run.extra["spec"]
    try:
        return parse_query(text, spec)
    except LatentworksError as err:
        wide = ArithmeticSpec(max_int=10 ** MAX_DIGITS - 1, ops=spec.ops, layout=spec.layout)
        try:
            return parse_query(text, wide)
        except LatentworksError:
            raise err from None  # the run's own message names its range and operators


def tag(run: Run, i: int, op: str, j: int) -> tuple[str | None, str]:
    """The query's tag and one line of what it rests on."""
    spec: ArithmeticSpec = run.extra["spec"]
    if max(i, j) > spec.max_int:
        return OUTSIDE, f"operand {max(i, j)} is above the trained range 0..{spec.max_int}"
    mask = trained_mask(run)
    if mask is None:
        return None, "the run folder has no config.json naming its split, so whether training saw it is unknown"
    data = run.config["data"]
    share = f"{data['train_fraction']:.0%} of the 0..{spec.max_int} queries, split seed {data['split_seed']}"
    if mask[query_index(i, op, j, spec)]:
        return SEEN, f"one of the training queries ({share})"
    return HELD_OUT, f"not one of the training queries ({share})"


def tag_text(run: Run, text: str | None) -> dict[str, Any]:
    """``{"split", "split_note"}`` for a query's text (``split`` None when the text is not a query)."""
    if not text or not text.strip():
        return {"split": None, "split_note": None}
    try:
        i, op, j = parse(run, text)
    except LatentworksError:
        return {"split": None, "split_note": f"{text.strip()!r} is not a query of this run"}
    split, note = tag(run, i, op, j)
    return {"split": split, "split_note": note}


def spec_for(run: Run, i: int, j: int) -> ArithmeticSpec:
    """The spec that writes ``i`` and ``j``: the run's own, or (longer operands) one widened to their digits."""
    spec: ArithmeticSpec = run.extra["spec"]
    digits = len(str(max(i, j)))
    if digits <= spec.operand_width:
        return spec
    return ArithmeticSpec(max_int=10 ** digits - 1, ops=spec.ops, layout=spec.layout)


def model_for(run: Run, spec: ArithmeticSpec) -> Any:
    """The run's model, or a copy widened to ``spec``'s lengths (kept for the last width asked)."""
    own: ArithmeticSpec = run.extra["spec"]
    if spec.query_len == own.query_len:
        return run.model
    cached = run.cache.get("wide_model")
    if cached is not None and cached[0] == spec:
        return cached[1]
    from latentworks.models.io import load_model
    from latentworks.pipelines.tasks import task as task_of

    t = task_of(run.extra["task"])
    if t.handwriting:
        raise ApiError(f"this {t.title} model takes queries of {own.query_len} characters; "
                       f"give operands of at most {_digits(own.operand_width)}")
    try:
        model = load_model(run.path, expect=t.kinds, changes={"query_len": spec.query_len,
                                                              "answer_len": spec.answer_len})
    except LatentworksError:
        raise ApiError(f"this {run.kind} model's weights fix its query length at {own.query_len} characters; "
                       f"give operands of at most {_digits(own.operand_width)}") from None
    model.eval()
    run.cache["wide_model"] = (spec, model)
    return model


__all__ = ["HELD_OUT", "OUTSIDE", "SEEN", "model_for", "parse", "query_index", "spec_for", "tag", "tag_text",
           "trained_mask"]
