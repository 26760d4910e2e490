"""The tasks whose answer is text: from typed queries (text→text) and from handwritten ones (image→text)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from latentworks.pipelines import arithmetic_figures as figs
from latentworks.pipelines.glyph_sampler import GlyphSampler
from latentworks.pipelines.tasks.base import Prepared, Task
from latentworks.runs import RunDir


class TextToText(Task):
    """Query characters → answer characters."""

    name = "text2text"


class ImageToText(Task):
    """The query as MNIST handwriting → answer characters."""

    name = "img2text"
    images_in = True

    def render(self, ids: torch.Tensor, glyphs: GlyphSampler | None, seed: int) -> torch.Tensor:
        return glyphs.render(ids, torch.Generator().manual_seed(seed))

    def training_tensors(self, prepared: Prepared, fresh: bool, seed: int) -> list[torch.Tensor]:
        x, y = torch.from_numpy(prepared.train.x), torch.from_numpy(prepared.train.y)
        # With fresh handwriting the ids go in and the transform draws the pixels; otherwise one fixed drawing.
        return [x if fresh else prepared.train_glyphs.render(x, torch.Generator().manual_seed(seed)), y]

    def fresh_handwriting(self, glyphs: GlyphSampler | None) -> Callable:
        """Batches become (query images, answer ids, query ids): the ids stay for models that learn from them."""
        def draw_queries(batch, gen):
            x_ids, y = batch
            return glyphs.render(x_ids, gen).to(y.device), y, x_ids
        return draw_queries

    def answer_figures(self, run: RunDir, prepared: Prepared, predicted: list[str], inputs: torch.Tensor,
                       images: torch.Tensor | None, wrong: list[int]) -> None:
        figs.misclassified_handwriting(run, prepared.test, predicted, inputs, wrong)
