"""Arithmetic encoder-decoders end to end: data, model, training, held-out scoring, figures, prediction.

Three directions share this pipeline:

* ``text2text``: query characters -> answer characters;
* ``img2text``:  query as MNIST handwriting -> answer characters;
* ``text2img``:  query characters -> answer drawn as 28x28 images, read back by a separately trained reader.

Splits are by query with a fixed split seed, so test queries are never seen in training, and test images are
drawn from MNIST *test-split* digits only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks.config import to_dict, validate
from latentworks.data.arithmetic import (
    ArithmeticSpec,
    ArithmeticTextData,
    build_text_dataset,
    decode,
    encode,
    format_query,
    parse_query,
    split_queries,
)
from latentworks.data.glyphs import GlyphBank, load_strip_png, render_strip
from latentworks.data.mnist import load_mnist
from latentworks.errors import LatentworksError
from latentworks.metrics.arithmetic import glyph_reading, score_answers
from latentworks.models.io import load_model, model_class, read_model_info, save_model
from latentworks.pipelines import arithmetic_figures as figures
from latentworks.pipelines.glyph_sampler import GlyphSampler
from latentworks.recipes.arithmetic import MODEL_CONFIGS, TASKS, RunConfig
from latentworks.runs import claim_run_dir
from latentworks.training.distributed import detect
from latentworks.training.trainer import Trainer, seed_everything

TASK_KINDS = {task: tuple(kind for (t, _), (kind, _, _) in MODEL_CONFIGS.items() if t == task) for task in TASKS}


def build_model(cfg: RunConfig) -> torch.nn.Module:
    """The model of a (resolved) run config."""
    return model_class(cfg.kind)(cfg.model)


# ------------------------------------------------------------------------------------------ data
@dataclass
class Prepared:
    spec: ArithmeticSpec
    train: ArithmeticTextData
    test: ArithmeticTextData
    train_glyphs: GlyphSampler | None = None
    test_glyphs: GlyphSampler | None = None
    mnist_source: str | None = None
    test_digits: tuple[np.ndarray, np.ndarray] | None = None  # MNIST test images and labels, for glyph_reading


def prepare(cfg: RunConfig) -> Prepared:
    spec = cfg.data.spec()
    data = build_text_dataset(spec)
    train_idx, test_idx = split_queries(len(data), cfg.data.train_fraction, cfg.data.split_seed)
    prepared = Prepared(spec, data.subset(train_idx), data.subset(test_idx))
    if cfg.task in ("img2text", "text2img"):
        mnist = load_mnist("mnist", data_dir=cfg.data.data_dir)
        rng = np.random.default_rng(cfg.train.seed)
        # Train queries are written with train-split digits, test queries with test-split digits only.
        prepared.train_glyphs = GlyphSampler(GlyphBank.from_mnist(mnist.train.images, mnist.train.labels,
                                                                  spec.ops, rng, spec.layout), spec.charset)
        prepared.test_glyphs = GlyphSampler(GlyphBank.from_mnist(mnist.test.images, mnist.test.labels,
                                                                 spec.ops, rng, spec.layout), spec.charset)
        prepared.mnist_source = mnist.source
        prepared.test_digits = (mnist.test.images, mnist.test.labels)
    return prepared


def test_inputs(prepared: Prepared, task: str, seed: int) -> torch.Tensor:
    """The held-out inputs as the model sees them: ids, or handwriting drawn once with a fixed seed."""
    x = torch.from_numpy(prepared.test.x)
    if task == "img2text":
        return prepared.test_glyphs.render(x, torch.Generator().manual_seed(seed + 1))
    return x


# ------------------------------------------------------------------------------------------ batches
def fresh_handwriting(task: str, glyphs: GlyphSampler):
    """A trainer transform that draws new MNIST-train handwriting for every batch: image→text batches become
    (query images, answer ids, query ids), text→image ones (query ids, answer ids, answer images)."""
    if task == "img2text":
        def draw_queries(batch, gen):
            x_ids, y = batch
            return glyphs.render(x_ids, gen).to(y.device), y, x_ids
        return draw_queries

    def draw_answers(batch, gen):
        x, y, _ = batch
        return x, y, glyphs.render(y, gen).to(y.device)
    return draw_answers


def training_tensors(prepared: Prepared, task: str, fresh: bool, seed: int) -> list[torch.Tensor]:
    x = torch.from_numpy(prepared.train.x)
    y = torch.from_numpy(prepared.train.y)
    gen = torch.Generator().manual_seed(seed)
    if task == "img2text":
        # With fresh handwriting the ids go in and the transform draws the pixels; otherwise one fixed drawing.
        return [x if fresh else prepared.train_glyphs.render(x, gen), y]
    if task == "text2img":
        return [x, y, prepared.train_glyphs.render(y, gen)]
    return [x, y]


# ------------------------------------------------------------------------------------------ scoring
@torch.no_grad()
def predict_strings(model, inputs: torch.Tensor, spec: ArithmeticSpec, batch: int = 1024) -> list[str]:
    model.eval()
    device = next(model.parameters()).device
    out = [model.predict(inputs[i:i + batch].to(device)).cpu() for i in range(0, len(inputs), batch)]
    return decode(torch.cat(out).numpy(), spec)


@torch.no_grad()
def generate_images(model, x: torch.Tensor, batch: int = 512, seed: int = 0) -> torch.Tensor:
    """Drawn answers (N, La, 28, 28) in [0, 1]; a pen with a style code draws its styles from ``seed``."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([model.generate(x[i:i + batch].to(device), generator=gen).cpu()
                      for i in range(0, len(x), batch)])


def score(model, prepared: Prepared, task: str, inputs: torch.Tensor, expected: list[str],
          reader=None) -> tuple[dict[str, Any], list[str], torch.Tensor | None]:
    """Scores on held-out queries, the predicted strings, and (text2img) the generated images."""
    spec = prepared.spec
    if task == "text2img":
        images = generate_images(model, inputs)
        if reader is None:
            return {"mse": None}, [], images
        from latentworks.pipelines.digit_reader import read_glyphs

        predicted = read_glyphs(reader, images, spec.charset)
        s = score_answers(predicted, expected).as_dict()
        return {f"readback_{k}": v for k, v in s.items()}, predicted, images
    predicted = predict_strings(model, inputs, spec)
    return score_answers(predicted, expected).as_dict(), predicted, None


def make_eval_fn(prepared: Prepared, task: str, cfg: RunConfig, reader=None):
    """Per-epoch curve points on fixed subsets of train and test (the final score uses all of test)."""
    rng = np.random.default_rng(cfg.data.split_seed + 7)
    n, seed = cfg.eval.eval_subset, cfg.train.seed
    test_pick = np.sort(rng.permutation(len(prepared.test))[:n])
    train_pick = np.sort(rng.permutation(len(prepared.train))[:n])
    test_part, train_part = prepared.test.subset(test_pick), prepared.train.subset(train_pick)
    test_in = torch.from_numpy(test_part.x)
    train_in = torch.from_numpy(train_part.x)
    if task == "img2text":
        test_in = prepared.test_glyphs.render(test_in, torch.Generator().manual_seed(seed + 11))
        train_in = prepared.train_glyphs.render(train_in, torch.Generator().manual_seed(seed + 12))

    def fn(model, epoch):
        out: dict[str, float] = {}
        for name, inputs, part in (("test", test_in, test_part), ("train", train_in, train_part)):
            if task == "text2img" and reader is None:
                continue
            metrics, _, _ = score(model, prepared, task, inputs, part.answers, reader)
            key = "readback_" if task == "text2img" else ""
            out[f"{name}_exact_match"] = metrics[f"{key}exact_match"]
            out[f"{name}_char_accuracy"] = metrics[f"{key}char_accuracy"]
        return out

    return fn


# ------------------------------------------------------------------------------------------ train
def train(cfg: RunConfig, out: str | Path, resume: bool = False, overwrite: bool = False) -> dict[str, Any] | None:
    """Train one model into run folder ``out`` and score it on the held-out queries."""
    validate(cfg)
    if detect().is_main:
        claim_run_dir(out, resume=resume, overwrite=overwrite)
    seed_everything(cfg.train.seed)
    prepared = prepare(cfg)
    reader = load_reader(cfg) if cfg.task == "text2img" else None
    model = build_model(cfg)
    run_config = {"family": cfg.family, **to_dict(cfg)}
    fresh = cfg.data.fresh_handwriting and cfg.task != "text2text"
    trainer = Trainer(
        model, training_tensors(prepared, cfg.task, fresh, cfg.train.seed), cfg.train, out,
        transform=fresh_handwriting(cfg.task, prepared.train_glyphs) if fresh else None,
        eval_fn=make_eval_fn(prepared, cfg.task, cfg, reader), run_config=run_config,
    )
    trainer.fit(resume=resume)
    if not trainer.is_main:
        return None
    run = trainer.run
    save_model(trainer.raw_model, run.root, extra={"task": cfg.task, "spec": asdict(prepared.spec)})

    inputs = test_inputs(prepared, cfg.task, cfg.train.seed)
    test_metrics, predicted, images = score(trainer.raw_model.cpu(), prepared, cfg.task, inputs,
                                            prepared.test.answers, reader)
    if hasattr(trainer.raw_model, "symbol_of"):  # symbols invented from answers: how well do they read digits?
        test_metrics["glyph_reading"] = read_digits(trainer.raw_model, prepared, cfg.train.seed)
    figures.write_all(run, cfg.task, prepared, trainer.history, test_metrics, predicted, inputs, images,
                      trainer.raw_model)
    metrics = {
        "test": test_metrics,
        "train": {"seconds": round(trainer.train_seconds, 2), "examples_per_sec": round(trainer.examples_per_sec, 1),
                  "steps": trainer.step, "resumed_at_step": trainer.resumed_at, "queries": len(prepared.train),
                  "parameters": sum(p.numel() for p in trainer.raw_model.parameters())},
        "data": {"test_queries": len(prepared.test), "mnist": prepared.mnist_source},
    }
    return run.write_results(kind=f"arithmetic/{cfg.task}", config=run_config, metrics=metrics,
                             seed=cfg.train.seed, extra={"title": cfg.title}, runtime=trainer.runtime)


@torch.no_grad()
def read_digits(model, prepared: Prepared, seed: int, batch: int = 2048) -> dict[str, Any]:
    """``metrics.glyph_reading`` on every labelled MNIST test digit (none of them is ever trained on)."""
    model.eval()
    images, labels = prepared.test_digits
    symbols = torch.cat([model.symbol_of(torch.tensor(images[i:i + batch])) for i in range(0, len(images), batch)])
    return glyph_reading(symbols.numpy(), labels, seed)


def load_reader(cfg: RunConfig):
    from latentworks.pipelines.digit_reader import find_or_train_reader

    return find_or_train_reader(cfg.eval.reader, data_dir=cfg.data.data_dir, progress=cfg.train.progress)


# ------------------------------------------------------------------------------------------ predict
def run_info(run_dir: str | Path) -> tuple[str, ArithmeticSpec, dict[str, Any]]:
    info = read_model_info(run_dir)
    task = info.get("task")
    if task not in TASKS:
        raise LatentworksError(f"{run_dir} is a '{info.get('kind')}' run, not an arithmetic run")
    return task, ArithmeticSpec(**info["spec"]), info


def answer(model, task: str, spec: ArithmeticSpec, query: str, *, glyphs: np.ndarray | None = None,
           data_dir: str | None = None, seed: int = 0) -> str | np.ndarray:
    """A loaded model's answer to ``query``: a string, or (text2img) the drawn answer (La, 28, 28) in [0, 1].

    image→text models read ``glyphs`` (L, 28, 28) when given, else the query drawn in MNIST test handwriting.
    """
    i, op, j = parse_query(query, spec)
    x = torch.from_numpy(encode([format_query(i, op, j, spec)], spec))
    if task == "text2text":
        return predict_strings(model, x, spec)[0]
    if task == "img2text":
        if glyphs is not None:
            strip = torch.as_tensor(np.asarray(glyphs))[None]
        else:
            strip = test_sampler(spec, data_dir).render(x, torch.Generator().manual_seed(seed))
        return predict_strings(model, strip, spec)[0]
    return generate_images(model, x, seed=seed)[0].numpy()


def predict(run_dir: str | Path, query: str, *, image: str | Path | None = None, out_png: str | Path | None = None,
            task: str | None = None, data_dir: str | None = None, seed: int = 0) -> str:
    """Answer one query with a trained run; img2text reads ``image`` (or draws the query from MNIST test);
    text2img writes the drawn answer to ``out_png`` (default answer.png) and returns its path."""
    run_task, spec, _ = run_info(run_dir)
    if task is not None and task != run_task:
        raise LatentworksError(f"{run_dir} is a {run_task} run, not {task}; pass a {task} run folder")
    model = load_model(run_dir, expect=TASK_KINDS[run_task])
    glyphs = load_strip_png(image, spec.query_len) if image is not None else None
    result = answer(model, run_task, spec, query, glyphs=glyphs, data_dir=data_dir, seed=seed)
    if isinstance(result, str):
        return result
    from latentworks.report.pictures import save_png

    target = Path(out_png or "answer.png")
    save_png(render_strip((result * 255).round().astype(np.uint8)), target)
    return str(target)


def test_sampler(spec: ArithmeticSpec, data_dir: str | None) -> GlyphSampler:
    mnist = load_mnist("mnist", data_dir=data_dir)
    bank = GlyphBank.from_mnist(mnist.test.images, mnist.test.labels, spec.ops, np.random.default_rng(0),
                                spec.layout)
    return GlyphSampler(bank, spec.charset)


def render_query(query: str, out_png: str | Path, *, spec: ArithmeticSpec | None = None,
                 data_dir: str | None = None, seed: int = 0) -> Path:
    """Draw a query with MNIST test-split digits as a (28, 28*L) PNG strip."""
    from latentworks.report.pictures import save_png

    spec = spec or ArithmeticSpec()
    i, op, j = parse_query(query, spec)
    x = torch.from_numpy(encode([format_query(i, op, j, spec)], spec))
    glyphs = test_sampler(spec, data_dir).render(x, torch.Generator().manual_seed(seed))[0]
    out_png = Path(out_png)
    save_png(render_strip(glyphs.numpy()), out_png)
    return out_png


__all__ = ["answer", "build_model", "predict", "render_query", "train"]
