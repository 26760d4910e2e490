"""Exact match of a trained text→text run on its held-out queries, grouped by operator.

    python benchmarks/by_operator.py benchmarks/out/arithmetic/t2t-best-addsubmul-0.1-seed0 ...

Rebuilds the run's split from its config.json, answers every held-out query with the saved model and writes
benchmarks/out/by_operator.json: how a mixed '+-*' run does on the × queries alone, say.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from latentworks.config import load_json
from latentworks.data.arithmetic import decode
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import predict_strings, prepare
from latentworks.recipes.arithmetic import from_json

OUT = Path(__file__).parent / "out" / "by_operator.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    table = json.loads(OUT.read_text()) if OUT.exists() else {}
    for run in args.runs:
        cfg = from_json(load_json(Path(run) / "config.json"))
        prepared = prepare(cfg)
        predicted = predict_strings(load_model(run), torch.from_numpy(prepared.test.x), prepared.spec)
        right: dict[str, list[bool]] = {}
        for query, answer, expected in zip(decode(prepared.test.x, prepared.spec), predicted, prepared.test.answers):
            op = next(c for c in query.strip()[1:] if c in "+-*")  # past a leading digit; operands are unsigned
            right.setdefault(op, []).append(answer.strip() == expected.strip())
        table[run] = {op: {"exact_match": sum(r) / len(r), "n": len(r)} for op, r in right.items()}
        table[run]["date"] = time.strftime("%Y-%m-%d %H:%M")
        print(run, json.dumps(table[run]), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
