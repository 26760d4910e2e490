"""Character RNN runs: the run config tree and its named recipes.

* ``default``: the from-scratch NumPy vanilla RNN (H 256, T 50, batch 32), Adam 2e-3, element-wise clipping ±5;
* ``min-char-rnn``: Karpathy's recipe: vanilla RNN, H 100, T 25, batch 1, Adagrad 0.1, clip ±5, N(0, 0.01)
  weights, gradients of the summed loss;
* ``torch-lstm``: the torch LSTM (2 × 256, embeddings 64), Adam 2e-3, global-norm clipping 5;
* ``shakespeare-10min``: the lowest Tiny Shakespeare validation loss we found for 10 minutes of training on 2 CPU
  cores: ``torch-lstm``'s 2 × 256 LSTM in bfloat16 (needs AVX-512 BF16 / AMX, or a recent GPU) on 2 threads,
  batch 32 of 100 characters, Adam 3e-3 annealed by a cosine to 10 % over 5,800 steps (what fits 600 s on the
  development box; a 600 s time limit guards a slower one). ``benchmarks/charrnn_shakespeare.py`` records it
  beside ``torch-lstm``;
* ``test-*``, ``quick-*``, ``full-*``: what ``latentworks run`` trains in each profile.

The backend follows from the recipe (``--backend torch`` picks ``torch-lstm``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from latentworks.config import ConfigError, Derived, from_dict, override, require
from latentworks.data.text import CharData, find_text, load_corpus
from latentworks.models.char_lstm import CharLSTM
from latentworks.models.numpy_char_rnn import MODELS as NUMPY_MODELS
from latentworks.models.numpy_char_rnn import NumpyCharConfig
from latentworks.training.config import TrainConfig

BACKENDS = ("numpy", "torch")


@dataclass
class CharTrain(TrainConfig):
    """The ``train`` section; a char-RNN run is counted in optimizer steps, not epochs."""

    epochs: Derived[int] = 1
    min_steps: Derived[int] = 0
    steps: int = 2000  # optimizer steps


@dataclass
class CharEval:
    """The ``eval`` section: validation, samples and the generated text."""

    val_batches: int | None = 20  # chunks per periodic validation pass (the final one uses the whole split)
    sample_every: int = 500  # steps between samples (NumPy backend)
    print_samples: bool = True  # print the samples under the progress bar (a study keeps its log to the bars)
    sample_length: int = 200  # characters per sample
    primes: list[str] | None = None  # priming strings for samples (default: 'The ' and 'Harr' where they fit)
    temperatures: list[float] = field(default_factory=lambda: [0.8])  # sampling temperatures
    generate_length: int = 1000  # characters in generation.txt
    figures: bool = True  # loss and accuracy curves

    def check(self) -> None:
        require(self.val_batches is None or self.val_batches >= 1, "val_batches", self.val_batches,
                "must be at least 1 (or left out for the whole split)")
        require(self.sample_every >= 1, "sample_every", self.sample_every, "must be at least 1")
        require(self.sample_length >= 1, "sample_length", self.sample_length, "must be at least 1")
        require(self.generate_length >= 0, "generate_length", self.generate_length, "must be >= 0")
        require(bool(self.temperatures) and all(t >= 0 for t in self.temperatures), "temperatures",
                self.temperatures, "must list numbers >= 0, e.g. --temperatures 0.5 0.8")
        require(self.primes is None or all(self.primes), "primes", self.primes, "must be non-empty strings")


@dataclass
class RunConfig:
    """One char-RNN run."""

    family: ClassVar[str] = "charrnn"
    backend: Literal["numpy", "torch"] = "numpy"  # numpy: from scratch; torch: a multi-layer LSTM
    recipe: str = "default"  # named settings: default, min-char-rnn, torch-lstm, ...
    data: CharData = field(default_factory=CharData)
    model: Any = None
    train: CharTrain = field(default_factory=CharTrain)
    eval: CharEval = field(default_factory=CharEval)

    def check(self) -> None:
        require(self.recipe in RECIPES, "recipe", self.recipe, f"choose one of {', '.join(RECIPES)}")
        want = NumpyCharConfig if self.backend == "numpy" else CharLSTM.Config
        require(type(self.model) is want, "backend", self.backend, "does not match the model section")
        if self.backend == "numpy":
            require(self.train.optimizer != "adamw", "optimizer", "adamw", "is a torch optimizer; the NumPy "
                    "backend has sgd, rmsprop, adam and adagrad")
            require(self.train.weight_decay == 0, "weight_decay", self.train.weight_decay,
                    "is not implemented by the NumPy optimizers; use the torch backend")

    @property
    def kind(self) -> str:
        """The model kind (``models/io.py``) this run trains: the backend's model, for NumPy the cell's."""
        return NUMPY_MODELS[self.model.cell].kind if self.backend == "numpy" else CharLSTM.kind

    @property
    def title(self) -> str:
        m, t = self.model, self.train
        what = f"numpy {m.cell}" if self.backend == "numpy" else "torch lstm"
        layers = f" × {m.layers} layers" if self.backend == "torch" and m.layers > 1 else ""
        carried = " · state carried" if self.backend == "torch" and m.carry_state else ""
        return (f"char-RNN · {what} · H {m.hidden}{layers} · T {self.data.seq_len}{carried} · B {t.batch_size} · "
                f"{t.optimizer} {t.lr:g}")


@dataclass
class NumpyRun(RunConfig):
    backend: Literal["numpy", "torch"] = "numpy"
    model: NumpyCharConfig = field(default_factory=NumpyCharConfig)


@dataclass
class TorchRun(RunConfig):
    backend: Literal["numpy", "torch"] = "torch"
    model: CharLSTM.Config = field(default_factory=CharLSTM.Config)


RUN_CLASSES = {"numpy": NumpyRun, "torch": TorchRun}

_NUMPY = {"train.steps": 2000, "train.batch_size": 32, "train.optimizer": "adam", "train.lr": 2e-3,
          "train.clip": "elementwise", "train.clip_value": 5.0, "train.eval_every": 500, "train.log_every": 100,
          "train.checkpoint_every": 500, "train.threads": 1}
_TORCH = {"train.steps": 2000, "train.batch_size": 32, "train.optimizer": "adam", "train.lr": 2e-3,
          "train.clip": "norm", "train.clip_value": 5.0, "train.eval_every": 500, "train.log_every": 1,
          "train.checkpoint_every": 500}
_STUDY = {"eval.sample_every": 10**9, "train.checkpoint_every": 10**9}
_MIN_CHAR = {"model.cell": "rnn", "model.hidden": 100, "data.seq_len": 25, "train.batch_size": 1,
             "train.optimizer": "adagrad", "train.lr": 0.1, "train.clip": "elementwise", "train.clip_value": 5.0,
             "model.init": "min_char_rnn", "model.loss_reduction": "sum"}

# (backend, overrides of that backend's base) by recipe name.
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("numpy", {}),
    "min-char-rnn": ("numpy", _MIN_CHAR),
    "torch-lstm": ("torch", {}),
    # torch-lstm's shape in bfloat16 on two threads (1.6x the characters per second) with its rate annealed: wider
    # LSTMs learned more per character but saw too few of them in 10 minutes (BENCHMARKS.md, character RNN).
    "shakespeare-10min": ("torch", {"data.text": "tinyshakespeare", "model.hidden": 256, "model.layers": 2,
                                    "model.bf16": True, "data.seq_len": 100, "train.batch_size": 32,
                                    "train.lr": 3e-3, "train.schedule": "cosine", "train.min_lr_ratio": 0.1,
                                    "train.warmup_steps": 50, "train.steps": 5800, "train.time_limit_s": 600,
                                    "train.threads": 2, "train.eval_every": 200,
                                    "eval.val_batches": 5}),
    # latentworks run: a main NumPy run, and the optimizer comparison at one conventional rate each.
    "test-main": ("numpy", {**_STUDY, "model.hidden": 32, "data.seq_len": 16, "train.batch_size": 16,
                            "train.steps": 60, "train.eval_every": 30, "train.log_every": 30}),
    "test-optim": ("numpy", {**_STUDY, "model.hidden": 24, "data.seq_len": 16, "train.batch_size": 16,
                             "train.steps": 30, "train.eval_every": 15, "train.log_every": 15}),
    "test-torch": ("torch", {**_STUDY, "model.hidden": 32, "model.layers": 1, "data.seq_len": 16,
                             "train.batch_size": 8, "train.steps": 8, "train.eval_every": 4, "train.threads": 1}),
    "quick-main": ("numpy", {**_STUDY, "model.hidden": 128, "data.seq_len": 50, "train.batch_size": 32,
                             "train.lr": 3e-3, "train.steps": 2500, "train.eval_every": 250,
                             "train.log_every": 100}),
    "quick-optim": ("numpy", {**_STUDY, "model.hidden": 64, "data.seq_len": 25, "train.batch_size": 32,
                              "train.steps": 1000, "train.eval_every": 100, "train.log_every": 100}),
    "full-main": ("numpy", {**_STUDY, "model.hidden": 256, "data.seq_len": 50, "train.batch_size": 64,
                            "train.lr": 2e-3, "train.steps": 8000, "train.eval_every": 500,
                            "train.log_every": 100}),
    "full-optim": ("numpy", {**_STUDY, "model.hidden": 100, "data.seq_len": 25, "train.batch_size": 32,
                             "train.steps": 2000, "train.eval_every": 200, "train.log_every": 100}),
    "full-torch": ("torch", {**_STUDY, "model.hidden": 256, "model.layers": 2, "data.seq_len": 100,
                             "train.batch_size": 32, "train.lr": 3e-3, "train.steps": 1500,
                             "train.eval_every": 250, "train.threads": 1}),
    "full-grid": ("numpy", {**_STUDY, "train.batch_size": 32, "train.steps": 1500, "train.eval_every": 1500}),
}


def recipe(name: str | None = None, backend: str | None = None, **changes: Any) -> RunConfig:
    """The complete run config of recipe ``name`` (default: ``default`` for NumPy, ``torch-lstm`` for torch)
    with dotted ``changes`` applied."""
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r} is not a choice; use numpy or torch")
    if name is None:
        name = "torch-lstm" if backend == "torch" else "default"
    if name not in RECIPES:
        raise ConfigError(f"--recipe {name!r} is not a choice; use one of {', '.join(RECIPES)}")
    if backend is not None and backend != RECIPES[name][0]:
        raise ConfigError(f"--recipe {name} trains the {RECIPES[name][0]} backend, not {backend}; drop --backend "
                          f"or pick a {backend} recipe ({', '.join(recipe_names(backend))})")
    backend, overrides = RECIPES[name]
    base = override(RUN_CLASSES[backend](recipe=name), _NUMPY if backend == "numpy" else _TORCH)
    return override(base, {**overrides, **changes})


def recipe_names(backend: str | None = None) -> list[str]:
    return [n for n, (b, _) in RECIPES.items() if backend is None or b == backend]


def resolve(cfg: RunConfig, vocab_size: int | None = None) -> RunConfig:
    """Fill the vocabulary size (the pipeline passes it; otherwise the corpus is read to count it)."""
    if vocab_size is None:
        vocab_size = len(set(load_corpus(find_text(cfg.data.text, cfg.data.data_dir), cfg.data.ascii_only)))
    return override(cfg, {"model.vocab_size": vocab_size})


def from_json(data: dict[str, Any]) -> RunConfig:
    if not isinstance(data, dict) or data.get("backend") not in BACKENDS:
        raise ConfigError("config: 'backend' must be numpy or torch")
    body = {k: v for k, v in data.items() if k != "family"}
    return from_dict(RUN_CLASSES[data["backend"]], body)


__all__ = ["BACKENDS", "RECIPES", "CharEval", "CharTrain", "RunConfig", "from_json", "recipe", "recipe_names",
           "resolve"]


# ------------------------------------------------------------------------------------------ the tiny example
#: Each kind's tiny example: the study's test recipe that trains it, and what picks the kind there.
EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    **{model.kind: ("test-main", {"model.cell": cell}) for cell, model in NUMPY_MODELS.items()},
    CharLSTM.kind: ("test-torch", {}),
}
#: What every example shrinks: a few steps of narrow layers on short windows, for the per-kind test battery
#: (tests/models/test_every_kind.py).
EXAMPLE = {"model.hidden": 8, "data.seq_len": 16, "train.batch_size": 64, "train.steps": 6, "train.eval_every": 3,
           "train.log_every": 3, "train.progress": False, "eval.val_batches": 2, "eval.sample_length": 10,
           "eval.generate_length": 20, "eval.figures": False, "eval.print_samples": False}


def example(kind: str) -> RunConfig:
    """A seconds-fast run of ``kind``: the plumbing, not the quality."""
    if kind not in EXAMPLES:
        raise ConfigError(f"no tiny example for the char-RNN kind {kind!r}; add it to recipes/charrnn.py EXAMPLES")
    name, picks = EXAMPLES[kind]
    return recipe(name, **EXAMPLE, **picks)
