"""Arithmetic encoder-decoders end to end: data, model, training, held-out scoring, figures, prediction.

Three directions share this pipeline:

* ``text2text``: query characters -> answer characters;
* ``img2text``:  query as MNIST handwriting -> answer characters;
* ``text2img``:  query characters -> answer drawn as 28x28 images, read back by a separately trained reader.

Splits are by query with a fixed split seed, so test queries are never seen in training, and test images are
drawn from MNIST *test-split* digits only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from latentworks.data.arithmetic import (
    ArithmeticSpec,
    ArithmeticTextData,
    build_text_dataset,
    decode,
    encode,
    format_answer,
    format_query,
    parse_query,
    split_queries,
)
from latentworks.data.glyphs import GlyphBank, load_strip_png, render_strip
from latentworks.data.mnist import load_mnist
from latentworks.errors import LatentworksError
from latentworks.metrics.arithmetic import score_answers
from latentworks.models.io import load_model, read_model_info, save_model
from latentworks.pipelines import arithmetic_figures as figures
from latentworks.pipelines.glyph_sampler import GlyphSampler
from latentworks.runs import RunDir, read_json
from latentworks.training.distributed import is_main_process
from latentworks.training.trainer import TrainConfig, Trainer, seed_everything

PRESETS = {"text2text": ("notebook", "attention", "best"), "img2text": ("notebook", "best"),
           "text2img": ("notebook", "best")}
TASKS = tuple(PRESETS)
TASK_KINDS = {"text2text": ("text2text", "text2text_aligned"), "img2text": ("img2text", "img2text_read"),
              "text2img": ("text2img", "text2img_draw")}
EVAL_SUBSET = 1000  # queries scored after every epoch for the curves; the final score uses the whole test split


@dataclass
class ArithmeticConfig:
    task: str = "text2text"
    train_fraction: float = 0.5
    preset: str = "best"
    max_int: int = 99
    ops: str = "+-"
    layout: str = "v23"
    seed: int = 0
    split_seed: int = 0  # fixed apart from the training seed, so seeds are compared on the same queries
    data_dir: str | None = None
    device: str = "auto"
    # Overrides of the preset; None keeps the preset's value.
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    cell: str | None = None
    hidden: int | None = None
    encoder_layers: int | None = None
    encoder: str | None = None  # img2text: cnn | convlstm | flatten
    loss: str | None = None  # text2img: bce | mse
    reader: str | None = None  # text2img: folder of a trained digit reader
    progress: bool = True

    def spec(self) -> ArithmeticSpec:
        return ArithmeticSpec(max_int=self.max_int, ops=self.ops, layout=self.layout)


# ------------------------------------------------------------------------------------------ models
def build_model(cfg: ArithmeticConfig, spec: ArithmeticSpec,
                n_train: int | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The preset's model and training settings, with the user's overrides applied.

    ``n_train`` (training queries) turns a preset counted in optimizer steps into epochs.
    """
    if cfg.task not in TASKS:
        raise LatentworksError(f"unknown task '{cfg.task}'; choose {', '.join(TASKS)}")
    if cfg.preset not in PRESETS[cfg.task]:
        raise LatentworksError(f"the {cfg.task} task has no preset '{cfg.preset}'; choose "
                               f"{', '.join(PRESETS[cfg.task])}")
    args = (cfg.preset, spec.vocab_size, spec.query_len, spec.answer_len)
    if cfg.task == "text2text" and cfg.preset == "best":
        from latentworks.models.aligned import AlignedTextToText, aligned_preset

        model_cfg, settings = aligned_preset(spec.charset, spec.query_len, spec.answer_len, spec.layout)
        cls = AlignedTextToText
    elif cfg.task == "text2text":
        from latentworks.models.seq2seq import TextToText, text2text_preset

        model_cfg, settings = text2text_preset(*args, train_size=n_train)
        cls = TextToText
    elif cfg.task == "img2text" and cfg.preset == "best":
        from latentworks.models.img2text import ReadThenCompute, read_compute_preset

        model_cfg, settings = read_compute_preset(spec.charset, spec.query_len, spec.answer_len, spec.layout)
        cls = ReadThenCompute
    elif cfg.task == "img2text":
        from latentworks.models.img2text import ImageToText, img2text_preset

        model_cfg, settings = img2text_preset(*args)
        cls = ImageToText
    elif cfg.task == "text2img" and cfg.preset == "best":
        from latentworks.models.compute_draw import ComputeThenDraw, compute_draw_preset

        model_cfg, settings = compute_draw_preset(spec.charset, spec.query_len, spec.answer_len, spec.layout)
        if cfg.loss:
            model_cfg = dataclasses.replace(model_cfg, loss=cfg.loss)
        cls = ComputeThenDraw
    else:  # text2img notebook
        from latentworks.models.text2img import TextToImage, text2img_preset

        model_cfg, settings = text2img_preset(*args)
        cls = TextToImage
    overrides = {"cell": cfg.cell, "hidden": cfg.hidden, "enc_layers": cfg.encoder_layers,
                 "encoder": cfg.encoder}
    names = {f.name for f in dataclasses.fields(model_cfg)}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in names:
            flag = {"enc_layers": "encoder-layers"}.get(key, key)
            raise LatentworksError(f"--{flag} does not apply to the {cfg.task} model")
        model_cfg = dataclasses.replace(model_cfg, **{key: value})
    for key in ("epochs", "batch_size", "lr", "loss"):
        if getattr(cfg, key) is not None:
            settings[key] = getattr(cfg, key)
    return cls(model_cfg), settings


def train_config(settings: dict[str, Any], cfg: ArithmeticConfig) -> TrainConfig:
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    known = {k: v for k, v in settings.items() if k in fields}
    return TrainConfig(**known, seed=cfg.seed, device=cfg.device, progress=cfg.progress)


# ------------------------------------------------------------------------------------------ data
@dataclass
class Prepared:
    spec: ArithmeticSpec
    train: ArithmeticTextData
    test: ArithmeticTextData
    train_glyphs: GlyphSampler | None = None
    test_glyphs: GlyphSampler | None = None
    mnist_source: str | None = None


def prepare(cfg: ArithmeticConfig) -> Prepared:
    spec = cfg.spec()
    data = build_text_dataset(spec)
    train_idx, test_idx = split_queries(len(data), cfg.train_fraction, cfg.split_seed)
    prepared = Prepared(spec, data.subset(train_idx), data.subset(test_idx))
    if cfg.task in ("img2text", "text2img"):
        mnist = load_mnist("mnist", data_dir=cfg.data_dir)
        rng = np.random.default_rng(cfg.seed)
        # Train queries are written with train-split digits, test queries with test-split digits only.
        prepared.train_glyphs = GlyphSampler(GlyphBank.from_mnist(mnist.train.images, mnist.train.labels,
                                                                  spec.ops, rng, spec.layout), spec.charset)
        prepared.test_glyphs = GlyphSampler(GlyphBank.from_mnist(mnist.test.images, mnist.test.labels,
                                                                 spec.ops, rng, spec.layout), spec.charset)
        prepared.mnist_source = mnist.source
    return prepared


def test_inputs(prepared: Prepared, task: str, seed: int) -> torch.Tensor:
    """The held-out inputs as the model sees them: ids, or handwriting drawn once with a fixed seed."""
    x = torch.from_numpy(prepared.test.x)
    if task == "img2text":
        return prepared.test_glyphs.render(x, torch.Generator().manual_seed(seed + 1))
    return x


# ------------------------------------------------------------------------------------------ losses
def make_loss(task: str, settings: dict[str, Any], train_glyphs: GlyphSampler | None):
    smoothing = float(settings.get("label_smoothing", 0.0))

    def text_loss(model, batch):
        core = getattr(model, "module", model)
        if getattr(core, "loss_in_forward", False):
            # Models with more than one target score themselves; calling the (DDP) wrapper keeps gradients synced.
            return model(*batch)
        x, y = batch[:2]
        logits = model(x, y)
        # Models that emit answers in their own order (units first) say how to map the targets.
        target = core.targets(y) if hasattr(core, "targets") else y
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                               label_smoothing=smoothing)

    def image_loss(model, batch):
        core = getattr(model, "module", model)
        if getattr(core, "loss_in_forward", False):
            return model(*batch)
        x, y, y_img = batch
        if model is core:  # the course-style model, with its optional answer-character head
            from latentworks.models.text2img import text2img_loss

            return text2img_loss(core, x, y, y_img, settings.get("loss", "bce"))
        logits = model(x)  # under DDP only the wrapper's forward keeps gradients in sync
        target = y_img.float() / 255.0
        if settings.get("loss", "bce") == "bce":
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(torch.sigmoid(logits), target)

    return image_loss if task == "text2img" else text_loss


def make_batch_fn(task: str, settings: dict[str, Any], glyphs: GlyphSampler | None):
    """img2text / text2img draw fresh handwriting for every batch when the preset asks for it."""
    if task == "text2text" or glyphs is None:
        return None
    fresh = settings.get("fresh_handwriting", False)
    if task == "img2text" and fresh:
        def fn(batch, gen):
            x_ids, y = batch
            return glyphs.render(x_ids, gen).to(y.device), y, x_ids
        return fn
    if task == "text2img" and fresh:
        def fn(batch, gen):
            x, y, _ = batch
            return x, y, glyphs.render(y, gen).to(y.device)
        return fn
    return None


def training_tensors(prepared: Prepared, task: str, settings: dict[str, Any], seed: int) -> list[torch.Tensor]:
    x = torch.from_numpy(prepared.train.x)
    y = torch.from_numpy(prepared.train.y)
    gen = torch.Generator().manual_seed(seed)
    if task == "img2text":
        # With fresh handwriting the ids go in and batch_fn draws the pixels; otherwise one fixed drawing.
        return [x if settings.get("fresh_handwriting") else prepared.train_glyphs.render(x, gen), y]
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
def generate_images(model, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.generate(x[i:i + batch].to(device)).cpu() for i in range(0, len(x), batch)])


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


def make_eval_fn(prepared: Prepared, task: str, cfg: ArithmeticConfig, reader=None):
    """Per-epoch curve points on fixed subsets of train and test (the final score uses all of test)."""
    rng = np.random.default_rng(cfg.split_seed + 7)
    test_pick = np.sort(rng.permutation(len(prepared.test))[:EVAL_SUBSET])
    train_pick = np.sort(rng.permutation(len(prepared.train))[:EVAL_SUBSET])
    test_part, train_part = prepared.test.subset(test_pick), prepared.train.subset(train_pick)
    test_in = torch.from_numpy(test_part.x)
    train_in = torch.from_numpy(train_part.x)
    if task == "img2text":
        test_in = prepared.test_glyphs.render(test_in, torch.Generator().manual_seed(cfg.seed + 11))
        train_in = prepared.train_glyphs.render(train_in, torch.Generator().manual_seed(cfg.seed + 12))

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
def train(cfg: ArithmeticConfig, out: str | Path, resume: bool = False) -> dict[str, Any] | None:
    """Train one model into run folder ``out`` and score it on the held-out queries."""
    if cfg.task not in TASKS:
        raise LatentworksError(f"unknown task '{cfg.task}'; choose {', '.join(TASKS)}")
    seed_everything(cfg.seed)
    prepared = prepare(cfg)
    reader = load_reader(cfg) if cfg.task == "text2img" else None
    model, settings = build_model(cfg, prepared.spec, len(prepared.train))
    tcfg = train_config(settings, cfg)
    run_config = {"arithmetic": dataclasses.asdict(cfg), "settings": settings, "kind": model.kind,
                  "spec": dataclasses.asdict(prepared.spec)}
    trainer = Trainer(
        model, training_tensors(prepared, cfg.task, settings, cfg.seed), tcfg, out,
        loss_fn=make_loss(cfg.task, settings, prepared.train_glyphs),
        eval_fn=make_eval_fn(prepared, cfg.task, cfg, reader),
        batch_fn=make_batch_fn(cfg.task, settings, prepared.train_glyphs),
        run_config=run_config,
    )
    trainer.fit(resume=resume)
    if not trainer.is_main:
        return None
    run = trainer.run
    save_model(trainer.raw_model, run.root, extra={"task": cfg.task, "spec": dataclasses.asdict(prepared.spec)})

    inputs = test_inputs(prepared, cfg.task, cfg.seed)
    test_metrics, predicted, images = score(trainer.raw_model.cpu(), prepared, cfg.task, inputs,
                                            prepared.test.answers, reader)
    figures.write_all(run, cfg.task, prepared, trainer.history, test_metrics, predicted, inputs, images)
    metrics = {
        "test": test_metrics,
        "train": {"seconds": round(trainer.train_seconds, 2), "examples_per_sec": round(trainer.examples_per_sec, 1),
                  "steps": trainer.step, "queries": len(prepared.train),
                  "parameters": sum(p.numel() for p in trainer.raw_model.parameters())},
        "data": {"test_queries": len(prepared.test), "mnist": prepared.mnist_source},
    }
    title = f"{cfg.task} · preset {cfg.preset} · {cfg.train_fraction:g} train"
    return run.write_results(kind=f"arithmetic/{cfg.task}", config=run_config, metrics=metrics, seed=cfg.seed,
                             extra={"title": title})


def load_reader(cfg: ArithmeticConfig):
    from latentworks.pipelines.digit_reader import find_or_train_reader

    return find_or_train_reader(cfg.reader, data_dir=cfg.data_dir, progress=cfg.progress)


# ------------------------------------------------------------------------------------------ predict
def run_info(run_dir: str | Path) -> tuple[str, ArithmeticSpec, dict[str, Any]]:
    info = read_model_info(run_dir)
    task = info.get("task")
    if task not in TASKS:
        raise LatentworksError(f"{run_dir} is a '{info.get('kind')}' run, not an arithmetic run")
    return task, ArithmeticSpec(**info["spec"]), info


def predict(run_dir: str | Path, query: str, *, image: str | Path | None = None, out_png: str | Path | None = None,
            task: str | None = None, data_dir: str | None = None, seed: int = 0) -> str:
    """Answer one query with a trained run; img2text reads ``image`` (or draws the query from MNIST test)."""
    run_task, spec, _ = run_info(run_dir)
    if task is not None and task != run_task:
        raise LatentworksError(f"{run_dir} is a {run_task} run, not {task}; pass a {task} run folder")
    model = load_model(run_dir, expect=TASK_KINDS[run_task])
    i, op, j = parse_query(query, spec)
    text = format_query(i, op, j, spec)
    x = torch.from_numpy(encode([text], spec))
    if run_task == "text2text":
        return predict_strings(model, x, spec)[0]
    if run_task == "img2text":
        if image is not None:
            glyphs = torch.from_numpy(load_strip_png(image, spec.query_len))[None]
        else:
            glyphs = test_sampler(spec, data_dir).render(x, torch.Generator().manual_seed(seed))
        return predict_strings(model, glyphs, spec)[0]
    images = generate_images(model, x)[0]
    from PIL import Image

    strip = render_strip((images.numpy() * 255).round().astype(np.uint8))
    target = Path(out_png or "answer.png")
    Image.fromarray(strip).save(target)
    return str(target)


def test_sampler(spec: ArithmeticSpec, data_dir: str | None) -> GlyphSampler:
    mnist = load_mnist("mnist", data_dir=data_dir)
    bank = GlyphBank.from_mnist(mnist.test.images, mnist.test.labels, spec.ops, np.random.default_rng(0),
                                spec.layout)
    return GlyphSampler(bank, spec.charset)


def render_query(query: str, out_png: str | Path, *, spec: ArithmeticSpec | None = None,
                 data_dir: str | None = None, seed: int = 0) -> Path:
    """Draw a query with MNIST test-split digits as a (28, 28*L) PNG strip."""
    from PIL import Image

    spec = spec or ArithmeticSpec()
    i, op, j = parse_query(query, spec)
    x = torch.from_numpy(encode([format_query(i, op, j, spec)], spec))
    glyphs = test_sampler(spec, data_dir).render(x, torch.Generator().manual_seed(seed))[0]
    out_png = Path(out_png)
    Image.fromarray(render_strip(glyphs.numpy())).save(out_png)
    return out_png


def answer_for(query: str, spec: ArithmeticSpec) -> str:
    i, op, j = parse_query(query, spec)
    from latentworks.data.arithmetic import evaluate

    return format_answer(evaluate(i, op, j), spec)


def read_results(run_dir: str | Path) -> dict[str, Any]:
    return read_json(Path(run_dir) / "results.json")


def is_main() -> bool:
    return is_main_process()


__all__ = ["ArithmeticConfig", "RunDir", "predict", "render_query", "train"]
