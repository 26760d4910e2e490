"""What every arithmetic task shares: the prepared queries, running a model on them, and the :class:`Task` hooks.

A task is one direction (text→text, image→text, text→image). The pipeline, the sweep, the study, the explorer
and the API ask the task how its inputs are made, how its answers are read and scored and which figures show
it; none of them compares task names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from latentworks.data.arithmetic import ArithmeticSpec, decode
from latentworks.data.arithmetic_dataset import ArithmeticTextData, build_text_dataset, split_queries
from latentworks.data.glyphs import GlyphBank
from latentworks.data.mnist import load_mnist
from latentworks.metrics.arithmetic import score_answers
from latentworks.pipelines import arithmetic_figures as figs
from latentworks.pipelines.glyph_sampler import GlyphSampler
from latentworks.recipes.arithmetic import MODEL_CONFIGS, TASK_NAMES, RunConfig
from latentworks.runs import RunDir, read_json


@dataclass(frozen=True)
class Measure:
    """A headline measure of a task: its human name, its key in ``results.json``'s ``test``, which way is
    better, and how it is shown (``pct``, ``num``: :mod:`latentworks.report.names` formats)."""

    name: str
    key: str
    direction: str  # "higher" or "lower" is better
    unit: str


ANSWER_MEASURES = (Measure("exact match", "exact_match", "higher", "pct"),
                   Measure("per-character accuracy", "char_accuracy", "higher", "pct"),
                   Measure("mean |error|", "abs_error", "lower", "num"))


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


def test_sampler(spec: ArithmeticSpec, data_dir: str | None) -> GlyphSampler:
    """MNIST test-split handwriting for ``spec``'s characters (one fixed bank)."""
    mnist = load_mnist("mnist", data_dir=data_dir)
    bank = GlyphBank.from_mnist(mnist.test.images, mnist.test.labels, spec.ops, np.random.default_rng(0),
                                spec.layout)
    return GlyphSampler(bank, spec.charset)


# ------------------------------------------------------------------------------------------ running a model
@torch.no_grad()
def predict_strings(model, inputs: torch.Tensor, spec: ArithmeticSpec, batch: int = 1024) -> list[str]:
    model.eval()
    device = next(model.parameters()).device
    out = [model.predict(inputs[i:i + batch].to(device)).cpu() for i in range(0, len(inputs), batch)]
    return decode(torch.cat(out).numpy(), spec)


def generated_batches(model, x: torch.Tensor, batch: int = 128, seed: int = 0) -> Iterator[torch.Tensor]:
    """Drawn answers (≤ batch, La, 28, 28) in [0, 1], a batch of queries at a time; a pen with a style code draws
    its styles from one generator seeded with ``seed``, so the batches join into :func:`generate_images` (and,
    the style noise being drawn in the same order, the drawings are the same for any even batch). 128 queries:
    at 512 the pen's 28×28 feature maps for 1,536 glyphs took 0.5 GB at once."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    for i in range(0, len(x), batch):
        with torch.no_grad():
            yield model.generate(x[i:i + batch].to(device), generator=gen).cpu()


def generate_images(model, x: torch.Tensor, batch: int = 128, seed: int = 0) -> torch.Tensor:
    """Drawn answers (N, La, 28, 28) in [0, 1]; a pen with a style code draws its styles from ``seed``."""
    return torch.cat(list(generated_batches(model, x, batch, seed)))


Scored = tuple[dict[str, Any], list[str], torch.Tensor | None]


# ------------------------------------------------------------------------------------------ the task
class Task:
    """One direction. Subclasses override the hooks whose answer differs; the defaults are text in, text out."""

    name: ClassVar[str]
    images_in: ClassVar[bool] = False  # the query is handwriting
    images_out: ClassVar[bool] = False  # the answer is drawn
    scored_by: ClassVar[str] = "the answer text"  # ``test.scored_by`` in results.json
    measures: ClassVar[tuple[Measure, ...]] = ANSWER_MEASURES

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    @property
    def title(self) -> str:
        """The direction as a reader says it (text→image)."""
        return TASK_NAMES[self.name]

    @property
    def handwriting(self) -> bool:
        """Whether the task draws or reads MNIST handwriting (and so loads MNIST)."""
        return self.images_in or self.images_out

    @property
    def headline(self) -> Measure:
        return self.measures[0]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The model kinds (``models/io.py``) this task's recipes train."""
        return tuple(dict.fromkeys(kind for (t, _), (kind, _, _) in MODEL_CONFIGS.items() if t == self.name))

    # -------------------------------------------------------------------------------- inputs
    def prepare(self, cfg: RunConfig) -> Prepared:
        """The split queries and, for a task that draws or reads handwriting, MNIST glyphs for each split."""
        spec = cfg.data.spec()
        data = build_text_dataset(spec)
        train_idx, test_idx = split_queries(len(data), cfg.data.train_fraction, cfg.data.split_seed)
        prepared = Prepared(spec, data.subset(train_idx), data.subset(test_idx))
        if self.handwriting:
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

    def render(self, ids: torch.Tensor, glyphs: GlyphSampler | None, seed: int) -> torch.Tensor:
        """Queries as the model sees them: ``ids`` (N, Lq), or for a handwriting reader the ids written with
        ``glyphs`` drawn from ``seed``."""
        return ids

    def test_inputs(self, prepared: Prepared, seed: int) -> torch.Tensor:
        """The held-out inputs, drawn once with a fixed seed."""
        return self.render(torch.from_numpy(prepared.test.x), prepared.test_glyphs, seed + 1)

    def training_tensors(self, prepared: Prepared, fresh: bool, seed: int) -> list[torch.Tensor]:
        return [torch.from_numpy(prepared.train.x), torch.from_numpy(prepared.train.y)]

    def fresh_handwriting(self, glyphs: GlyphSampler | None) -> Callable | None:
        """A trainer transform that draws new MNIST-train handwriting for every batch (None: nothing to draw)."""
        return None

    # -------------------------------------------------------------------------------- answers
    def reader(self, cfg: RunConfig) -> Any:
        """What reads this task's answers for scoring besides the model itself (None: the model's text)."""
        return None

    def can_score(self, reader: Any) -> bool:
        return True

    def score(self, model, prepared: Prepared, inputs: torch.Tensor, expected: list[str], reader: Any = None) -> Scored:
        """Scores on held-out queries (every task the same keys, and ``scored_by``), the predicted strings, and
        the drawn answers where the task draws."""
        predicted = predict_strings(model, inputs, prepared.spec)
        return {**score_answers(predicted, expected).as_dict(), "scored_by": self.scored_by}, predicted, None

    def respond(self, model, inputs: torch.Tensor, spec: ArithmeticSpec, seed: int = 0) -> str | np.ndarray:
        """The answer to one query (``inputs`` of one row): a string, or the drawn answer (La, 28, 28)."""
        return predict_strings(model, inputs, spec)[0]

    # -------------------------------------------------------------------------------- figures
    def figures(self, run: RunDir, prepared: Prepared, history: list[dict[str, Any]], test_metrics: dict[str, Any],
                predicted: list[str], inputs: torch.Tensor, images: torch.Tensor | None, model=None,
                reader: Any = None) -> None:
        subset = (read_json(run.config_path).get("eval") or {}).get("eval_subset")
        figs.curves(run, history, self.title, subset if subset and subset < len(prepared.test) else None)
        self.model_figures(run, prepared, inputs, model, reader)
        figs.error_sizes(run, test_metrics.get("error_histogram"), self.title)
        wrong = figs.wrong_picks(predicted, prepared.test.answers)
        self.answer_figures(run, prepared, predicted, inputs, images, wrong)

    def model_figures(self, run: RunDir, prepared: Prepared, inputs: torch.Tensor, model, reader: Any = None) -> None:
        """Figures of what the trained model can do beyond its scores (none by default); ``reader`` is what
        scored it (:meth:`reader`), to mark what it reads differently."""

    def answer_figures(self, run: RunDir, prepared: Prepared, predicted: list[str], inputs: torch.Tensor,
                       images: torch.Tensor | None, wrong: list[int]) -> None:
        figs.misclassified_text(run, prepared.test, predicted, wrong)
