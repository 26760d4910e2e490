"""Arithmetic runs (text→text, image→text, text→image): the run config tree and its named recipes.

``recipe("columns", task="text2text")`` is a complete :class:`RunConfig`. Each recipe is named for what it is:

* ``course``: the course's models and settings for each direction (one-hot input → LSTM 256 → repeat →
  LSTM 256 → per-step softmax for text; a per-step CNN in front for images; a per-step deconv pen behind for
  text→image), Keras initialisers, Adam 1e-3;
* ``attention`` (text→text): the strongest generic encoder-decoder found by ``benchmarks/text2text_search.py``:
  embeddings, a bidirectional LSTM, 16 small attention heads whose values are the raw input characters,
  answers emitted units-first; AdamW with strong weight decay for 6,000 steps;
* ``columns`` (text→text): the column-aligned encoder-decoder (``models/aligned.py``);
* ``columns-long`` (text→text): ``columns`` trained on batches widened by leading zero columns;
* ``columns-multiply`` (text→text): ``columns`` whose columns also see the digit pairs that meet there;
* ``automaton`` (text→text): discrete carries and the same function at every column
  (``models/column_automaton.py``): adds numbers of any length after two-digit training, and subtracts them
  as the inverse of its own learned addition;
* ``long-multiply`` (text→text, ``*`` only): long multiplication as two tables (a digit pair's two digits, two
  digits' sum) in the lattice layout, learned from the answers (``models/long_multiply.py``): multiplies numbers
  of any length after two-digit training;
* ``glyph-columns`` (image→text): a glyph CNN told each training glyph's character, in front of ``columns``
  (``models/img2text.py``); ``glyph-answers``: a glyph CNN that learns from the answers alone, in front of the
  ``attention`` core (``models/answers_reader.py``);
* ``mnist-addition`` (image→text): MNIST-addition's own protocol (fixed examples of 2N MNIST images labelled with
  their sum only, ``data/mnist_addition.py``; ``latentworks arithmetic mnist-addition``): a glyph CNN in front of a
  learned column transducer, one (symbol, symbol, carry) table at every column (``models/column_transducer.py``);
* ``pen`` (text→image): ``columns`` computes the answer, a transposed-conv pen with a style code draws it
  (``models/compute_draw.py``);
* ``default``: each task's measured best (:func:`chosen_recipe`, docs/arithmetic.md "Which recipe is `default`").

The old names (``best``, ``notebook``, ``long``, ``multiply``, ``answers``) still work until 0.4; each prints one
line saying which recipe it now means. Each recipe's settings, what it learns from, each task's default and the old
names are the table in :mod:`latentworks.recipes.arithmetic_table`; this module is the run config tree they fill
and the functions that resolve a name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from latentworks.config import ConfigError, flag_alias, from_dict, override, require
from latentworks.data.arithmetic import normalize_op
from latentworks.data.arithmetic_dataset import ArithmeticData
from latentworks.data.mnist_addition import MnistAdditionData
from latentworks.models.aligned import AlignedConfig
from latentworks.models.answers_reader import AnswersReaderConfig
from latentworks.models.arithmetic_shape import nest_shape
from latentworks.models.column_automaton import ColumnAutomatonConfig
from latentworks.models.column_transducer import ColumnTransducerConfig
from latentworks.models.compute_draw import ComputeDrawConfig
from latentworks.models.img2text import ImageToTextConfig, ReadComputeConfig
from latentworks.models.long_multiply import LongMultiplyConfig
from latentworks.models.seq2seq import TextToTextConfig
from latentworks.models.text2img import TextToImage
from latentworks.recipes.arithmetic_table import CANNOT_MULTIPLY, DEFAULTS, OLD_NAMES, RECIPES, TASKS
from latentworks.training.config import TrainConfig

TASK_NAMES = {"text2text": "text→text", "img2text": "image→text", "text2img": "text→image"}  # as a reader says them


@dataclass
class ArithmeticEval:
    """The ``eval`` section."""

    eval_subset: int = 1000  # held-out (and training) queries scored after every epoch for the curves
    reader: str | None = None  # text→image: folder of a trained digit reader (default: the packaged one)

    def check(self) -> None:
        require(self.eval_subset >= 1, "eval_subset", self.eval_subset, "must be at least 1")


@dataclass
class RunConfig:
    """One arithmetic run: which direction and model, on which queries, trained how."""

    family: ClassVar[str] = "arithmetic"
    task: Literal["text2text", "img2text", "text2img"] = "text2text"  # the direction
    # default (each task's measured best); text→text: course, attention, columns, columns-long, columns-multiply,
    # automaton, long-multiply ('*' only); image→text: course, glyph-columns, glyph-answers, mnist-addition
    # (`arithmetic mnist-addition`); text→image: course, pen
    recipe: Annotated[str, flag_alias("--preset")] = "columns"
    # Image→text only: what the model may learn from besides the strip's pixels. 'answers': the answer strings
    # alone (course, glyph-answers); 'query': also the text each training strip was drawn from (glyph-columns).
    # ``default`` with 'answers' is glyph-answers. Unset, the recipe's own (see arithmetic_table.SUPERVISION).
    supervision: Literal["answers", "query"] | None = None
    data: ArithmeticData = field(default_factory=ArithmeticData)  # the queries: operands, operators, split
    model: Any = None  # the model's own Config (one class per task and recipe, see MODEL_CONFIGS)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: ArithmeticEval = field(default_factory=ArithmeticEval)

    def check(self) -> None:
        require(self.task in TASKS, "task", self.task, f"must be one of {', '.join(TASKS)}")
        require((self.task, self.recipe) in MODEL_CONFIGS, "preset", self.recipe,
                f"is not a {self.task} recipe; choose {', '.join(recipe_names(self.task))}")
        require(type(self.model) is MODEL_CONFIGS[(self.task, self.recipe)][1], "preset", self.recipe,
                "does not match the model section of this config")
        require(self.eval.reader is None or self.task == "text2img", "reader", self.eval.reader,
                "only applies to text2img runs")
        require(not self.data.fresh_handwriting or self.task != "text2text", "fresh_handwriting", True,
                "only applies to image tasks")
        if self.task != "img2text":
            require(self.supervision is None, "supervision", self.supervision, "only applies to img2text runs")
        elif self.supervision is not None:
            own = recipe_supervision(self.task, self.recipe)
            require(self.supervision == own, "supervision", self.supervision,
                    f"contradicts the {self.recipe} recipe, which learns from {_LEARNS[own]}; use --preset "
                    f"{'glyph-answers (or course)' if self.supervision == 'answers' else 'glyph-columns'}")

    @property
    def kind(self) -> str:
        """The model kind (``models/io.py``) this task and recipe train."""
        return MODEL_CONFIGS[(self.task, self.recipe)][0]

    @property
    def title(self) -> str:
        return f"{TASK_NAMES[self.task]}, {self.recipe} recipe, {self.data.train_fraction:.0%} of queries for training"


# Concrete trees, so the command line shows exactly the chosen model's options.
@dataclass
class TextToTextRun(RunConfig):
    model: TextToTextConfig = field(default_factory=TextToTextConfig)


@dataclass
class AlignedRun(RunConfig):
    model: AlignedConfig = field(default_factory=AlignedConfig)


@dataclass
class AutomatonRun(RunConfig):
    model: ColumnAutomatonConfig = field(default_factory=ColumnAutomatonConfig)


@dataclass
class LongMultiplyRun(RunConfig):
    model: LongMultiplyConfig = field(default_factory=LongMultiplyConfig)


@dataclass
class ImageToTextRun(RunConfig):
    model: ImageToTextConfig = field(default_factory=ImageToTextConfig)


@dataclass
class ReadComputeRun(RunConfig):
    model: ReadComputeConfig = field(default_factory=ReadComputeConfig)


@dataclass
class AnswersReaderRun(RunConfig):
    model: AnswersReaderConfig = field(default_factory=AnswersReaderConfig)


@dataclass
class MnistAdditionRun(RunConfig):
    """MNIST-addition on its own protocol (``data/mnist_addition.py``): the column transducer on fixed examples."""

    data: MnistAdditionData = field(default_factory=MnistAdditionData)
    model: ColumnTransducerConfig = field(default_factory=ColumnTransducerConfig)

    @property
    def title(self) -> str:
        return f"MNIST-addition on its own protocol, N = {self.data.number_length}, seed {self.train.seed}"


@dataclass
class TextToImageRun(RunConfig):
    model: TextToImage.Config = field(default_factory=TextToImage.Config)


@dataclass
class ComputeDrawRun(RunConfig):
    model: ComputeDrawConfig = field(default_factory=ComputeDrawConfig)


#: (task, recipe) -> (model kind, model config class, run config class)
MODEL_CONFIGS: dict[tuple[str, str], tuple[str, type, type[RunConfig]]] = {
    ("text2text", "course"): ("text2text", TextToTextConfig, TextToTextRun),
    ("text2text", "attention"): ("text2text", TextToTextConfig, TextToTextRun),
    ("text2text", "columns"): ("text2text_aligned", AlignedConfig, AlignedRun),
    ("text2text", "columns-long"): ("text2text_aligned", AlignedConfig, AlignedRun),
    ("text2text", "columns-multiply"): ("text2text_aligned", AlignedConfig, AlignedRun),
    ("text2text", "automaton"): ("text2text_automaton", ColumnAutomatonConfig, AutomatonRun),
    ("text2text", "long-multiply"): ("text2text_long_multiply", LongMultiplyConfig, LongMultiplyRun),
    ("img2text", "course"): ("img2text", ImageToTextConfig, ImageToTextRun),
    ("img2text", "glyph-columns"): ("img2text_read", ReadComputeConfig, ReadComputeRun),
    ("img2text", "glyph-answers"): ("img2text_answers", AnswersReaderConfig, AnswersReaderRun),
    ("img2text", "mnist-addition"): ("img2text_transducer", ColumnTransducerConfig, MnistAdditionRun),
    ("text2img", "course"): ("text2img", TextToImage.Config, TextToImageRun),
    ("text2img", "pen"): ("text2img_draw", ComputeDrawConfig, ComputeDrawRun),
}

_LEARNS = {"answers": "the answers alone", "query": "the query text too"}


def recipe_names(task: str | None = None) -> list[str]:
    return list(dict.fromkeys(r for t, r in RECIPES if task is None or t == task))


def recipe(name: str = "default", task: str = "text2text", **changes: Any) -> RunConfig:
    """The complete run config of recipe ``name`` for ``task``, with dotted ``changes`` applied; the model's
    sizes follow the data (``resolve``). ``default`` and the old names resolve as :func:`chosen_recipe` says,
    with one line on stderr."""
    if changes.get("supervision") not in (None, "answers", "query"):
        raise ConfigError(f"--supervision {changes['supervision']!r} is not a choice; use answers or query")
    if task not in TASKS:
        raise ConfigError(f"--task {task!r} is not a choice; use one of {', '.join(TASKS)}")
    ops = changes.get("data.ops", ArithmeticData.ops)
    name = chosen_recipe(name, task, ops, changes.get("supervision"), announce=True)
    if (task, name) not in RECIPES:
        raise ConfigError(f"--preset {name!r} is not a {task} recipe; choose default, "
                          f"{', '.join(recipe_names(task))}")
    if (task, name) in CANNOT_MULTIPLY and _multiplies(ops):
        raise ConfigError(f"{name} cannot multiply; use --preset columns-multiply")
    _, model_cls, run_cls = MODEL_CONFIGS[(task, name)]
    base = run_cls(task=task, recipe=name, model=model_cls())
    return resolve(override(base, {**RECIPES[(task, name)], **changes}))


def training_examples(data: dict[str, Any]) -> float:
    """Training queries of a run's ``data`` section (JSON): its share of every query of its operands and ops."""
    return (data.get("max_int", 99) + 1) ** 2 * len(data.get("ops", "+-")) * data.get("train_fraction", 1)


def _multiplies(ops: Any) -> bool:
    return isinstance(ops, str) and any(normalize_op(c) == "*" for c in ops)


def _only_multiplies(ops: Any) -> bool:
    return isinstance(ops, str) and all(normalize_op(c) == "*" for c in ops)


def chosen_recipe(name: str, task: str, ops: Any, supervision: str | None = None, *, announce: bool = False) -> str:
    """The recipe that ``name`` stands for. ``default`` is the task's measured best (DEFAULTS): on '*' alone
    long-multiply, on ops mixing '*' with '+' or '-' columns-multiply, image→text from answers alone
    glyph-answers. An old name is its new one (OLD_NAMES);
    ``best`` still turns as it did (multiply on '*', answers from answers alone). With ``announce``, one line on
    stderr says which recipe an old name, or a ``default`` the ops or the supervision decided, stands for (the
    task's own default is in the help and the run's config; printing it would make every error two lines)."""
    old = name != "default"
    if name not in ("default", "best") or task not in TASKS:
        chosen, why = OLD_NAMES.get((task, name), name), TASK_NAMES.get(task, task)
    elif task == "text2text" and _multiplies(ops) and name == "default" and _only_multiplies(ops):
        chosen, why = "long-multiply", "text→text with '*' alone"
    elif task == "text2text" and _multiplies(ops):
        chosen, why = "columns-multiply", "text→text with '*'"
    elif task == "img2text" and supervision == "answers":
        chosen, why = "glyph-answers", "image→text from answers alone"
    else:
        chosen = OLD_NAMES[(task, name)] if old else DEFAULTS[task]
        why = TASK_NAMES[task] + (" + and −" if task == "text2text" and not old else "")
    if announce and chosen != name and (old or chosen != DEFAULTS.get(task)):
        print(f"latentworks: --preset {name} is now '{chosen}' ({why}); old names work until 0.4" if old else
              f"latentworks: --preset default is '{chosen}', the measured best for {why}", file=sys.stderr)
    return chosen


def recipe_supervision(task: str, name: str) -> str:
    """'answers' or 'query': what an image→text recipe learns from besides pixels."""
    answers = {("img2text", "course"), ("img2text", "glyph-answers"), ("img2text", "mnist-addition")}
    return "answers" if (task, name) in answers else "query"


def resolve(cfg: RunConfig) -> RunConfig:
    """Fill the model's ``shape`` from the data (vocabulary, lengths, charset, layout)."""
    spec = cfg.data.spec()
    if cfg.task == "img2text" and cfg.supervision is None:
        cfg = override(cfg, {"supervision": recipe_supervision(cfg.task, cfg.recipe)})
    sizes = {"vocab_size": spec.vocab_size, "query_len": spec.query_len, "answer_len": spec.answer_len,
             "charset": spec.charset, "layout": spec.layout}
    return override(cfg, {f"model.shape.{k}": v for k, v in sizes.items()})


def from_json(data: dict[str, Any]) -> RunConfig:
    """A ``config.json`` (or ``--print-config`` output) back into a typed tree."""
    if not isinstance(data, dict):
        raise ConfigError("config: expected a JSON object")
    key = (data.get("task"), data.get("recipe"))
    if key in OLD_NAMES:  # a run folder written before the renaming: loading it is not asking for a recipe
        key = (key[0], OLD_NAMES[key])
    if key not in MODEL_CONFIGS:
        raise ConfigError(f"config: no arithmetic recipe {key[1]!r} for task {key[0]!r}")
    body = {k: v for k, v in data.items() if k != "family"} | {"recipe": key[1]}
    if isinstance(body.get("model"), dict):  # a config.json before 0.3 holds the shape fields flat in the model
        body["model"] = nest_shape(body["model"])
    return from_dict(MODEL_CONFIGS[key][2], body)


__all__ = ["DEFAULTS", "MODEL_CONFIGS", "OLD_NAMES", "RECIPES", "TASKS", "ArithmeticEval", "RunConfig", "chosen_recipe",
           "from_json", "recipe", "recipe_names", "resolve", "training_examples"]


# ------------------------------------------------------------------------------------------ the tiny example
#: A kind's tiny example: the first recipe that trains it, on one-digit operands and the packaged MNIST sample,
#: a few steps of narrow layers (for the per-kind test battery, tests/models/test_every_kind.py).
EXAMPLE = {"data.max_int": 9, "data.train_fraction": 0.6, "data.data_dir": "embedded", "train.steps": 4,
           "train.batch_size": 16, "train.progress": False, "eval.eval_subset": 16}
EXAMPLE_MODEL = {"hidden": 16, "embed_dim": 8, "feature_dim": 16, "glyph_features": 16, "dim": 8, "pair_dim": 8,
                 "map_channels": 8, "deconv_channels": 8, "pen_dim": 16, "pen_channels": 8}


def example(kind: str) -> RunConfig:
    """A seconds-fast run of ``kind``: the plumbing, not the quality (a new kind needs no entry of its own)."""
    task, name = next((key for key, (k, _, _) in MODEL_CONFIGS.items() if k == kind), (None, None))
    if task is None:
        raise ConfigError(f"no arithmetic recipe trains the kind {kind!r}; add one to MODEL_CONFIGS")
    _, model_cls, run_cls = MODEL_CONFIGS[(task, name)]
    fields = model_cls.__dataclass_fields__
    data = EXAMPLE
    if run_cls.__dataclass_fields__["data"].default_factory is MnistAdditionData:  # its protocol fixes the queries
        data = {k: v for k, v in EXAMPLE.items() if k not in ("data.max_int", "data.train_fraction")}
    return recipe(name, task=task, **data, **{f"model.{f}": v for f, v in EXAMPLE_MODEL.items() if f in fields})
