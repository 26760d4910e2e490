"""What each profile of ``latentworks run`` trains and measures, family by family: one named, typed entry each.

* ``test``: seconds, for the test-suite; proves the plumbing, not the accuracy;
* ``quick``: about 4-5 minutes on 2 CPU cores for the whole study (8-9 on one worker; BENCHMARKS.md), on the
  embedded MNIST sample (4,000 train / 1,000 test);
* ``full``: the benchmark figures, the recipes' own budgets on the full datasets.

Every run is a named recipe of its family plus the few overrides written here; the study modules
(:mod:`latentworks.studies`) read these entries and hold no numbers of their own about what to train.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILES = ("test", "quick", "full")


# ------------------------------------------------------------------------------------------ arithmetic
@dataclass(frozen=True)
class Sweep:
    """One recipe trained once per train fraction (the exact-match-vs-fraction figure)."""

    recipe: str  # of latentworks.recipes.arithmetic
    fractions: tuple[float, ...]  # shares of all queries used for training, one run each
    epochs: int | None = None  # the recipe's own unless set
    task: str = "text2text"


@dataclass(frozen=True)
class ArithmeticRun:
    """One run of the arithmetic study besides the sweep: a recipe of ``task`` at one train fraction."""

    task: str
    recipe: str
    fraction: float  # share of all queries used for training
    epochs: int | None = None  # the recipe's own unless set
    steps: int | None = None  # the recipe's own unless set


@dataclass(frozen=True)
class ArithmeticProfile:
    sweep: Sweep
    runs: tuple[ArithmeticRun, ...]
    max_int: int = 99  # operands 0..max_int
    lengths: tuple[int, ...] = (1, 2, 3, 4, 6, 10, 20, 100)  # operand lengths for the length-generalisation figure
    length_n: int = 1000  # fresh queries per length
    eval_subset: int | None = None  # held-out (and training) queries per curve point; the recipe's own unless set
    checkpoint_every: int | None = None  # steps between checkpoints; the recipe's own (every epoch) unless set


ARITHMETIC: dict[str, ArithmeticProfile] = {
    # Tiny operands, one or two epochs.
    "test": ArithmeticProfile(
        Sweep("columns", (0.3, 0.6), epochs=2),
        (ArithmeticRun("text2text", "course", 0.5, epochs=1),
         ArithmeticRun("text2text", "columns-long", 0.5, epochs=2),
         ArithmeticRun("text2text", "automaton", 0.5, steps=20),
         ArithmeticRun("img2text", "glyph-columns", 0.5, epochs=1),
         ArithmeticRun("text2img", "pen", 0.5, epochs=1)),
        max_int=9, lengths=(1, 2, 3), length_n=100),
    # The automaton at 3,000 of its recipe's 8,000 steps: 100 % held out and at 1-100 digits on seeds 0-2 at
    # 3,000 and at 4,000 steps, and on seed 0 at 2,000 (BENCHMARKS.md); a minute and a half less.
    "quick": ArithmeticProfile(
        Sweep("columns", (0.05, 0.1)),
        (ArithmeticRun("text2text", "course", 0.1),
         ArithmeticRun("text2text", "columns-long", 0.1),
         ArithmeticRun("text2text", "automaton", 0.1, steps=3000),
         ArithmeticRun("img2text", "glyph-columns", 0.25, epochs=3),
         ArithmeticRun("text2img", "pen", 0.25, epochs=4)),
        # Curve points on 500 queries: the 1,000-query points were a tenth of the study's training time (a pen
        # draws and reads each answer back); the tables score every held-out query either way. A checkpoint
        # every 500 steps, not every epoch: a columns run wrote 40 of 11 MB, each synced to disk, in a minute (a
        # stopped run still saves one as it stops).
        eval_subset=500, checkpoint_every=500),
    "full": ArithmeticProfile(
        Sweep("columns", (0.05, 0.1, 0.25, 0.5)),
        (ArithmeticRun("text2text", "course", 0.1),
         ArithmeticRun("text2text", "columns-long", 0.1),
         ArithmeticRun("text2text", "automaton", 0.1),
         ArithmeticRun("img2text", "glyph-columns", 0.5),
         ArithmeticRun("text2img", "pen", 0.5)),
        lengths=(1, 2, 3, 4, 5, 6, 8, 10, 20, 50, 100), length_n=10_000),
}


# ------------------------------------------------------------------------------------------ generative
@dataclass(frozen=True)
class GenerativeProfile:
    """The generative study: every kind a recipe of :mod:`latentworks.recipes.generative` defines, trained on
    MNIST (and on the CelebA folder when ``faces`` names a recipe and the folder is found), then judged by the
    frozen digit reader."""

    recipe: str  # trained on MNIST, one run per kind it defines
    eval_n: int  # generated samples per model for the evaluation table
    nll_k: int  # importance samples for the IW-NLL of the models with an unconditional ELBO
    nll_images: int  # test images scored with the IW-NLL
    kid: bool
    grid: int  # n for the n×n sample grids
    tiny_reader: bool = False  # train a throw-away reader in seconds instead of finding the real one
    limit: int | None = None  # training images (None: the whole train split)
    faces: str | None = None  # the recipe trained on CelebA, one run per kind it defines


GENERATIVE: dict[str, GenerativeProfile] = {
    # 300 embedded digits, tiny stacks, a tiny reader trained on the spot.
    "test": GenerativeProfile("test", eval_n=200, nll_k=5, nll_images=50, kid=False, grid=6, tiny_reader=True,
                              limit=300),
    "quick": GenerativeProfile("quick", eval_n=2000, nll_k=100, nll_images=200, kid=False, grid=10),
    "full": GenerativeProfile("full", eval_n=10000, nll_k=1000, nll_images=1000, kid=True, grid=10, faces="faces"),
}


# ------------------------------------------------------------------------------------------ char-RNN
@dataclass(frozen=True)
class CharGrid:
    """The hidden × learning-rate × sequence-length grid: one run of ``recipe`` per cell."""

    hidden: tuple[int, ...]
    lr: tuple[float, ...]
    seq_len: tuple[int, ...]
    steps: int  # optimizer steps per cell (and its one evaluation)
    recipe: str = "full-grid"


# The optimizer comparison: the same budget for each, at one conventional rate (per-char mean loss, clip ±5).
OPTIMIZERS: tuple[tuple[str, float], ...] = (("sgd", 1.0), ("rmsprop", 2e-3), ("adam", 2e-3), ("adagrad", 0.1))


@dataclass(frozen=True)
class CharProfile:
    """The char-RNN study: recipes of :mod:`latentworks.recipes.charrnn`."""

    main: str  # the NumPy run with figures, a 1000-character text and a section of its own
    optim: str  # the optimizer comparison's recipe, one run per entry of ``optimizers``
    corpus_chars: int | None = None  # a slice of the embedded corpus (None: all of it)
    torch: str | None = None  # the torch LSTM run
    grid: CharGrid | None = None
    optimizers: tuple[tuple[str, float], ...] = OPTIMIZERS  # (optimizer, learning rate)


CHARRNN: dict[str, CharProfile] = {
    # A 60k-character slice of the embedded corpus.
    "test": CharProfile("test-main", "test-optim", corpus_chars=60_000, torch="test-torch",
                        grid=CharGrid((16, 32), (3e-3,), (16,), steps=20)),
    # The embedded pydoc corpus, about a minute on 2 cores.
    "quick": CharProfile("quick-main", "quick-optim"),
    # Tiny Shakespeare when the data folder has it.
    "full": CharProfile("full-main", "full-optim", torch="full-torch",
                        grid=CharGrid((100, 256, 512), (1e-2, 1e-3, 1e-4), (20, 30, 40, 50), steps=1500)),
}

__all__ = ["ARITHMETIC", "CHARRNN", "GENERATIVE", "OPTIMIZERS", "PROFILES", "ArithmeticProfile", "ArithmeticRun",
           "CharGrid", "CharProfile", "GenerativeProfile", "Sweep"]
