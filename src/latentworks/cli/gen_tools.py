"""``latentworks gen sample | interpolate | traverse | arith | sweep-dim | manifold | codes | reconstruct |
encode | decode | eval``: the latent tools and the MNIST evaluation on a finished generative run folder.

``add_verbs(verbs)`` adds them to the ``gen`` sub-parsers made by :mod:`latentworks.cli.gen`. Every tool
writes a PNG (default: ``RUN/figures/<verb>_….png``) and prints its path; user mistakes are one-line errors
(exit 2).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from latentworks.errors import LatentworksError

GENERATIVE_KINDS = ("cae", "vae", "dcgan", "cvae", "cgan")


def add_verbs(verbs) -> None:
    p = verbs.add_parser("sample", help="an n×n grid of samples, cells numbered for picking indices")
    _run(p, seed=0)
    p.add_argument("--n", type=int, default=10, help="grid side (n×n samples)")
    _sampling(p)
    p.add_argument("--label", type=int,
                   help="conditional models: the class of every cell (default 0..9 by column)")
    _output(p)
    p.set_defaults(handler=_sample)

    p = verbs.add_parser("interpolate", help="two random points and the line between them")
    _run(p, seed=4)
    p.add_argument("--steps", type=int, default=10, help="points on the line, endpoints included")
    p.add_argument("--slerp", action="store_true",
                   help="spherical interpolation (norm interpolated linearly)")
    p.add_argument("--label", type=int, help="conditional models: the class along the path (default: random)")
    _output(p)
    p.set_defaults(handler=_interpolate)

    p = verbs.add_parser("traverse", help="a path through several random points: PNG strip or GIF")
    _run(p, seed=0)
    p.add_argument("--points", type=int, default=10, help="random points to pass through")
    p.add_argument("--steps", type=int, default=100, help="frames along the whole path")
    p.add_argument("--slerp", action="store_true")
    p.add_argument("--label", type=int)
    p.add_argument("--frame-ms", type=int, default=80, help="GIF frame duration in milliseconds")
    _output(p, "PNG or GIF (default: a GIF above 40 steps, else a PNG)")
    p.set_defaults(handler=_traverse)

    p = verbs.add_parser("arith", help="decode mean(A) − mean(B) + mean(C) by cell indices of a sample grid")
    _run(p, seed=None)
    p.add_argument("--grid-seed", type=int, required=True, help="the --seed of the `gen sample` grid")
    p.add_argument("--n", type=int, default=10, help="the grid's side (as given to `gen sample`)")
    p.add_argument("--a", required=True, help="cell indices, e.g. 17,23,5")
    p.add_argument("--b", required=True)
    p.add_argument("--c", required=True)
    _sampling(p)
    p.add_argument("--label", type=int, help="the grid's --label, if it had one")
    p.add_argument("--result-label", type=int,
                   help="conditional models: class of the result (default: C's first)")
    _output(p)
    p.set_defaults(handler=_arith)

    p = verbs.add_parser("sweep-dim", help="vary one latent coordinate")
    _run(p, seed=0)
    p.add_argument("--dim", type=int, required=True, help="latent coordinate (0-based)")
    p.add_argument("--from", dest="lo", type=float, default=-3.0)
    p.add_argument("--to", dest="hi", type=float, default=3.0)
    p.add_argument("--steps", type=int, default=11)
    p.add_argument("--rows", type=int, default=1, help="random base points, one row each")
    p.add_argument("--label", type=int)
    _output(p)
    p.set_defaults(handler=_sweep)

    p = verbs.add_parser("codes", help="a GAN trained with --codes: one row per code, the same noise per column")
    _run(p, seed=0)
    p.add_argument("--n", type=int, default=10, help="columns (random latents)")
    _output(p)
    p.set_defaults(handler=_codes)

    p = verbs.add_parser("manifold", help="the decoded grid over normal quantiles of a 2-D latent")
    _run(p, seed=None)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--label", type=int, help="conditional models: the class (default 0)")
    _output(p)
    p.set_defaults(handler=_manifold)

    for verb, help_text in (("reconstruct", "your images through a CAE / VAE / CVAE"),
                            ("encode", "latent vectors of your images (CAE / VAE / CVAE)")):
        p = verbs.add_parser(verb, help=help_text)
        _run(p, seed=None)
        p.add_argument("images", nargs="+", help="image files (cropped to a square and resized to the model)")
        p.add_argument("--label", type=int, help="conditional models: the class shown")
        p.add_argument("--invert", action="store_true", help="dark-on-light drawings → MNIST's light-on-dark")
        _output(p, "JSON (default: print to stdout)" if verb == "encode" else None)
        p.set_defaults(handler=_reconstruct if verb == "reconstruct" else _encode)

    p = verbs.add_parser("decode", help="decode latent vectors from a JSON file (what `encode -o` writes)")
    _run(p, seed=None)
    p.add_argument("latents", help="JSON with {\"z\": [[...], ...]}")
    p.add_argument("--label", type=int)
    _output(p)
    p.set_defaults(handler=_decode)

    p = verbs.add_parser("eval", help="MNIST evaluation with the digit reader: histogram, FLD + floor, P/R, "
                                      "conditional accuracy, VAE NLL")
    _run(p, seed=0)
    p.add_argument("--n", type=int, default=10000, help="generated samples (and real ones, at most)")
    p.add_argument("--reader", help="folder of a trained digit reader")
    p.add_argument("--data-dir", default=None, help="MNIST folder ('embedded' for the embedded sample)")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--no-kid", dest="kid", action="store_false", help="skip KID (saves a few seconds)")
    p.add_argument("--k", type=int, default=5000, help="VAE: importance samples for the NLL")
    p.add_argument("--nll-images", type=int, help="VAE: score N random test images (default all)")
    p.add_argument("--no-nll", dest="nll", action="store_false", help="VAE: skip ELBO / IW NLL")
    _output(p, "JSON (default RUN/eval_generative.json)")
    p.set_defaults(handler=_eval)


# ------------------------------------------------------------------ arguments


def _run(p: argparse.ArgumentParser, seed: int | None) -> None:
    p.add_argument("run_dir", metavar="RUN", help="a finished generative run folder")
    if seed is not None:
        p.add_argument("--seed", type=int, default=seed, help="random seed (same seed, same picture)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")


def _sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--truncate", type=float, help="re-sample latent entries beyond ±T standard deviations")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the latents (e.g. 0.17)")


def _output(p: argparse.ArgumentParser, what: str | None = None) -> None:
    p.add_argument("-o", "--output", help=f"where to write the {what or 'PNG (default RUN/figures/…)'}")


def _load(args):

    from latentworks.models import io
    from latentworks.training.trainer import pick_device

    _import_models()
    return io.load_model(args.run_dir, expect=GENERATIVE_KINDS, map_location=str(pick_device(args.device)))


def _import_models() -> None:
    """Register the generative model classes with the loader (their modules register on import)."""
    import contextlib
    import importlib

    for name in ("cae", "vae", "dcgan", "conditional"):
        with contextlib.suppress(ImportError):  # a partial install: load_model names the missing kind
            importlib.import_module(f"latentworks.models.{name}")


def _out(args, name: str, suffix: str = ".png") -> Path:
    if args.output:
        return Path(args.output)
    return Path(args.run_dir) / "figures" / f"{name}{suffix}"


def _done(result) -> int:
    print(result.path)
    return 0


# ------------------------------------------------------------------ handlers


def _sample(args) -> int:
    from latentworks.latent.tools import sample_grid

    model = _load(args)
    tag = "".join([f"_t{args.truncate:g}" if args.truncate else "",
                   f"_s{args.scale:g}" if args.scale != 1 else "",
                   f"_label{args.label}" if args.label is not None else ""])
    return _done(sample_grid(model, args.n, args.seed, labels=args.label, truncate=args.truncate,
                             scale=args.scale, out=_out(args, f"sample_n{args.n}_seed{args.seed}{tag}")))


def _interpolate(args) -> int:
    from latentworks.latent.tools import interpolate

    model = _load(args)
    how = "slerp" if args.slerp else "lerp"
    return _done(interpolate(model, args.seed, args.steps, slerp=args.slerp, labels=args.label,
                             out=_out(args, f"interpolate_{how}_seed{args.seed}")))


def _traverse(args) -> int:
    from latentworks.latent.tools import traverse

    model = _load(args)
    suffix = ".gif" if args.steps > 40 else ".png"
    return _done(traverse(model, args.points, args.steps, args.seed, slerp=args.slerp, labels=args.label,
                          out=_out(args, f"traverse_p{args.points}_seed{args.seed}", suffix),
                          duration_ms=args.frame_ms))


def _arith(args) -> int:
    from latentworks.latent.tools import latent_arithmetic

    model = _load(args)
    return _done(latent_arithmetic(model, args.grid_seed, args.n, args.a, args.b, args.c, labels=args.label,
                                   truncate=args.truncate, scale=args.scale, result_label=args.result_label,
                                   out=_out(args, f"arith_seed{args.grid_seed}")))


def _sweep(args) -> int:
    from latentworks.latent.tools import sweep_dim

    model = _load(args)
    return _done(sweep_dim(model, args.dim, args.lo, args.hi, args.steps, args.seed, rows=args.rows,
                           labels=args.label, out=_out(args, f"sweep_dim{args.dim}_seed{args.seed}")))


def _codes(args) -> int:
    from latentworks.latent.tools import code_grid

    model = _load(args)
    return _done(code_grid(model, args.seed, args.n, out=_out(args, f"codes_seed{args.seed}")))


def _manifold(args) -> int:
    from latentworks.latent.tools import manifold

    model = _load(args)
    return _done(manifold(model, args.n, labels=args.label, out=_out(args, f"manifold_n{args.n}")))


def _reconstruct(args) -> int:
    from latentworks.latent.tools import reconstruct

    model = _load(args)
    result = reconstruct(model, args.images, labels=args.label, invert=args.invert,
                         out=_out(args, "reconstruct"))
    print(f"mean pixel MSE {float(result.info['mse'].mean()):.5f} over {len(result.images)} image(s)")
    return _done(result)


def _encode(args) -> int:
    from latentworks.latent.tools import encode

    model = _load(args)
    result = encode(model, args.images, labels=args.label, invert=args.invert, out=args.output)
    if args.output:
        return _done(result)
    payload = {"kind": getattr(model, "kind", None), "latent_dim": int(result.latents.shape[1]),
               "files": list(args.images), "z": result.latents.astype("float64").round(6).tolist()}
    print(json.dumps(payload))
    return 0


def _decode(args) -> int:
    from latentworks.latent.tools import decode_latents
    from latentworks.latent.user_images import read_latents_json

    model = _load(args)
    z, labels = read_latents_json(args.latents)
    label = args.label if args.label is not None else labels
    return _done(decode_latents(model, z, labels=label, out=_out(args, f"decode_{Path(args.latents).stem}")))


# ------------------------------------------------------------------ eval


def _dataset_of(run_dir: Path) -> str | None:
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    scopes = [config.get(k) for k in ("generative", "data") if isinstance(config.get(k), dict)] + [config]
    for scope in scopes:  # ``gen train`` writes {"generative": {"data": "mnist", ...}, "train": {...}}
        for key in ("dataset", "data"):
            value = scope.get(key)
            if isinstance(value, str):
                return value
    return None


def _reader(args):
    from latentworks.models import io
    from latentworks.training.trainer import pick_device

    if args.reader:
        import latentworks.models.digit_reader  # noqa: F401  (registers the kind with the loader)

        device = str(pick_device(args.device))
        return io.load_model(args.reader, expect="digit_reader", map_location=device), Path(args.reader)
    from latentworks.pipelines import digit_reader as pipeline

    find = getattr(pipeline, "find_or_train_reader", None)
    if find is None:
        raise LatentworksError("pass --reader DIR: a folder holding a trained digit reader (model.json kind "
                               "'digit_reader')")
    reader = find(None, data_dir=args.data_dir, progress=False)
    return reader, getattr(reader, "run_dir", None)


def _fingerprint(folder: Path | None) -> str | None:
    weights = folder / "model.safetensors" if folder is not None else None
    if weights is None or not weights.exists():
        return None
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16]


def _eval(args) -> int:

    from latentworks.data.mnist import load_mnist
    from latentworks.metrics.generative import evaluate_generator, reader_fns, vae_likelihood
    from latentworks.report.plots import bar_plot
    from latentworks.runs import write_json

    run_dir = Path(args.run_dir)
    model = _load(args)
    c = model.config
    dataset = _dataset_of(run_dir)
    if (dataset and dataset.lower() != "mnist") or (c.channels, c.image_size) != (1, 28):
        raise LatentworksError(f"eval judges MNIST digits with the digit reader; {run_dir} holds a "
                               f"{c.channels}×{c.image_size}×{c.image_size} model"
                               f"{f' trained on {dataset}' if dataset else ''}")
    reader, reader_dir = _reader(args)
    feature_fn, classify_fn = reader_fns(reader)
    data = load_mnist("mnist", data_dir=args.data_dir)
    result = evaluate_generator(model, feature_fn, classify_fn, data.train, data.test, n=args.n,
                                seed=args.seed, batch=args.batch, kid=args.kid)
    result["reader"] = {"dir": None if reader_dir is None else str(reader_dir),
                        "weights_sha256_16": _fingerprint(reader_dir)}
    result["data_source"] = data.source
    if args.nll and callable(getattr(model, "iw_nll", None)) and not getattr(model, "conditional", False):
        result["likelihood"] = vae_likelihood(model, data.test, k=args.k, n=args.nll_images, seed=args.seed)
    out = Path(args.output) if args.output else run_dir / "eval_generative.json"
    write_json(out, result)
    fig_path = (out.with_name(f"{out.stem}_class_histogram.png") if args.output
                else run_dir / "figures" / "eval_class_histogram.png")
    hist = result["class_histogram"]
    fig = bar_plot([str(i) for i in range(len(hist))], hist, fig_path,
                   title=f"reader's classes over {args.n:,} samples", ylabel="samples")
    _print_summary(result)
    print(fig)
    print(out)
    return 0


def _print_summary(r: dict) -> None:
    lines = [
        f"samples {r['n']:,} (seed {r['seed']}); real test {r['n_test']:,}, "
        f"train floor {r['n_train_floor']:,}",
        f"class histogram {r['class_histogram']}  (worst class {r['class_max_rel_deviation']:+.1%} "
        f"from uniform; mean confidence {r['mean_confidence']:.3f})",
        f"FLD {r['fld']:.3f}   floor (train vs test) {r['fld_floor']:.3f}   ratio {r['fld_ratio']:.2f}",
        f"precision {r['precision']:.3f}  recall {r['recall']:.3f}  (floor {r['precision_floor']:.3f} / "
        f"{r['recall_floor']:.3f}, k={r['pr_k']})",
    ]
    if "fld_per_class" in r:
        def fmt(values):
            return " ".join("-" if v is None else f"{v:.2f}" for v in values)

        lines.append(f"FLD by class 0-9 {fmt(r['fld_per_class'])}   (real train {fmt(r['fld_per_class_floor'])})")
    if "kid_mean" in r:
        lines.append(f"KID {r['kid_mean']:.4f} ± {r['kid_std']:.4f}   floor {r['kid_floor_mean']:.4f}")
    if "conditional_accuracy" in r:
        lines.append(f"conditional accuracy {r['conditional_accuracy']:.2%}")
    if "code_purity" in r:
        lines.append(f"code purity {r['code_purity']:.1%} (the reader's most common class per code: "
                     f"{r['code_classes']})")
    if "likelihood" in r:
        lk = r["likelihood"]
        lines.append(f"binarised test: −ELBO {lk['neg_elbo_nats']:.2f} nats, IW NLL (k={lk['k']}) "
                     f"{lk['iw_nll_nats']:.2f} ± {lk['iw_nll_se']:.2f} nats over {lk['n']:,} images")
    print("\n".join(lines))
