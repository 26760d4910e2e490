"""Train the MNIST digit reader (the judge for text-to-image answers and the Fréchet-distance embedding).

``train_digit_reader`` trains ``DigitReader`` on the MNIST train split only, with on-the-fly random
affine augmentation, evaluates once on the test split after training (nothing is selected on it), and
leaves a run folder holding ``model.json`` + ``model.safetensors`` (the ``latentworks.models.io``
convention), ``metrics.jsonl``, ``config.json`` and ``results.json``.

``find_or_train_reader`` gives other pipelines a reader (a given folder, a cached one, or a freshly trained
one), and ``read_glyphs`` turns generated answer images back into strings: blank → space, operator strokes
→ their sign (template matching against the glyph generator's own strokes), everything else → the reader's
digit.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from latentworks.config import to_dict, validate
from latentworks.data.mnist import load_mnist
from latentworks.errors import LatentworksError
from latentworks.models.digit_reader import DigitReader, random_affine
from latentworks.models.io import load_model, read_model_info, save_model
from latentworks.recipes.digit_reader import RunConfig as ReaderRun
from latentworks.recipes.digit_reader import recipe as reader_recipe
from latentworks.runs import RunDir
from latentworks.training.trainer import Trainer


def augment_batch(batch: tuple[torch.Tensor, ...], gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Trainer ``transform``: uint8 (B, 28, 28) → float [0, 1], randomly shifted/rotated/scaled/sheared.

    Real handwriting only: a judge trained on same-class averages as well (reader v1) read blurry "average"
    digits leniently, so a model that drew one mean shape per digit scored as if it wrote legibly.
    """
    images, labels = batch
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    return random_affine(x, gen), labels


@torch.no_grad()
def accuracy(model: DigitReader, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 2000) -> float:
    pred, _ = model.predict(images, batch_size=batch_size)
    return float((pred == labels.cpu()).float().mean()) if len(labels) else float("nan")


@torch.no_grad()
def average_digit_accuracy(
    model: DigitReader, images: torch.Tensor, labels: torch.Tensor, n: int = 16, per_class: int = 100,
    seed: int = 0,
) -> float:
    """Accuracy on averages of ``n`` random same-label images (``per_class`` averages per digit): how well
    the reader reads the "average digit" a text-to-image model draws. A seeded, fixed probe."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    gen = torch.Generator().manual_seed(seed)
    averages, truth = [], []
    for digit in labels.unique().tolist():
        pool = x[labels == digit]
        pick = torch.randint(0, len(pool), (per_class, n), generator=gen)
        averages.append(pool[pick].mean(dim=1))
        truth.append(torch.full((per_class,), digit, dtype=torch.long))
    if not averages:
        return float("nan")
    return accuracy(model, torch.cat(averages), torch.cat(truth))


def train_digit_reader(cfg: ReaderRun, out_dir: str | Path) -> dict[str, Any]:
    """Train ``cfg`` (a :mod:`latentworks.recipes.digit_reader` config), evaluate on the MNIST test split, save the
    model into ``out_dir``; return the test metrics: ``{"test_accuracy", "average_digit_accuracy", "test_errors",
    "train_seconds", "n_train", "n_test", "data_source", "epochs"}`` (``average_digit_accuracy``: the
    :func:`average_digit_accuracy` probe on test digits)."""
    cfg = validate(cfg)
    data = load_mnist("mnist", data_dir=cfg.data.data_dir)
    train_images = torch.from_numpy(data.train.images.copy())
    train_labels = torch.from_numpy(data.train.labels.copy())
    if cfg.data.limit is not None:
        train_images, train_labels = train_images[: cfg.data.limit], train_labels[: cfg.data.limit]
    test_images = torch.from_numpy(data.test.images.copy())
    test_labels = torch.from_numpy(data.test.labels.copy())

    torch.manual_seed(cfg.train.seed)
    model = DigitReader(cfg.model)
    run_config = {"family": cfg.family, **to_dict(cfg)}
    trainer = Trainer(model, (train_images, train_labels), cfg.train, out_dir, transform=augment_batch,
                      run_config=run_config)
    started = time.perf_counter()
    trainer.fit()
    train_seconds = time.perf_counter() - started

    model = trainer.raw_model.eval()
    test_acc = accuracy(model, test_images, test_labels)
    avg_acc = average_digit_accuracy(model, test_images, test_labels)
    save_model(model, out_dir)
    metrics = {
        "test_accuracy": test_acc,
        "average_digit_accuracy": avg_acc,
        "test_errors": round((1.0 - test_acc) * len(test_labels)),
        "train_seconds": train_seconds,
        "n_train": len(train_labels),
        "n_test": len(test_labels),
        "data_source": data.source,
        "epochs": cfg.train.epochs,
    }
    RunDir(out_dir).write_results(
        kind="digit_reader",
        config=run_config,
        metrics={"test": {"accuracy": test_acc, "errors": metrics["test_errors"], "n": len(test_labels),
                          "average_digit_accuracy": avg_acc},
                 "train_seconds": train_seconds,
                 "data": {"source": data.source, "train_images": len(train_labels), "test_images": len(test_labels)}},
        seed=cfg.train.seed,
        extra={"data_source": data.source},
    )
    return metrics


# ----------------------------------------------------------------------------------------------- finding one


PACKAGED_READER = Path(__file__).resolve().parent.parent / "assets" / "digit_reader"


def default_reader_dir(embedded: bool = False) -> Path:
    """Where an automatically trained reader is cached: ``$LATENTWORKS_CACHE`` (else the XDG cache,
    else ``~/.cache``)/latentworks/``digit_reader`` (``digit_reader_quick`` for the embedded sample)."""
    env = os.environ.get("LATENTWORKS_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "latentworks"
    return root / ("digit_reader_quick" if embedded else "digit_reader")


def _is_reader_dir(folder: Path) -> bool:
    if not (folder / "model.json").exists() or not (folder / "model.safetensors").exists():
        return False
    try:
        return read_model_info(folder).get("kind") == "digit_reader"
    except LatentworksError:
        return False


def find_or_train_reader(
    path: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> DigitReader:
    """A trained ``DigitReader`` in eval mode, with ``.run_dir`` set to the folder it came from.

    ``path`` given: load it (a folder that is not a digit reader is an error). Otherwise try
    ``$LATENTWORKS_READER``, then the cache (``default_reader_dir``); if neither holds one, train one there
    (the full recipe on full MNIST, the ``quick`` one when only the embedded sample is available; on the GPU
    when there is one) and say so on stderr. The returned model lives on ``device``.
    """
    if path is not None:
        folder = Path(path)
        model = load_model(folder, expect="digit_reader", map_location=device)
    else:
        data = load_mnist("mnist", data_dir=data_dir, quiet=True)
        embedded = data.source.startswith("embedded")
        candidates = [Path(p).expanduser() for p in [os.environ.get("LATENTWORKS_READER")] if p]
        # The frozen, versioned reader shipped with the package (v2: 99.55 % on MNIST test, trained on real
        # train digits only) comes before the cache.
        candidates += [PACKAGED_READER, default_reader_dir(embedded)]
        folder = next((c for c in candidates if _is_reader_dir(c)), candidates[-1])
        if not _is_reader_dir(folder):
            what = "a quick reader on the embedded 4,000-digit sample" if embedded else "the digit reader"
            print(f"latentworks: no trained digit reader found; training {what} into {folder} "
                  "(once; pass --reader DIR to use another)", file=sys.stderr)
            cfg = reader_recipe("quick" if embedded else "default",
                                **{"data.data_dir": data_dir, "train.progress": progress})
            metrics = train_digit_reader(cfg, folder)
            print(f"latentworks: digit reader test accuracy {metrics['test_accuracy']:.2%}", file=sys.stderr)
        model = load_model(folder, expect="digit_reader", map_location=device)
    model.run_dir = folder  # type: ignore[attr-defined]
    return model  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------- reading

BLANK_INK = 8.0  # ink (pixel sum above 0.1) below this is a space; MNIST test digits have >= 17
OPERATOR_MATCH = 0.88  # cosine to an operator stroke template; MNIST test digits score <= 0.86


@functools.lru_cache(maxsize=8)
def _operator_templates(op: str) -> torch.Tensor:
    """Unit-norm flattened templates for ``op``: 256 strokes per course layout plus the pool means.

    The means match the blurry "average" sign a text-to-image model learns; single strokes match
    handwriting-like sharp ones.
    """
    from latentworks.data.glyphs import operator_glyph_pool

    pools = [operator_glyph_pool(op, 256, rng=seed, layout=layout)
             for seed, layout in ((12345, "v23"), (54321, "v21"))]
    flat = [torch.from_numpy(p.reshape(len(p), -1).astype(np.float32) / 255.0) for p in pools]
    means = [f.mean(0, keepdim=True) for f in flat]
    templates = torch.cat(flat + means + [torch.cat(flat).mean(0, keepdim=True)])
    return F.normalize(templates, dim=1)


def stretch_ink(glyphs: torch.Tensor) -> torch.Tensor:
    """Glyphs (N, 28, 28) in [0, 1], each stretched so its brightest pixel is 1: generated digits are often
    fainter than real ink. At most 4×, so near-blank noise is not blown up; real MNIST digits already peak at ~1."""
    return (glyphs / glyphs.amax(dim=(1, 2), keepdim=True).clamp(min=0.25)).clamp(0, 1)


def read_glyphs(
    reader: DigitReader,
    images: torch.Tensor,
    charset: str,
    *,
    blank_ink: float = BLANK_INK,
    operator_match: float = OPERATOR_MATCH,
    batch_size: int = 1024,
) -> list[str]:
    """Read (N, L, 28, 28) glyph images (float [0, 1] or uint8) back into N strings over ``charset``.

    Per glyph: a space if ``charset`` has one and the glyph is (nearly) blank; else an operator sign of
    ``charset`` if its best cosine similarity to that sign's stroke templates reaches ``operator_match``;
    else the reader's digit for the glyph contrast-stretched to peak 1. The thresholds were set on MNIST
    test digits vs. freshly drawn signs, which they separate completely.
    """
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or images.shape[-2:] != (28, 28):
        raise LatentworksError(f"read_glyphs expects (N, L, 28, 28) images, got {tuple(images.shape)}")
    n, length = images.shape[:2]
    flat = images.reshape(n * length, 28, 28).cpu()
    if len(flat) == 0:
        return [""] * n
    ops = [c for c in dict.fromkeys(charset) if c in "+-*"]
    chars = np.full(len(flat), "?", dtype="<U1")
    # A chunk at a time: a study's 15,000 drawn answers would otherwise hold several float copies of every glyph
    # and the reader's activations for thousands of them at once (1.6 GB at the peak of a quick-study run).
    for start in range(0, len(flat), batch_size):
        chunk = flat[start:start + batch_size]
        chunk = chunk.float() / 255.0 if chunk.dtype == torch.uint8 else chunk.float()
        chars[start:start + len(chunk)] = _read_chunk(reader, chunk, charset, ops, blank_ink, operator_match)
    return ["".join(row) for row in chars.reshape(n, length)]


def _read_chunk(reader: DigitReader, flat: torch.Tensor, charset: str, ops: list[str], blank_ink: float,
                operator_match: float) -> np.ndarray:
    """One chunk of glyphs (M, 28, 28) in [0, 1] read as characters: signs and blanks by their strokes and ink,
    the rest by the digit reader. The reader reads every glyph of the chunk: reading only the digits saved a
    few seconds in a study but fed it a new batch size each call, and the heap grew by 300 MB over one scoring."""
    digits, _ = reader.predict(stretch_ink(flat), batch_size=len(flat))
    chars = np.array([str(int(d)) for d in digits.tolist()], dtype="<U1")
    vectors = flat.reshape(len(flat), -1)
    if ops:
        unit = F.normalize(vectors, dim=1)
        best = torch.stack([(unit @ _operator_templates(op).T).max(dim=1).values for op in ops], dim=1)
        score, which = best.max(dim=1)
        is_op = (score >= operator_match).numpy()
        chars[is_op] = np.array(ops)[which.numpy()[is_op]]
    if " " in charset:
        ink = (vectors - 0.1).clamp(min=0).sum(dim=1)
        chars[(ink < blank_ink).numpy()] = " "
    return chars
