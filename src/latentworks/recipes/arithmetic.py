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
line saying which recipe it now means.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from latentworks.config import ConfigError, flag_alias, from_dict, override, require
from latentworks.data.arithmetic import ArithmeticData, normalize_op
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
from latentworks.training.config import TrainConfig

TASKS = ("text2text", "img2text", "text2img")
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
    # ``default`` with 'answers' is glyph-answers. Unset, the recipe's own (see SUPERVISION).
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

# ------------------------------------------------------------------------------------------ the recipes
# The course model (LSTM 256 -> RepeatVector -> LSTM 256 -> Dense softmax) with Keras initialisers: 805,133
# trainable parameters, as in Keras.
_COURSE_SEQ = {"model.cell": "lstm", "model.hidden": 256, "model.enc_layers": 1, "model.bidirectional": False,
               "model.decoder": "repeat", "model.keras_init": True}
# The course's own training settings (the hedzd V23 copy, whose counts of wrong answers give the course's exact
# match): 20 epochs of batch 8 with Keras's Adam; its image→text model trained at batch 28.
_COURSE_TRAIN = {"train.epochs": 20, "train.batch_size": 8, "train.lr": 1e-3, "train.optimizer": "adam"}
_ONECYCLE = {"train.optimizer": "adamw", "train.weight_decay": 1e-2, "train.schedule": "onecycle",
             "train.clip": "norm", "train.clip_value": 1.0}

# glyph-answers' model and training.
_GLYPH_ANSWERS = {
    "model.cell": "lstm", "model.hidden": 128, "model.enc_layers": 1, "model.bidirectional": True,
    "model.decoder": "attention", "model.heads": 16, "model.values": "inputs", "model.bridge": False,
    "model.reverse_output": True, "model.dropout": 0.1,
    "train.steps": 20000, "train.batch_size": 32, "train.lr": 4e-3, "train.optimizer": "adamw",
    "train.weight_decay": 0.1, "train.schedule": "cosine", "train.warmup_steps": 100, "train.clip": "norm",
    "train.clip_value": 1.0, "train.threads": 1}

RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    ("text2text", "course"): {**_COURSE_SEQ, "model.embed_dim": 0, **_COURSE_TRAIN},
    # Held-out exact match, seeds 0/1/2: 5 % train 96.3/95.9/97.3 %, 10 % 98.2/98.5/98.6 %; 50 % 99.87 % (seed
    # 0). What matters, in order: attention whose values are the raw input characters (the decoder must fetch
    # digits and compute with them), many small heads, and answer digits emitted units-first after the sign.
    ("text2text", "attention"): {
        "model.cell": "lstm", "model.hidden": 128, "model.enc_layers": 1, "model.bidirectional": True,
        "model.decoder": "attention", "model.heads": 16, "model.values": "inputs", "model.bridge": False,
        "model.embed_dim": 32, "model.reverse_input": False, "model.reverse_output": True, "model.dropout": 0.1,
        "train.steps": 6000, "train.batch_size": 32, "train.lr": 4e-3, "train.optimizer": "adamw",
        "train.weight_decay": 1.0, "train.schedule": "cosine", "train.warmup_steps": 100, "train.clip": "norm",
        "train.clip_value": 1.0, "train.threads": 1},
    # zero_pad: on 1,000 training queries (5 %) it lifted held-out exact match from 87 % to 92-97 % (3 seeds).
    ("text2text", "columns"): {"model.zero_pad": True, "train.epochs": 40, "train.batch_size": 32, "train.lr": 3e-3,
                            **_ONECYCLE, "train.threads": 1},
    # ``columns`` trained on every batch widened by up to 8 leading zero columns, so that its recurrences hold a carry
    # or a comparison over longer numbers than the two-digit operands it learns from (``arithmetic eval --digits``).
    ("text2text", "columns-long"): {"model.zero_pad": True, "model.pad_columns": 8, "train.epochs": 40,
                            "train.batch_size": 32, "train.lr": 3e-3, **_ONECYCLE, "train.threads": 1},
    # ``columns`` whose columns also see the digit pairs that meet there (``model.digit_pairs``), trained long with
    # strong weight decay: with columns' 1e-2 and 1,280 steps, an earlier version (pairs summed into their column
    # only) fitted its 1,000 training products (10 % of '*') and scored 22 % on the rest; with weight decay 1.0
    # it keeps generalising long after the training set is fitted.
    # 100 epochs and at least 16,000 steps: the 10 % splits need the steps (500 epochs of 1,000 products), a 50 %
    # split of '+-*' the passes (after 16,000 steps, 34 epochs, it still fitted only 93 % of its training queries).
    ("text2text", "columns-multiply"): {"model.zero_pad": True, "model.digit_pairs": True, "train.epochs": 100,
                                "train.min_steps": 16000,
                                "train.batch_size": 32, "train.lr": 3e-3, **_ONECYCLE, "train.weight_decay": 1.0,
                                "train.threads": 1},
    # ``models/column_automaton.py``: discrete carries, the same function at every column; '-' answered with
    # the learned '+' (with a table of its own it reached 14 % at 10 digits). 8,000 steps at 1e-3: at 3e-3 the
    # readers' sign sometimes collapsed after the peak of the cycle.
    ("text2text", "automaton"): {"model.subtract_by_adding": True,
                                 "train.steps": 8000, "train.batch_size": 32, "train.lr": 1e-3, **_ONECYCLE,
                                 "train.threads": 1},
    # ``models/long_multiply.py``: two tables in the lattice layout, learned from the answers alone (symbols'
    # distributions carried through the tables); every table entry occurs in two-digit products. At 2,000 steps
    # and 1e-2 it answered 30 % held out (BENCHMARKS.md, long-multiply).
    ("text2text", "long-multiply"): {"data.ops": "*", "train.steps": 5000, "train.batch_size": 32,
                                     "train.lr": 3e-2, **_ONECYCLE, "train.threads": 1},
    # One fixed drawing of the training handwriting, as the course. With torch's default initialisation the model
    # sat on a loss plateau (per-char 40 %) for all 20 epochs at a 50 % split; Keras's gets it off.
    ("img2text", "course"): {**_COURSE_SEQ, "model.encoder": "cnn", "model.feature_dim": 256, **_COURSE_TRAIN,
                               "train.batch_size": 28},
    # Fresh MNIST-train handwriting for every batch, so the glyph CNN never memorises one drawing.
    ("img2text", "glyph-columns"): {"data.fresh_handwriting": True, "train.epochs": 20, "train.batch_size": 64,
                           "train.lr": 3e-3, **_ONECYCLE},
    # Pixels and answers only: a glyph CNN invents its own symbols in front of the ``attention`` core. Weight decay
    # 0.1, not the text recipe's 1.0: at 1.0 the runs fitted only 89-97 % of their own training queries after
    # 20,000 steps and answered 86-94 % held out (50 % split, 3 seeds); at 0.1, 96.7-97.2 %.
    ("img2text", "glyph-answers"): {"data.fresh_handwriting": True, **_GLYPH_ANSWERS},
    # MNIST-addition on its own protocol (``latentworks arithmetic mnist-addition``): the column transducer on the
    # protocol's fixed examples, each image in one strip, labelled with the sum only. glyph-answers' model here
    # (an attention core) read 97.30 % at N = 1 after 900 s and cannot carry a table to longer N. Screened on
    # seed 0 (BENCHMARKS.md): 10 symbols merged two digits for good (N = 1: 80 % of sums); 16 did not; the table
    # at lr x1 learned too slowly, x50 with larger first logits (3) fast; a fixed first carry state swapped the
    # carry's meanings at N = 4 (7 % of sums), a learned one 93 %.
    ("img2text", "mnist-addition"): {
        "model.symbols": 16, "model.glyph_channels": (16, 32, 64), "model.table_init": 3.0, "model.table_lr": 50.0,
        "model.balance": 1.0, "model.augment": True,
        "train.epochs": 3, "train.batch_size": 8, "train.lr": 1e-3, "train.optimizer": "adam",
        "train.schedule": "cosine", "train.threads": 1},
    # The course's decoder (the hedzd V23 copy): per-step dense ReLU to 7×7×128 → BN → 3×3 stride-2 deconv 64 →
    # BN → ReLU → 3×3 stride-2 deconv 1; MSE on the sigmoid.
    ("text2img", "course"): {
        "model.embed_dim": 0, "model.cell": "lstm", "model.hidden": 256, "model.enc_layers": 1,
        "model.bidirectional": False, "model.dec_layers": 1, "model.map_channels": 128,
        "model.deconv_channels": 64, "model.deconv_kernel": 3, "model.batchnorm": True, "model.dropout": 0.0,
        "model.loss": "mse", **_COURSE_TRAIN},
    # The pen is a conditional VAE over glyphs (style code 8): every drawing of an answer is a new hand.
    ("text2img", "pen"): {"data.fresh_handwriting": True, "model.loss": "bce", "model.style_dim": 8,
                           "model.style_temperature": 0.8, "train.epochs": 30,
                           "train.batch_size": 64, "train.lr": 3e-3, **_ONECYCLE, "train.threads": 1},
}


# What each recipe learns from, so that no two rows with different supervision read as like for like.
SUPERVISION = {
    ("text2text", "course"): "query text → answer text",
    ("text2text", "attention"): "query text → answer text",
    ("text2text", "columns"): "query text → answer text",
    ("text2text", "columns-long"): "query text → answer text",
    ("text2text", "columns-multiply"): "query text → answer text",
    ("text2text", "automaton"): "query text → answer text",
    ("text2text", "long-multiply"): "query text → answer text",
    ("img2text", "course"): "query pixels → answer text",
    ("img2text", "glyph-columns"): "query pixels + the query's text as per-glyph labels → answer text",
    ("img2text", "glyph-answers"): "query pixels → answer text",
    ("img2text", "mnist-addition"): "2N fixed MNIST train images → their sum's text (the protocol's examples)",
    ("text2img", "course"): "query text → answer pixels (MNIST train digits)",
    ("text2img", "pen"): "query text → answer text + answer pixels (MNIST train digits)",
}


# Each task's measured best (BENCHMARKS.md; docs/arithmetic.md's recipe table says why): text→text + and −: the
# automaton, 100.00 % held out at a 10 % split on five seeds and the only recipe that keeps it at 100 digits;
# with '*' alone long-multiply (100.00 % held out at 10 % and 50 % on three seeds, and on 3- to 20-digit operands);
# with '*' beside '+' or '-' columns-multiply, the one recipe that does all three. Image→text:
# glyph-columns (97.47 % at 50 %), from answers alone glyph-answers. Text→image: pen (98.32-99.15 % read back).
DEFAULTS = {"text2text": "automaton", "img2text": "glyph-columns", "text2img": "pen"}
# The names before 0.3 (purpose, architecture and data regime mixed), kept until 0.4: (task, old) -> new.
OLD_NAMES: dict[tuple[str, str], str] = {
    **{(task, "notebook"): "course" for task in TASKS}, ("text2text", "best"): "columns",
    ("text2text", "long"): "columns-long", ("text2text", "multiply"): "columns-multiply",
    ("img2text", "best"): "glyph-columns", ("img2text", "answers"): "glyph-answers", ("text2img", "best"): "pen"}
CANNOT_MULTIPLY = {("text2text", "automaton")}  # recipes whose model refuses '*'
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
           "from_json", "recipe", "recipe_names", "resolve"]


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
