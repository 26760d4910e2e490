"""The one evaluation of a trained generative model, shared by ``gen eval``, the Python API, the study and the
benchmarks.

:func:`evaluate_model` scores fresh MNIST samples with the frozen digit reader (class histogram, FLD beside its
floor, KID, precision / recall, conditional accuracy, InfoGAN code purity, FLD within each class), measures blur (the
mid-grey share of the ink) and, for an unconditional VAE, the held-out likelihood (−ELBO and IW-NLL in nats).
:func:`evaluate_faces` scores a face run (``--preset faces``: 64×64 RGB from a folder) in the packaged face
feature network's space with the same measures of distance: FLD beside its real floor (train vs held-out faces),
KID, precision / recall. Any other folder has no feature network that fits it: one line says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from latentworks.errors import LatentworksError


def grey_share(images: np.ndarray) -> float:
    """Blur measure: the share of inked pixels (> 0.1) that are mid-grey (0.1–0.9). Sharp strokes score low."""
    x = np.asarray(images, dtype=np.float32)
    ink = x > 0.1
    return float(((x < 0.9) & ink).sum() / max(int(ink.sum()), 1))


def weights_fingerprint(folder: Path | None) -> str | None:
    weights = Path(folder) / "model.safetensors" if folder is not None else None
    if weights is None or not weights.exists():
        return None
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16]


def reader_info(folder: Path | None) -> dict[str, Any]:
    """Where the reader came from, its weights' fingerprint and its MNIST test accuracy (when recorded)."""
    from latentworks.runs import read_json

    info: dict[str, Any] = {"dir": None if folder is None else str(folder),
                            "weights_sha256_16": weights_fingerprint(folder), "test_accuracy": None}
    if folder is None:
        return info
    readme, results = Path(folder) / "README.json", Path(folder) / "results.json"
    if readme.exists():  # the reader packaged with latentworks
        meta = read_json(readme)
        info.update(test_accuracy=meta.get("test_accuracy"), what=meta.get("what"))
    elif results.exists():  # a run folder (a cached or freshly trained reader)
        res = read_json(results)
        info.update(test_accuracy=res.get("test", {}).get("accuracy"), data_source=res.get("data_source"))
    return info


FACE_SHAPE_TEXT = "3×64×64"


def check_digit_model(model, dataset: str | None, where: str | Path) -> None:
    """The reader judges 28×28 grey digits; refuse anything else in one line."""
    c = model.config
    if (dataset and dataset.lower() != "mnist") or (c.channels, c.image_size) != (1, 28):
        raise LatentworksError(f"no feature network fits {where} (a {c.channels}×{c.image_size}×{c.image_size} "
                               f"model{f' trained on {dataset}' if dataset else ''}): eval judges MNIST digits "
                               f"with the digit reader and {FACE_SHAPE_TEXT} faces of a --preset faces run with "
                               "the face feature network")


def is_face_run(model, config: dict[str, Any]) -> bool:
    """A run of a faces recipe (``FACE_RECIPES``) on a folder, making 3×64×64 images: what the face network
    judges. The run's data decide, not the model's shape alone: a 64×64 RGB run on flowers is no face run."""
    from latentworks.data.images import MNIST_NAMES
    from latentworks.recipes.generative import FACE_RECIPES

    c, data = model.config, config.get("data") if isinstance(config.get("data"), dict) else {}
    return (config.get("recipe") in FACE_RECIPES and isinstance(data.get("data"), str)
            and data["data"] not in MNIST_NAMES and (int(c.channels), int(c.image_size)) == (3, 64))


def face_features_info(folder: Path | None) -> dict[str, Any]:
    """Where the face network came from, its weights' fingerprint and its held-out view matching."""
    from latentworks.runs import read_json

    info: dict[str, Any] = {"dir": None if folder is None else str(folder),
                            "weights_sha256_16": weights_fingerprint(folder), "view_match_top1": None}
    readme = Path(folder) / "README.json" if folder is not None else None
    if readme is not None and readme.exists():
        meta = read_json(readme)
        info.update(what=meta.get("what"), view_match_top1=(meta.get("heldout_check") or {}).get("view_match_top1"))
    return info


def evaluate_faces(model, features, train, test, *, n: int = 10000, seed: int = 0, kid: bool = True,
                   batch: int = 500, source: str = "") -> dict[str, Any]:
    """FLD beside its floor, KID and precision / recall of ``model``'s samples against real faces (uint8 or
    float (N, 3, 64, 64) ``train`` / held-out ``test``), in the face network ``features``' space."""
    from latentworks.metrics.generative import evaluate_generator

    t0 = time.perf_counter()
    result = evaluate_generator(model, lambda x: features.embed_images(x, batch), None, train, test, n=n, seed=seed,
                                batch=batch, kid=kid)
    result["features"] = face_features_info(getattr(features, "run_dir", None))
    result["data_source"] = source
    result["eval_seconds"] = time.perf_counter() - t0
    return result


def evaluate_face_run(model, config: dict[str, Any], *, quiet: bool = False, n: int = 10000, seed: int = 0,
                      kid: bool = True, batch: int = 500, **_likelihood: Any) -> dict[str, Any]:
    """:func:`evaluate_faces` on the run's own folder and split (its ``data`` section); a VAE's likelihood in nats
    is an MNIST measure and is not estimated here."""
    from latentworks.data.images import load_image_dataset
    from latentworks.pipelines.face_features import HOLDOUT, load_face_features

    data = config["data"]
    folder = Path(data["data"]).expanduser()
    if not folder.is_dir():
        raise LatentworksError(f"the run's face folder {folder} is gone; restore it to score the run")
    split = {"holdout": float(data.get("holdout", 0.1)), "background": data.get("background", "white"),
             "progress": False, "quiet": quiet}
    train, _, source = load_image_dataset(folder, 64, 3, split="train", **split)
    test, _, _ = load_image_dataset(folder, 64, 3, split="test", **split)
    result = evaluate_faces(model, load_face_features(), train, test, n=n, seed=seed, kid=kid, batch=batch,
                            source=source)
    # the network trained on the train split of a 10 % holdout: another share mixes its training faces in
    result["features"]["same_split"] = split["holdout"] == HOLDOUT
    return result


def evaluate_model(model, reader, mnist, *, n: int = 10000, seed: int = 0, kid: bool = True, batch: int = 500,
                   nll_k: int = 0, nll_images: int | None = None, blur_samples: int = 2000) -> dict[str, Any]:
    """Every measure of a generative model against real MNIST (``mnist``: a ``MnistData``)."""
    from latentworks.metrics.generative import evaluate_generator, generate, reader_fns
    from latentworks.metrics.likelihood import vae_likelihood

    feature_fn, classify_fn = reader_fns(reader)
    t0 = time.perf_counter()
    result = evaluate_generator(model, feature_fn, classify_fn, mnist.train, mnist.test, n=n, seed=seed,
                                batch=batch, kid=kid)
    m = min(n, blur_samples)
    result["grey_share"] = grey_share(next(generate(model, m, seed=seed, batch=m))[0].numpy())
    if nll_k and callable(getattr(model, "iw_nll", None)) and not getattr(model, "conditional", False):
        result["likelihood"] = vae_likelihood(model, mnist.test, k=nll_k, n=nll_images, seed=seed)
    result["reader"] = reader_info(getattr(reader, "run_dir", None))
    result["data_source"] = mnist.source
    result["eval_seconds"] = time.perf_counter() - t0
    return result


def run_config(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's ``config.json`` as a dict ({} when it is missing or cannot be read)."""
    try:
        config = json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return config if isinstance(config, dict) else {}


def dataset_of(run_dir: str | Path) -> str | None:
    """The dataset a run folder's ``config.json`` names (None when it names none or cannot be read)."""
    data = run_config(run_dir).get("data")
    return data.get("data") if isinstance(data, dict) and isinstance(data.get("data"), str) else None


def evaluate_run(model, run_dir: str | Path, *, reader: str | Path | None = None, data_dir: str | None = None,
                 device: str = "cpu", quiet: bool = False, **measures: Any) -> dict[str, Any]:
    """``gen eval`` and ``GenerativeRun.evaluate``: a face run (:func:`is_face_run`) is scored by
    :func:`evaluate_face_run`; otherwise check the run holds an MNIST-sized model, take the digit
    reader in ``reader`` (default: the packaged one), load MNIST from ``data_dir`` and return
    :func:`evaluate_model` with ``measures`` (``n``, ``seed``, ``kid``, ``batch``, ``nll_k``, ``nll_images``)."""
    from latentworks.data.mnist import load_mnist
    from latentworks.pipelines.digit_reader import find_or_train_reader

    config = run_config(run_dir)
    if is_face_run(model, config):
        return evaluate_face_run(model, config, quiet=quiet, **measures)
    check_digit_model(model, dataset_of(run_dir), run_dir)
    # a named reader goes where the model is; the packaged one reads on the CPU, as its recorded figures did
    judge = find_or_train_reader(reader, data_dir=data_dir, progress=False, device=device if reader else "cpu")
    mnist = load_mnist("mnist", data_dir=data_dir, quiet=quiet)
    return evaluate_model(model, judge, mnist, **measures)


def worst_class(r: dict[str, Any]) -> str:
    """The class furthest from uniform in words: "digit 6: 100 of 200 samples, +400.0 % vs uniform"."""
    digit, dev = r.get("class_worst_digit"), r["class_max_rel_deviation"]
    if digit is None:  # an evaluation written before the class was named
        return f"worst class {100 * dev:+.1f} % vs uniform"
    return f"digit {digit}: {r['class_worst_count']:,} of {r['n']:,} samples, {100 * dev:+.1f} % vs uniform"


def summary_lines(r: dict[str, Any]) -> list[str]:
    """The evaluation in a few human lines (what ``gen eval`` prints)."""
    if "features" in r:  # a face run: no classes, no ink
        f = r["features"]
        split = ("trained on real train faces only" if f.get("same_split", True) else
                 "this run holds out another share than the network's 10 %: it saw some of these held-out faces")
        return [
            f"faces judged by the face feature network (weights {f['weights_sha256_16']}, {split})",
            f"samples {r['n']:,} (seed {r['seed']}); real held-out {r['n_test']:,}, train floor {r['n_train_floor']:,}",
            f"FLD {r['fld']:.3f}   floor (train vs held-out) {r['fld_floor']:.3f}   ratio {r['fld_ratio']:.2f}",
            f"precision {r['precision']:.3f}  recall {r['recall']:.3f}  (floor {r['precision_floor']:.3f} / "
            f"{r['recall_floor']:.3f}, k={r['pr_k']})",
            *([f"KID {r['kid_mean']:.4f} ± {r['kid_std']:.4f}   floor {r['kid_floor_mean']:.4f}"] if "kid_mean" in r
              else []),
        ]
    lines = [
        f"samples {r['n']:,} (seed {r['seed']}); real test {r['n_test']:,}, train floor {r['n_train_floor']:,}",
        f"class histogram {r['class_histogram']}  ({worst_class(r)}; mean confidence {r['mean_confidence']:.3f})",
        f"FLD {r['fld']:.3f}   floor (train vs test) {r['fld_floor']:.3f}   ratio {r['fld_ratio']:.2f}",
        f"precision {r['precision']:.3f}  recall {r['recall']:.3f}  (floor {r['precision_floor']:.3f} / "
        f"{r['recall_floor']:.3f}, k={r['pr_k']})",
        f"grey share of the ink {r['grey_share']:.3f} (blur; lower is sharper)",
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
    return lines


__all__ = ["check_digit_model", "dataset_of", "evaluate_face_run", "evaluate_faces", "evaluate_model", "evaluate_run",
           "face_features_info", "grey_share", "is_face_run", "reader_info", "run_config", "summary_lines",
           "weights_fingerprint", "worst_class"]
