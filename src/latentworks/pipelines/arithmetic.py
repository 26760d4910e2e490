"""Arithmetic encoder-decoders end to end: data, model, training, held-out scoring, figures, prediction.

Three directions share this pipeline:

* ``text2text``: query characters -> answer characters;
* ``img2text``:  query as MNIST handwriting -> answer characters;
* ``text2img``:  query characters -> answer drawn as 28x28 images, read back by a separately trained reader.

Splits are by query with a fixed split seed, so test queries are never seen in training, and test images are
drawn from MNIST *test-split* digits only.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentworks.config import to_dict, validate
from latentworks.data.arithmetic import ArithmeticSpec, encode, format_query, parse_query
from latentworks.data.glyphs import load_strip_png, render_strip
from latentworks.errors import LatentworksError
from latentworks.folder_lock import owns_run_dirs
from latentworks.metrics.arithmetic import glyph_reading
from latentworks.models.io import load_model, model_class, read_model_info, save_model
from latentworks.pipelines.tasks import (
    Prepared,
    Task,
    generate_images,
    predict_strings,
    prepare,
    task_for,
    test_sampler,
)
from latentworks.pipelines.tasks import task as task_of
from latentworks.recipes.arithmetic import TASKS, RunConfig
from latentworks.runs import claim_run_dir
from latentworks.training.distributed import detect
from latentworks.training.trainer import Trainer, seed_everything


def build_model(cfg: RunConfig) -> torch.nn.Module:
    """The model of a (resolved) run config."""
    return model_class(cfg.kind)(cfg.model)


# ------------------------------------------------------------------------------------------ train
def make_eval_fn(prepared: Prepared, t: Task, cfg: RunConfig, reader=None):
    """Per-epoch curve points on fixed subsets of train and test (the final score uses all of test)."""
    rng = np.random.default_rng(cfg.data.split_seed + 7)
    n, seed = cfg.eval.eval_subset, cfg.train.seed
    test_pick = np.sort(rng.permutation(len(prepared.test))[:n])
    train_pick = np.sort(rng.permutation(len(prepared.train))[:n])
    test_part, train_part = prepared.test.subset(test_pick), prepared.train.subset(train_pick)
    test_in = t.render(torch.from_numpy(test_part.x), prepared.test_glyphs, seed + 11)
    train_in = t.render(torch.from_numpy(train_part.x), prepared.train_glyphs, seed + 12)

    def fn(model, epoch):
        out: dict[str, float] = {}
        for name, inputs, part in (("test", test_in, test_part), ("train", train_in, train_part)):
            if not t.can_score(reader):
                continue
            metrics, _, _ = t.score(model, prepared, inputs, part.answers, reader)
            out[f"{name}_exact_match"] = metrics["exact_match"]
            out[f"{name}_char_accuracy"] = metrics["char_accuracy"]
        return out

    return fn


@owns_run_dirs
def train(cfg: RunConfig, out: str | Path, resume: bool = False, overwrite: bool = False) -> dict[str, Any] | None:
    """Train one model into run folder ``out`` and score it on the held-out queries."""
    validate(cfg)
    if detect().is_main:
        claim_run_dir(out, resume=resume, overwrite=overwrite)
    seed_everything(cfg.train.seed, cfg.train.threads)
    t = task_for(cfg)
    prepared = t.prepare(cfg)
    reader = t.reader(cfg)
    model = build_model(cfg)
    run_config = {"family": cfg.family, **to_dict(cfg)}
    fresh = cfg.data.fresh_handwriting and t.handwriting
    trainer = Trainer(
        model, t.training_tensors(prepared, fresh, cfg.train.seed), cfg.train, out,
        transform=t.fresh_handwriting(prepared.train_glyphs) if fresh else None,
        eval_fn=make_eval_fn(prepared, t, cfg, reader), run_config=run_config,
    )
    trainer.fit(resume=resume)
    if not trainer.is_main:
        return None
    run = trainer.run
    save_model(trainer.raw_model, run.root, extra={"task": cfg.task, "spec": asdict(prepared.spec)})

    inputs = t.test_inputs(prepared, cfg.train.seed)
    test_metrics, predicted, images = t.score(trainer.raw_model.cpu(), prepared, inputs, prepared.test.answers,
                                              reader)
    if hasattr(trainer.raw_model, "symbol_of"):  # symbols invented from answers: how well do they read digits?
        test_metrics["glyph_reading"] = read_digits(trainer.raw_model, prepared, cfg.train.seed)
    t.figures(run, prepared, trainer.history, test_metrics, predicted, inputs, images, trainer.raw_model, reader)
    metrics = {
        "test": test_metrics,
        "train": {"seconds": round(trainer.train_seconds, 2), "examples_per_sec": round(trainer.examples_per_sec, 1),
                  "eval_seconds": round(trainer.eval_seconds, 2),  # of this session's seconds: the per-epoch curves
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


# ------------------------------------------------------------------------------------------ predict
def run_info(run_dir: str | Path) -> tuple[str, ArithmeticSpec, dict[str, Any]]:
    info = read_model_info(run_dir)
    name = info.get("task")
    if name not in TASKS:
        raise LatentworksError(f"{run_dir} is a '{info.get('kind')}' run, not an arithmetic run")
    return name, ArithmeticSpec(**info["spec"]), info


def answer(model, task: str, spec: ArithmeticSpec, query: str, *, glyphs: np.ndarray | None = None,
           data_dir: str | None = None, seed: int = 0) -> str | np.ndarray:
    """A loaded model's answer to ``query``: a string, or (text2img) the drawn answer (La, 28, 28) in [0, 1].

    image→text models read ``glyphs`` (L, 28, 28) when given, else the query drawn in MNIST test handwriting.
    """
    t = task_of(task)
    if glyphs is not None and not t.images_in:
        raise LatentworksError(f"a {task} run reads typed queries, not handwriting; drop the image")
    i, op, j = parse_query(query, spec)
    x = torch.from_numpy(encode([format_query(i, op, j, spec)], spec))
    if t.images_in and glyphs is not None:
        inputs = torch.as_tensor(np.asarray(glyphs))[None]
    else:  # MNIST is loaded only for a task that reads handwriting
        inputs = t.render(x, test_sampler(spec, data_dir) if t.images_in else None, seed)
    return t.respond(model, inputs, spec, seed)


def predict(run_dir: str | Path, query: str, *, image: str | Path | None = None, out_png: str | Path | None = None,
            task: str | None = None, data_dir: str | None = None, seed: int = 0) -> str:
    """Answer one query with a trained run; img2text reads ``image`` (or draws the query from MNIST test);
    text2img writes the drawn answer to ``out_png`` (required) and returns its path."""
    run_task, spec, _ = run_info(run_dir)
    if task is not None and task != run_task:
        raise LatentworksError(f"{run_dir} is a {run_task} run, not {task}; pass a {task} run folder")
    model = load_model(run_dir, expect=task_of(run_task).kinds)
    glyphs = load_strip_png(image, spec.query_len) if image is not None else None
    result = answer(model, run_task, spec, query, glyphs=glyphs, data_dir=data_dir, seed=seed)
    if isinstance(result, str):
        return result
    from latentworks.report.pictures import save_png

    if out_png is None:  # never a file in the working folder that was not asked for
        raise LatentworksError(f"{run_dir} is a text2img run: it draws the answer; name the PNG to write (out_png)")
    target = Path(out_png)
    save_png(render_strip((result * 255).round().astype(np.uint8)), target)
    return str(target)


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


__all__ = ["answer", "build_model", "generate_images", "predict", "predict_strings", "prepare", "read_digits",
           "render_query", "run_info", "test_sampler", "train"]
