"""How well an answers-only image→text run's invented symbols read labelled MNIST test digits.

    python benchmarks/glyph_reading.py benchmarks/out/arithmetic/i2t-answers-0.5-seed0 ...

Scores trained runs again with ``pipelines.arithmetic.read_digits`` (the code a run uses at the end of training)
and writes benchmarks/out/glyph_reading.json. For runs trained before ``centroid_accuracy`` existed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from latentworks.config import load_json
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import prepare, read_digits
from latentworks.recipes.arithmetic import from_json

OUT = Path(__file__).parent / "out" / "glyph_reading.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    table = json.loads(OUT.read_text()) if OUT.exists() else {}
    for run in args.runs:
        cfg = from_json(load_json(Path(run) / "config.json"))
        model = load_model(run)
        reading = read_digits(model, prepare(cfg), cfg.train.seed)
        table[run] = {**reading, "date": time.strftime("%Y-%m-%d %H:%M")}
        print(run, json.dumps(reading), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
