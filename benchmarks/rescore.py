"""Score saved arithmetic runs again, with figures their training did not record.

    python benchmarks/rescore.py benchmarks/out/arithmetic/t2t-best-addsubmul-0.1-seed0 ...

Each run's split is rebuilt from its config.json and its saved model answers every held-out query:
* ``by_operator``: exact match grouped by operator (how a mixed '+-*' run does on × alone);
* ``glyph_reading``: for an answers-only image→text run, how its invented symbols read labelled MNIST test
  digits (``pipelines.arithmetic.read_digits``, what a run computes at the end of training).
Writes benchmarks/out/rescore.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from latentworks.config import load_json
from latentworks.data.arithmetic import decode
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import predict_strings, prepare, read_digits
from latentworks.pipelines.tasks import task
from latentworks.recipes.arithmetic import from_json

OUT = Path(__file__).parent / "out" / "rescore.json"


def by_operator(model, prepared, cfg) -> dict[str, dict[str, float | int]]:
    predicted = predict_strings(model, task(cfg.task).test_inputs(prepared, cfg.train.seed), prepared.spec)
    right: dict[str, list[bool]] = {}
    for query, answer, expected in zip(decode(prepared.test.x, prepared.spec), predicted, prepared.test.answers):
        op = next(c for c in query.strip()[1:] if c in "+-*")  # past the first digit; operands are unsigned
        right.setdefault(op, []).append(answer.strip() == expected.strip())
    return {op: {"exact_match": sum(r) / len(r), "n": len(r)} for op, r in right.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    table = json.loads(OUT.read_text()) if OUT.exists() else {}
    for run in args.runs:
        cfg = from_json(load_json(Path(run) / "config.json"))
        prepared, model = prepare(cfg), load_model(run)
        row: dict = {} if task(cfg.task).images_out else {"by_operator": by_operator(model, prepared, cfg)}
        if hasattr(model, "symbol_of"):
            row["glyph_reading"] = read_digits(model, prepared, cfg.train.seed)
        table[run] = {**row, "date": time.strftime("%Y-%m-%d %H:%M")}
        print(run, json.dumps(row), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
