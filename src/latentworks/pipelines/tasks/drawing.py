"""text→image: the answer drawn as 28x28 digits, scored by reading it back with a separately trained digit reader
(never a loss), so its scores have the same keys as the text tasks' and say ``scored_by`` the read-back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from latentworks.data.arithmetic import ArithmeticSpec
from latentworks.metrics.arithmetic import score_answers
from latentworks.pipelines import arithmetic_figures as figs
from latentworks.pipelines.digit_reader import find_or_train_reader, read_glyphs
from latentworks.pipelines.glyph_sampler import GlyphSampler
from latentworks.pipelines.tasks.base import Prepared, Scored, Task, generate_images, generated_batches
from latentworks.recipes.arithmetic import RunConfig
from latentworks.runs import RunDir


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


class TextToImage(Task):
    """Query characters → the answer drawn as images."""

    name = "text2img"
    images_out = True
    scored_by = "digit reader read-back"

    def training_tensors(self, prepared: Prepared, fresh: bool, seed: int) -> list[torch.Tensor]:
        y = torch.from_numpy(prepared.train.y)
        return [torch.from_numpy(prepared.train.x), y,
                prepared.train_glyphs.render(y, torch.Generator().manual_seed(seed))]

    def fresh_handwriting(self, glyphs: GlyphSampler | None) -> Callable:
        """Batches become (query ids, answer ids, answer images drawn anew)."""
        def draw_answers(batch, gen):
            x, y, _ = batch
            return x, y, glyphs.render(y, gen).to(y.device)
        return draw_answers

    def reader(self, cfg: RunConfig) -> Any:
        return find_or_train_reader(cfg.eval.reader, data_dir=cfg.data.data_dir, progress=cfg.train.progress)

    def can_score(self, reader: Any) -> bool:
        return reader is not None

    def score(self, model, prepared: Prepared, inputs: torch.Tensor, expected: list[str], reader: Any = None) -> Scored:
        """Scores, the answers read back and the drawings as uint8 (what a PNG of them holds: 15,000 answers
        kept as floats took 0.6 GB), each batch read as it is drawn."""
        if reader is None:  # drawn, but nothing to read them with
            return {"mse": None}, [], to_uint8(generate_images(model, inputs))
        predicted: list[str] = []
        kept = []
        for images in generated_batches(model, inputs):
            predicted += read_glyphs(reader, images, prepared.spec.charset)
            kept.append(to_uint8(images))
        return ({**score_answers(predicted, expected).as_dict(), "scored_by": self.scored_by}, predicted,
                torch.cat(kept) if kept else torch.zeros(0, prepared.spec.answer_len, 28, 28, dtype=torch.uint8))

    def respond(self, model, inputs: torch.Tensor, spec: ArithmeticSpec, seed: int = 0) -> np.ndarray:
        return generate_images(model, inputs, seed=seed)[0].numpy()

    def model_figures(self, run: RunDir, prepared: Prepared, inputs: torch.Tensor, model, reader: Any = None) -> None:
        if getattr(getattr(model, "config", None), "style_dim", 0):  # a pen with a style code: several hands
            read = None if reader is None else (lambda images: read_glyphs(reader, images, prepared.spec.charset))
            figs.several_hands(run.figures / "several_hands.png",
                               lambda x, seed: generate_images(model, x, seed=seed), prepared.test, inputs, read=read)

    def answer_figures(self, run: RunDir, prepared: Prepared, predicted: list[str], inputs: torch.Tensor,
                       images: torch.Tensor | None, wrong: list[int]) -> None:
        if images is not None:
            figs.generated_vs_real(run, prepared, predicted, images, wrong)
