"""Benchmark: generative models on full MNIST against the issue's targets, inside a wall-clock budget.

    python benchmarks/generative_mnist.py [--budget-min 35] [--threads 1] [--reader benchmarks/out/digit_reader]

Trains, on the MNIST train split only, with the full-profile recipes of ``latentworks.recipes.generative``:

(a) DCGAN → FLD at 10k samples vs 10k test digits next to the real train-vs-test floor (target ≤ 2× floor) and
    the reader's class histogram (target: every class within ±10 % of 1,000);
(b) cGAN and CVAE → conditional accuracy, the reader agreeing with the requested digit (target ≥ 99 %);
(c) VAE with a Bernoulli decoder on dynamically binarised MNIST → test −ELBO on all 10,000 test digits and the
    importance-weighted NLL with k = 5000 on a random subset of test digits, as many as the budget allows or
    ``--iw-images`` (pythae VAE 89.78 nats, target ≤ 86). ``--set vae.pixel_layers=3`` gives the VAE an
    autoregressive PixelCNN head (PixelVAE); ``--skip-vae-samples`` then skips drawing its 10k samples.

Each model trains epoch by epoch (resuming its own checkpoint) until its share of ``--budget-min`` would be
exceeded, so the training time is a measured number, not a promise; a recipe with a decaying LR schedule
(``--set vae.schedule=cosine``) trains its ``epochs`` in one go instead. Writes ``<out>/generative_mnist.json``
after every stage (a killed run keeps what it measured) and the run folders under ``<out>/generative_mnist/``.
``--reuse`` skips models whose run folder already holds a finished model (re-evaluate only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import torch

from latentworks.config import override
from latentworks.data.mnist import load_mnist
from latentworks.metrics.generative import evaluate_generator, reader_fns
from latentworks.metrics.likelihood import vae_likelihood
from latentworks.pipelines.digit_reader import find_or_train_reader
from latentworks.pipelines.generative import load_generative, train_generative
from latentworks.pipelines.generative_eval import grey_share, reader_info
from latentworks.recipes.generative import RECIPES, recipe
from latentworks.runs import cpu_model as _cpu_model  # noqa: E402
from latentworks.runs import environment, read_json, write_json
from latentworks.runs import load_average as _load
from latentworks.studies.generative_runs import gen_config

# Share of the budget per stage; what is left over (~20 %) pays for the 10k-sample evaluations.
SHARES = {"dcgan": 0.23, "cgan": 0.17, "cvae": 0.09, "vae": 0.22, "iw_nll": 0.09}
PYTHAE_VAE = 89.78


def dotted(kind: str, name: str) -> str:
    """A setting's dotted path in ``kind``'s run config: ``epochs`` → ``train.epochs``, ``d_cond`` →
    ``model.d_cond``, ``gan_scheme`` → ``model.scheme``; a dotted path passes through."""
    if "." in name:
        return name
    cfg, field = recipe("default", kind=kind), {"gan_scheme": "scheme"}.get(name, name)
    where = [s for s in ("data", "train", "eval", "model")
             if field in {f.name for f in dataclasses.fields(getattr(cfg, s))}]
    if not where:
        raise SystemExit(f"--set {kind}.{name}: no such setting; name a field of data, model, train or eval")
    return f"{where[0]}.{field}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def train_for(cfg, out: Path, seconds: float, max_epochs: int, reuse: bool) -> dict:
    """Epoch by epoch until the next epoch would overrun ``seconds`` (at least one epoch)."""
    if reuse and (out / "model.json").exists() and (out / "results.json").exists():
        res = read_json(out / "results.json")
        info = read_json(out / "budget.json") if (out / "budget.json").exists() else {}
        # The epochs are those of the model on disk: a run stopped mid-budget has no budget.json, and one
        # continued with `gen train --resume` has outgrown its budget.json.
        trained = res["config"]["train"]["epochs"]
        if info.get("epochs") != trained:
            info = {"epochs": trained, "train_wall_seconds": None, "budgeted": info or None}
        info.setdefault("train_wall_seconds", None)
        log(f"{cfg.kind}: reusing {out} ({info.get('epochs')} epochs)")
        return {"results": res, **info}
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    if cfg.train.schedule != "constant":
        # A decaying LR needs the run's length up front; epoch-by-epoch budgeting would restart its decay
        # every epoch. Train the recipe's epochs in one go instead.
        res = train_generative(cfg, out)
        info = {"epochs": cfg.train.epochs, "train_wall_seconds": round(time.perf_counter() - started, 1)}
        write_json(out / "budget.json", info)
        return {"results": res, **info}
    epoch_times: list[float] = []
    res = None
    for epoch in range(1, max_epochs + 1):
        t0 = time.perf_counter()
        res = train_generative(override(cfg, {"train.epochs": epoch}), out, resume=epoch > 1)
        epoch_times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        log(f"{cfg.kind}: epoch {epoch} in {epoch_times[-1]:.0f} s (total {elapsed:.0f} / {seconds:.0f} s) "
            f"test {res['test']} final {res['train']['final']}")
        if elapsed + max(epoch_times[-2:]) > seconds:
            break
    info = {"epochs": len(epoch_times), "train_wall_seconds": round(time.perf_counter() - started, 1),
            "epoch_seconds": [round(t, 1) for t in epoch_times], "budget_seconds": round(seconds)}
    write_json(out / "budget.json", info)
    return {"results": res, **info}


def within_10pct(hist: list[int], n: int) -> bool:
    """Every class of an ``n``-sample histogram within ±10 % of n/10 (the issue's balance target)."""
    return all(abs(h - n / 10) <= 0.1 * n / 10 for h in hist)


def balance_over_seeds(model, classify_fn, n: int, seeds: int, first_seed: int, first_hist: list[int]) -> dict:
    """Class histograms of ``n`` samples for sample seeds first_seed … first_seed + seeds − 1 (the first one
    already measured): how often every class lands within ±10 % of n/10, and the pooled histogram, which
    estimates the generator's true class shares."""
    from latentworks.metrics.generative import class_histogram, generate

    rows = [first_hist]
    for seed in range(first_seed + 1, first_seed + seeds):
        preds = torch.cat([classify_fn(x)[0] for x, _ in generate(model, n, seed=seed)])
        rows.append(class_histogram(preds))
    within = [within_10pct(row, n) for row in rows]
    pooled = [sum(col) / seeds for col in zip(*rows)]
    return {"n": n, "histograms": rows, "within_10pct": within, "seeds_within": sum(within),
            "pooled_mean_histogram": pooled, "pooled_min": min(pooled), "pooled_max": max(pooled)}


def wait_for_reader(path: Path, minutes: float):
    deadline = time.time() + minutes * 60
    while not ((path / "model.json").exists() and (path / "model.safetensors").exists()):
        if time.time() > deadline:
            raise SystemExit(f"no trained digit reader in {path} after {minutes} min; pass --reader DIR")
        log(f"waiting for the digit reader in {path} ...")
        time.sleep(30)
    return find_or_train_reader(path)


def main() -> None:
    root = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-min", type=float, default=35.0, help="wall-clock budget for everything")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest when busy)")
    parser.add_argument("--data-dir", default="/work/shared/data/mnist")
    parser.add_argument("--reader", default=str(root / "out" / "digit_reader"))
    parser.add_argument("--reader-wait-min", type=float, default=20.0)
    parser.add_argument("--out", default=str(root / "out"))
    parser.add_argument("--only", default="dcgan,cgan,cvae,vae")
    parser.add_argument("--n", type=int, default=10000, help="samples per evaluation")
    parser.add_argument("--k", type=int, default=5000, help="importance samples for the VAE's IW-NLL")
    parser.add_argument("--iw-images", type=int,
                        help="random test digits for the IW-NLL (default: as many as the budget allows)")
    parser.add_argument("--skip-vae-samples", action="store_true",
                        help="score the VAE's likelihood only (an autoregressive decoder draws 10k samples slowly)")
    parser.add_argument("--balance-seeds", type=int, default=1,
                        help="unconditional GANs: class histograms over this many sample seeds (default 1)")
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-min", type=float, help="training minutes per model (default: its share of the budget)")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.FIELD=VALUE",
                        help="change a recipe field, e.g. cgan.d_cond=both or dcgan.epochs=30 (repeatable)")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    budget = args.budget_min * 60
    out = Path(args.out)
    runs = out / "generative_mnist"
    json_path = out / "generative_mnist.json"
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    # The full recipe's dotted overrides of each model's default tree, with the --set changes.
    recipes = {n: dict(RECIPES["full"][n]) for n in names}
    changes: dict[str, dict] = {n: {} for n in names}
    for item in args.set:
        key, _, value = item.partition("=")
        model, _, field = key.partition(".")
        if model not in recipes or not field or not value:
            raise SystemExit(f"--set {item!r}: expected MODEL.FIELD=VALUE with MODEL in {', '.join(names)}")
        path = dotted(model, field)  # a field name (d_cond, epochs) or a dotted path (model.d_cond)
        try:
            changes[model][path] = json.loads(value)  # numbers, true/false, lists
        except ValueError:
            changes[model][path] = value  # a word such as both or normal
        recipes[model][path] = changes[model][path]
    report: dict = {
        "benchmark": "generative_mnist",
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "budget_minutes": args.budget_min,
        "machine": {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": args.threads,
                    "load_average_before": _load(),
                    "note": "shared 2-core machine: other jobs ran at the same time; wall times are upper bounds"},
        "environment": environment(),
        "recipes": recipes,
        "models": {},
    }
    started = time.perf_counter()

    trained: dict[str, dict] = {}
    for name in names:
        cfg = gen_config("full", name, data="mnist", data_dir=args.data_dir, seed=args.seed, device="cpu",
                         progress=False, **{"eval.eval_images": 1000, **changes[name]})
        seconds = args.train_min * 60 if args.train_min else SHARES[name] * budget
        log(f"training {name} for {seconds / 60:.1f} min")
        trained[name] = train_for(cfg, runs / name, seconds, args.max_epochs, args.reuse)
        res = trained[name]["results"]
        report["models"][name] = {
            "run_dir": str(runs / name), "epochs": trained[name]["epochs"],
            "train_wall_seconds": trained[name]["train_wall_seconds"],
            "epoch_seconds": trained[name].get("epoch_seconds"), "images": res["train"]["images"],
            "parameters": res["train"]["parameters"], "heldout": res["test"], "final_train": res["train"]["final"],
        }
        report["machine"]["load_average_now"] = _load()
        write_json(json_path, report)

    reader = wait_for_reader(Path(args.reader), args.reader_wait_min)
    report["reader"] = reader_info(Path(args.reader))
    feature_fn, classify_fn = reader_fns(reader)
    data = load_mnist("mnist", data_dir=args.data_dir, quiet=True)
    report["data_source"] = data.source
    report["real_grey_share"] = grey_share(data.test.images.astype("float32") / 255.0)
    for name in names:
        if name == "vae" and args.skip_vae_samples:
            continue
        model = load_generative(runs / name)
        t0 = time.perf_counter()
        ev = evaluate_generator(model, feature_fn, classify_fn, data.train, data.test, n=args.n, seed=args.seed)
        from latentworks.metrics.generative import generate

        ev["grey_share"] = grey_share(next(generate(model, 2000, seed=args.seed, batch=2000))[0].numpy())
        entry = report["models"][name]
        entry["eval"] = ev
        entry["eval_seconds"] = round(time.perf_counter() - t0, 1)
        hist = ev["class_histogram"]
        targets = {"fld_le_2x_floor": ev["fld_ratio"] <= 2.0,
                   "classes_within_10pct": within_10pct(hist, args.n)}
        if ev.get("conditional_accuracy") is not None:
            targets["conditional_accuracy_ge_99pct"] = ev["conditional_accuracy"] >= 0.99
        if args.balance_seeds > 1 and not getattr(model, "conditional", False):
            balance = entry["balance_over_seeds"] = balance_over_seeds(model, classify_fn, args.n, args.balance_seeds,
                                                                       args.seed, hist)
            targets["classes_within_10pct_all_seeds"] = balance["seeds_within"] == args.balance_seeds
            log(f"{name}: class balance over seeds {balance}")
        entry["targets"] = targets
        log(f"{name}: FLD {ev['fld']:.3f} floor {ev['fld_floor']:.3f} ratio {ev['fld_ratio']:.2f} hist {hist} "
            f"P/R {ev['precision']:.3f}/{ev['recall']:.3f} cond {ev.get('conditional_accuracy')}")
        if getattr(model, "generator_ema", None) is not None:  # the same checkpoint without the weight average
            model.sample_average = False
            live = evaluate_generator(model, feature_fn, classify_fn, data.train, data.test, n=args.n,
                                      seed=args.seed)
            entry["eval_live_generator"] = live
            log(f"{name} live generator: FLD {live['fld']:.3f} hist {live['class_histogram']} "
                f"cond {live.get('conditional_accuracy')}")
        report["machine"]["load_average_now"] = _load()
        write_json(json_path, report)

    if "vae" in names:
        model = load_generative(runs / "vae")
        t0 = time.perf_counter()
        whole = vae_likelihood(model, data.test, k=1, seed=args.seed)  # the ELBO on all 10,000 test digits
        probe = vae_likelihood(model, data.test, k=args.k, n=4, seed=args.seed)
        per_image = probe["seconds"] / 4
        left = max(SHARES["iw_nll"] * budget, budget - (time.perf_counter() - started) - 60)
        n_iw = args.iw_images or int(min(len(data.test), max(20, left / max(per_image, 1e-3))))
        log(f"IW-NLL: k={args.k}, {per_image:.2f} s per image → {n_iw} test images")
        iw = vae_likelihood(model, data.test, k=args.k, n=n_iw, seed=args.seed)
        likelihood = report["models"]["vae"]["likelihood"] = {
            "neg_elbo_all_test": whole["neg_elbo_nats"], "neg_elbo_all_test_se": whole["neg_elbo_se"],
            "n_all_test": whole["n"], "iw": iw, "iw_nll_nats": iw["iw_nll_nats"], "iw_nll_se": iw["iw_nll_se"],
            "neg_elbo_same_images": iw["neg_elbo_nats"], "k": args.k, "iw_images": iw["n"],
            # The IW subset is a random draw of test digits: −ELBO on all of them minus the subset's mean gap
            # (−ELBO − IW-NLL, which varies little from digit to digit) estimates the all-test IW-NLL.
            "iw_nll_all_test_estimate": whole["neg_elbo_nats"] - iw["iw_gap_nats"],
            "iw_nll_all_test_estimate_se": (whole["neg_elbo_se"] ** 2 + iw["iw_gap_se"] ** 2) ** 0.5,
            "pythae_vae": PYTHAE_VAE, "target_le_86": iw["iw_nll_nats"] <= 86.0,
            "decoder": "autoregressive (PixelCNN head)" if getattr(model, "pixel_head", None) is not None
            else "factorised Bernoulli",
            "seconds": round(time.perf_counter() - t0, 1),
        }
        log(f"VAE: −ELBO {whole['neg_elbo_nats']:.2f} (all test), IW-NLL k={args.k} {iw['iw_nll_nats']:.2f} "
            f"± {iw['iw_nll_se']:.2f} on {iw['n']} random images (gap {iw['iw_gap_nats']:.2f} ± "
            f"{iw['iw_gap_se']:.2f}) → all-test estimate {likelihood['iw_nll_all_test_estimate']:.2f}")
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["machine"]["load_average_after"] = _load()
    write_json(json_path, report)
    print(json_path)


if __name__ == "__main__":
    main()
