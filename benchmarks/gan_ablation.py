"""Seed 004's DCGAN study as one command: discriminator depth and dropout, learning rate, generator depth, init.

    python benchmarks/gan_ablation.py --tiny                    # seconds: plumbing on 256 embedded digits
    python benchmarks/gan_ablation.py --tiny --executor ray --workers 2
    python benchmarks/gan_ablation.py --epochs 1,3,10,30        # full MNIST (hours on a CPU)
    python benchmarks/gan_ablation.py --epochs 25,50,100,150,200 --batch-size 128   # seed 004's schedule (GPU)

Every variant is a run config of the DCGAN ``default`` recipe, trained stage by stage on the study executor
(``--executor ray --workers N`` trains the variants of a stage in parallel, one Ray task each).

Base (seed 004's pick): a 4-layer 3×3 stride-2 discriminator (32→64→128→128 filters, batch norm, LeakyReLU 0.2),
no dropout, a generator of 2 transposed convs from a 7×7 map ("3 layers" in the seed, counting the dense
one), latent 100, Adam 2e-4 (β1 0.5), N(0, 0.02) init. Groups vary one thing each:

* discriminator: 3 layers; 4 layers with dropout 0, 0.2, 0.4, 0.6, 0.8;
* learning rate: 1e-5, 1e-4, 2e-4, 1e-2 (both networks);
* generator: 2 vs 3 transposed convs (7×7 vs 4×4 start);
* init: N(0, 0.02) vs Xavier (Glorot uniform).

The base configuration is trained once and shared by the groups. Every variant trains to each chosen epoch in
turn (resuming its checkpoint) and is scored there with the frozen digit reader: FLD on ``--n`` samples against
as many MNIST test digits, next to the real train-vs-test floor at the same sizes, the worst class's deviation
from uniform and k-NN precision/recall. Writes ``<out>/gan_ablation.json``, ``<out>/report.html``, one
epochs×variants grid figure and one FLD-by-epoch curve per group, and the run folders under ``<out>/runs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from latentworks.config import override, to_dict
from latentworks.data.mnist import load_mnist
from latentworks.metrics.generative import evaluate_generator, reader_fns
from latentworks.pipelines.generative import load_generative
from latentworks.pipelines.generative_eval import reader_info
from latentworks.recipes.generative import recipe
from latentworks.report.html import Section, Table, write_report
from latentworks.runs import RunDir, claim_run_dir, environment, write_json
from latentworks.runs import cpu_model as _cpu_model  # noqa: E402
from latentworks.runs import load_average as _load
from latentworks.studies.executor import EXECUTORS, job_for, make_executor

BASE = dict(model="dcgan", latent_dim=100, filters=32, max_filters=128, kernel=3, enc_depth=4, dec_depth=2,
            dropout=0.0, init="normal", lr=2e-4, batch_size=128)
TINY = dict(filters=8, max_filters=32, latent_dim=32, batch_size=32)
GROUPS: dict[str, list[tuple[str, dict]]] = {
    "discriminator": [("D 3 layers", {"enc_depth": 3}), ("D 4 layers, dropout 0", {})]
    + [(f"D 4 layers, dropout {p:g}", {"dropout": p}) for p in (0.2, 0.4, 0.6, 0.8)],
    "learning rate": [(f"lr {lr:g}", {"lr": lr} if lr != BASE["lr"] else {}) for lr in (1e-5, 1e-4, 2e-4, 1e-2)],
    "generator": [("G 2 deconvs (7×7 start)", {}), ("G 3 deconvs (4×4 start)", {"dec_depth": 3})],
    "init": [("N(0, 0.02)", {}), ("Xavier", {"init": "xavier"})],
}
# Where each setting above lives in the run config tree (the DCGAN ``default`` recipe's).
PATHS = {"latent_dim": "model.latent_dim", "filters": "model.filters", "max_filters": "model.max_filters",
         "kernel": "model.kernel", "enc_depth": "model.enc_depth", "dec_depth": "model.dec_depth",
         "dropout": "model.dropout", "init": "model.init", "lr": "train.lr", "batch_size": "train.batch_size"}


def run_config(settings: dict, **changes):
    """The DCGAN ``default`` recipe with ``settings`` (BASE's names) and dotted ``changes``."""
    kind = settings.get("model", "dcgan")
    return recipe("default", kind=kind, **{PATHS[k]: v for k, v in settings.items() if k != "model"}, **changes)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def variant_key(overrides: dict) -> str:
    return "base" if not overrides else "_".join(f"{k}-{v:g}" if isinstance(v, float) else f"{k}-{v}"
                                                 for k, v in sorted(overrides.items()))


def get_reader(args, out: Path):
    from latentworks.pipelines.digit_reader import find_or_train_reader, train_digit_reader

    if args.reader and (Path(args.reader) / "model.json").exists():
        return find_or_train_reader(args.reader), Path(args.reader)
    from latentworks.pipelines import digit_reader

    packaged = getattr(digit_reader, "PACKAGED_READER", None)  # the reader shipped with the package
    if packaged is not None and (Path(packaged) / "model.json").exists():
        return find_or_train_reader(packaged), Path(packaged)
    if not args.tiny:  # finds a cached one or trains the full recipe (about 20 min on 2 CPU cores)
        reader = find_or_train_reader(None, data_dir=args.data_dir)
        return reader, getattr(reader, "run_dir", None)
    from latentworks.recipes.digit_reader import recipe

    folder = out / "tiny_reader"
    log("training a tiny throw-away digit reader (tiny mode)")
    train_digit_reader(recipe("tiny", **{"data.data_dir": args.data_dir, "train.progress": False,
                                         "train.device": "cpu"}), folder)
    return find_or_train_reader(folder), folder


def snapshot_figure(group: str, rows: list[tuple[str, Path]], epochs: list[int], path: Path) -> Path:
    """Variants (rows) × chosen epochs (columns) of the fixed-latent snapshot grids."""
    from PIL import Image

    from latentworks.report.plots import plt, save_figure

    fig, axes = plt.subplots(len(rows), len(epochs), figsize=(2.1 * len(epochs) + 1.6, 2.1 * len(rows)),
                             squeeze=False)
    for r, (label, run_dir) in enumerate(rows):
        for c, epoch in enumerate(epochs):
            ax = axes[r, c]
            png = run_dir / "figures" / f"epoch_{epoch:03d}.png"
            if png.exists():
                ax.imshow(np.asarray(Image.open(png).convert("RGB")))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"epoch {epoch}", fontsize=10)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle(f"{group}: the same 64 latents at each chosen epoch", fontsize=11)
    return save_figure(fig, path)


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="seconds: embedded digits, tiny nets, epochs 1,2")
    parser.add_argument("--epochs", default=None, help="comma-separated epochs to snapshot and score "
                                                       "(default 1,3,10,30; tiny 1,2)")
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"subset of: {', '.join(GROUPS)}")
    parser.add_argument("--n", type=int, default=None, help="samples per evaluation (default 2000; tiny 100)")
    parser.add_argument("--limit", type=int, default=None, help="training images (default all; tiny 256)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--data-dir", default=None, help="MNIST folder (tiny: the embedded sample)")
    parser.add_argument("--reader", default=str(here / "out" / "digit_reader"),
                        help="digit reader folder (default: the benchmark's, else the packaged one; tiny mode "
                             "trains a throw-away one when neither exists)")
    parser.add_argument("--out", default=None, help="default benchmarks/out/gan_ablation[_tiny]")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--executor", choices=EXECUTORS, default="local", help="ray: the variants of a stage in "
                        "parallel, one Ray task each")
    parser.add_argument("--workers", type=int, default=None, help="ray: runs at a time on a local cluster")
    parser.add_argument("--address", default=None, help="ray: join this running cluster instead")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.tiny:
        args.data_dir = args.data_dir or "embedded"
    epochs = sorted({int(e) for e in (args.epochs or ("1,2" if args.tiny else "1,3,10,30")).split(",")})
    n = args.n or (100 if args.tiny else 2000)
    limit = args.limit or (256 if args.tiny else None)
    out = Path(args.out or here / "out" / ("gan_ablation_tiny" if args.tiny else "gan_ablation"))
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise SystemExit(f"unknown group(s) {unknown}; choose from {', '.join(GROUPS)}")

    started = time.perf_counter()
    report: dict = {
        "benchmark": "gan_ablation", "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tiny": args.tiny, "epochs": epochs, "n": n,
        "limit": limit, "seed": args.seed, "base": {**BASE, **(TINY if args.tiny else {})},
        "machine": {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "torch_threads": args.threads,
                    "load_average_before": _load()},
        "environment": environment(), "variants": {}, "groups": {},
    }
    reader, reader_dir = get_reader(args, out)
    report["reader"] = reader_info(reader_dir)
    feature_fn, classify_fn = reader_fns(reader)
    data = load_mnist("mnist", data_dir=args.data_dir, quiet=True)
    report["data_source"] = data.source

    # A variant already scored with the same settings, epochs, n and seed (an interrupted grid) is reused.
    earlier_path = out / "gan_ablation.json"
    earlier_report = json.loads(earlier_path.read_text()) if earlier_path.exists() else {}
    same_grid = all(earlier_report.get(k) == report[k] for k in ("epochs", "n", "limit", "seed", "tiny"))
    earlier = earlier_report.get("variants", {}) if same_grid else {}

    variants: dict[str, dict] = {}
    for group in groups:
        for label, overrides in GROUPS[group]:
            variants.setdefault(variant_key(overrides), {"label": label, "overrides": overrides})
            report["groups"].setdefault(group, []).append(variant_key(overrides))
    log(f"{len(variants)} distinct variants x epochs {epochs}, {n} samples per evaluation")

    # Every variant is a run config; the grid trains stage by stage (to each chosen epoch in turn), each stage one
    # job per variant on the executor (local: one after another; ray: in parallel), continuing the variant's
    # checkpoint, and the driver scores every variant at the end of the stage.
    configs, pending = {}, []
    for key, var in variants.items():
        settings = {**BASE, **(TINY if args.tiny else {}), **var["overrides"]}
        if args.batch_size:
            settings["batch_size"] = args.batch_size
        cfg = run_config(settings, **{"data.data": "mnist", "data.data_dir": args.data_dir, "data.limit": limit,
                                      "train.seed": args.seed, "train.device": "cpu", "train.progress": False,
                                      "train.threads": args.threads, "eval.eval_images": min(500, len(data.test))})
        config = to_dict(cfg)  # the whole tree: a variant is reused only where every setting matches
        done = earlier.get(key, {})
        if done.get("config") == config and len(done.get("evals", [])) == len(epochs):
            log(f"{var['label']}: reusing its {len(epochs)} evaluations from {earlier_path}")
            report["variants"][key] = {**var, **{k: done[k] for k in ("settings", "config", "run_dir", "evals")}}
            continue
        run_dir = out / "runs" / key
        if run_dir.exists():
            claim_run_dir(run_dir, overwrite=True)  # a half-done chain starts afresh; the old one is moved aside
        configs[key] = cfg
        pending.append(key)
        report["variants"][key] = {**var, "settings": settings, "config": config, "run_dir": str(run_dir),
                                   "evals": []}
    executor = make_executor(args.executor, args.workers, args.address)
    report["executor"] = {"name": args.executor, "workers": args.workers}
    for epoch in epochs:
        t0 = time.perf_counter()
        executor.run([job_for(f"{key} to epoch {epoch}", override(configs[key], {"train.epochs": epoch}),
                              out / "runs" / key, threads=args.threads) for key in pending], progress=True)
        log(f"stage to epoch {epoch}: {len(pending)} variants trained in {time.perf_counter() - t0:.0f} s")
        for key in pending:
            run_dir = out / "runs" / key
            res = RunDir(run_dir, create=False).read_results()
            ev = evaluate_generator(load_generative(run_dir), feature_fn, classify_fn, data.train, data.test, n=n,
                                    seed=args.seed, kid=False)
            final = res["train"]["final"]
            report["variants"][key]["evals"].append({
                "epoch": epoch, "train_seconds": res["train"]["seconds"], "fld": ev["fld"],
                "fld_floor": ev["fld_floor"], "fld_ratio": ev["fld_ratio"], "class_histogram": ev["class_histogram"],
                "class_max_rel_deviation": ev["class_max_rel_deviation"], "mean_confidence": ev["mean_confidence"],
                "precision": ev["precision"], "recall": ev["recall"], "d_acc_real": final.get("d_acc_real"),
                "d_acc_fake": final.get("d_acc_fake"), "d_loss": final.get("d_loss"), "g_loss": final.get("g_loss")})
            log(f"{variants[key]['label']} epoch {epoch}: FLD {ev['fld']:.2f} (floor {ev['fld_floor']:.2f}) worst "
                f"class {ev['class_max_rel_deviation']:+.0%} P/R {ev['precision']:.2f}/{ev['recall']:.2f} train "
                f"{res['train']['seconds']:.0f} s")
        report["machine"]["load_average_now"] = _load()
        write_json(out / "gan_ablation.json", report)

    sections = []
    columns = ["variant", "epoch", "FLD", "FLD floor", "FLD / floor", "worst class vs uniform", "precision",
               "recall", "D acc real", "D acc fake", "train s"]
    for group in groups:
        keys = report["groups"][group]
        table_rows = [[variants[k]["label"], r["epoch"], r["fld"], r["fld_floor"], r["fld_ratio"],
                       r["class_max_rel_deviation"], r["precision"], r["recall"], r["d_acc_real"], r["d_acc_fake"],
                       r["train_seconds"]] for k in keys for r in report["variants"][k]["evals"]]
        slug = group.replace(" ", "_")
        grid = snapshot_figure(group, [(variants[k]["label"], out / "runs" / k) for k in keys], epochs,
                               out / f"{slug}_snapshots.png")
        from latentworks.report.plots import line_plot

        curve = line_plot({variants[k]["label"]: ([r["epoch"] for r in report["variants"][k]["evals"]],
                                                  [r["fld"] for r in report["variants"][k]["evals"]]) for k in keys},
                          out / f"{slug}_fld.png", title=f"{group}: FLD by epoch (floor "
                          f"{report['variants'][keys[0]]['evals'][0]['fld_floor']:.2f})", xlabel="epoch",
                          ylabel="FLD")
        sections.append(Section(f"GAN ablation: {group}", tables=[Table(columns, table_rows,
                                caption=f"{n:,} samples per evaluation; {data.source}")],
                                figures=[(grid, "fixed-latent snapshots"), (curve, "FLD by epoch")]))
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["machine"]["load_average_after"] = _load()
    write_json(out / "gan_ablation.json", report)
    intro = (f"<p>{'TINY MODE (plumbing only): ' if args.tiny else ''}seed 004's DCGAN ablations, base "
             f"<code>{json.dumps(report['base'])}</code>; {report['wall_seconds']} s in all.</p>")
    write_report(sections, out / "report.html", title="GAN ablation", intro=intro)
    print(out / "gan_ablation.json")


if __name__ == "__main__":
    main()
