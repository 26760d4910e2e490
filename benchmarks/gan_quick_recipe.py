"""The quick profile's GAN recipes, varied one thing at a time on the embedded MNIST sample.

    python benchmarks/gan_quick_recipe.py                                   # the variants behind the quick recipes
    python benchmarks/gan_quick_recipe.py 'dcgan:{"dropout": 0.3}' 'cgan:{}'  # any MODEL:JSON-overrides

Each variant trains the study's ``quick`` recipe (4,000 embedded training digits) with the overrides, then the
frozen digit reader scores ``--n`` samples against as many held-out digits: FLD next to the real train-vs-test
floor, the class histogram, precision/recall and (cGAN) conditional accuracy. A run with ``ema`` > 0 is scored
twice from the same checkpoint, sampling from the weight average and from the live generator, so the average's
effect is measured without a second training run. Writes ``<out>/gan_quick_recipe.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from latentworks.data.mnist import load_mnist
from latentworks.metrics.generative import evaluate_generator, reader_fns
from latentworks.pipelines.digit_reader import find_or_train_reader
from latentworks.pipelines.generative import load_generative, train_generative
from latentworks.pipelines.generative_eval import reader_info
from latentworks.recipes.generative import RECIPES, recipe
from latentworks.runs import environment, write_json
from latentworks.studies.generative_runs import gen_config

# Each the previous quick recipe (two levels in G and D, no average) with one change, plus the cGAN.
DEFAULT_VARIANTS = [
    'dcgan:{"enc_depth": 2, "dec_depth": 2, "ema": 0.999}',
    'dcgan:{"enc_depth": 3, "dec_depth": 2, "ema": 0.999}',
    'dcgan:{"enc_depth": 2, "dec_depth": 2, "ema": 0.999, "dropout": 0.3}',
    'dcgan:{"enc_depth": 2, "dec_depth": 2, "ema": 0.999, "lr": 0.0002}',
    'dcgan:{"enc_depth": 3, "dec_depth": 3, "ema": 0.999}',
    'cgan:{"ema": 0.999}',
]
KEYS = ("fld", "fld_floor", "fld_ratio", "class_histogram", "conditional_accuracy", "precision", "recall")


def dotted(kind: str, overrides: dict) -> dict:
    """Overrides by field name (``enc_depth``, ``lr``, ``gan_scheme``) as dotted paths of ``kind``'s run config
    (``model.enc_depth``, ``train.lr``, ``model.scheme``); dotted paths pass through."""
    cfg, out = recipe("default", kind=kind), {}
    for name, value in overrides.items():
        if "." not in name:
            field = {"gan_scheme": "scheme"}.get(name, name)
            where = [s for s in ("data", "train", "eval", "model")
                     if field in {f.name for f in dataclasses.fields(getattr(cfg, s))}]
            if not where:
                raise SystemExit(f"{kind}: no setting {name!r}; name a field of data, model, train or eval")
            name = f"{where[0]}.{field}"
        out[name] = value
    return out


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", default=DEFAULT_VARIANTS, help="MODEL:JSON overrides")
    parser.add_argument("--n", type=int, default=1000, help="samples per evaluation")
    parser.add_argument("--reader", default=str(here / "out" / "digit_reader"))
    parser.add_argument("--out", default=str(here / "out" / "gan_quick_recipe"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    reader = find_or_train_reader(args.reader)
    feature_fn, classify_fn = reader_fns(reader)
    data = load_mnist("mnist", data_dir="embedded", quiet=True)
    report: dict = {
        "benchmark": "gan_quick_recipe",
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(),
        "reader": reader_info(Path(args.reader)),
        "data_source": data.source,
        "variants": {},
    }
    for spec in args.variants:
        name, _, extra = spec.partition(":")
        overrides = json.loads(extra) if extra else {}
        changes = dotted(name, overrides)
        cfg = gen_config("quick", name, data="mnist", data_dir="embedded", seed=args.seed, device="cpu",
                         progress=False, **changes)
        run = out / "runs" / (name + "".join(f"-{k}{v}" for k, v in sorted(overrides.items())))
        t0 = time.perf_counter()
        results = train_generative(cfg, run, overwrite=True)  # every variant retrains; an old run is moved aside
        model = load_generative(run)
        # The quick recipe's overrides of the default tree, with this variant's changes.
        entry = {"recipe": {**RECIPES["quick"][name], **changes}, "run_dir": str(run),
                 "train_seconds": results["train"]["seconds"]}
        ev = evaluate_generator(model, feature_fn, classify_fn, data.train, data.test, n=args.n, seed=args.seed)
        entry["eval"] = {k: ev.get(k) for k in KEYS}
        if getattr(model, "generator_ema", None) is not None:
            model.sample_average = False  # the same checkpoint, sampled from the live generator
            live = evaluate_generator(model, feature_fn, classify_fn, data.train, data.test, n=args.n,
                                      seed=args.seed)
            entry["eval_live_generator"] = {k: live.get(k) for k in KEYS}
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        report["variants"][spec] = entry
        print(spec, json.dumps(entry["eval"]), flush=True)
        write_json(out / "gan_quick_recipe.json", report)
    print(out / "gan_quick_recipe.json")


if __name__ == "__main__":
    main()
