"""The one place that says which families and model kinds exist, what each kind can do, and how a run is judged.

* A **family** (arithmetic, generative, charrnn) is one :class:`Family` object declared once, in its own module
  under :mod:`latentworks.families`: its command-line verbs, its run config tree and recipes, its pipeline, its part
  of the study, its explorer handlers, its Python API class, and its **headline measures**.
* A **model kind** is registered once, in its own model file, by :func:`register_model`: its family, its human
  title, what it can do (:data:`CAPABILITIES`) and, where they differ from its family's, its headline measures.

The CLI, the Python API, the study executor, the explorer, the report and the console ask this module; none keeps
its own list. Everything a family points at is named as ``"module:attribute"`` and imported on first use, so this
module is light (the CLI can list families without importing torch) and sits below everything it names.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, TypeVar

from latentworks.errors import LatentworksError

# What a model kind can be asked to do; front ends offer a verb only where its kind declares the capability.
CAPABILITIES = {
    "sample": "draw new images from the prior",
    "decode": "turn latent vectors into images",
    "encode": "turn images into latent vectors",
    "reconstruct": "encode and decode an image",
    "label": "condition on a class label",
    "elbo": "a variational bound on the likelihood (ELBO, IW-NLL)",
    "adversarial": "trained against a discriminator (FLD, precision and recall judge it)",
    "codes": "InfoGAN categorical codes, when the run was trained with them",
    "answer": "answer an arithmetic query",
    "handwriting": "read a query written in handwriting",
    "draw": "draw its answer as handwriting",
    "generate": "generate text after a prime",
    "classify": "name the digit in an image",
    "embed_faces": "embed 64×64 RGB faces (the feature space face runs are scored in)",
}


@dataclass(frozen=True)
class Measure:
    """A headline measure: where its value sits in ``results.json`` and how to read it."""

    key: str  # dotted path in results.json, e.g. "test.exact_match"
    name: str  # what a reader calls it
    better: Literal["higher", "lower", "zero"]  # which way is good ("zero": closer to 0 either side)
    unit: str  # "%", "nats", "×", ...
    good: str  # what a good value is, in words
    fmt: str = "num"  # how report.names.fmt shows it: pct, pct_signed, num, ratio, int, secs, text

    def value(self, results: dict[str, Any]) -> Any:
        """The measure's value in a run's results (None when the run did not record it)."""
        node: Any = results
        for part in self.key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            return node if isinstance(node, str) else None
        return node if math.isfinite(float(node)) else None


# The measures the families and kinds headline (one definition each; a kind lists the ones that judge it).
EXACT_MATCH = Measure("test.exact_match", "exact match", "higher", "%",
                      "100 %: every held-out answer right, whole", "pct")
PER_CHAR = Measure("test.char_accuracy", "per-character accuracy", "higher", "%",
                   "100 %; counts '46' for '47' as half right, so it flatters a model next to exact match", "pct")
VAL_LOSS = Measure("val_loss", "validation nats/char", "lower", "nats/char",
                   "lower; about 1.47 is nanoGPT's baby GPT on Tiny Shakespeare")
VAL_ACC = Measure("val_acc", "next-character accuracy", "higher", "%", "higher", "pct")
FLD_RATIO = Measure("eval.fld_ratio", "FLD / floor", "lower", "×",
                    "1× is as good as real data (the real train-vs-test distance)", "ratio")
PRECISION = Measure("eval.precision", "precision", "higher", "%",
                    "100 %: every sample inside the real digits' manifold (quality)", "pct")
RECALL = Measure("eval.recall", "recall", "higher", "%",
                 "100 %: every real test digit inside the samples' manifold (coverage)", "pct")
CONDITIONAL_ACCURACY = Measure("eval.conditional_accuracy", "draws the digit asked for", "higher", "%",
                               "100 %: the reader reads every sample as the label it was drawn for", "pct")
ELBO = Measure("test.elbo", "held-out ELBO", "higher", "nats", "closer to 0 (a bound on the log-likelihood)")
RECON_MSE = Measure("test.recon_mse", "reconstruction MSE", "lower", "", "0 is a perfect copy of the held-out image")
CLASS_BALANCE = Measure("eval.class_max_rel_deviation", "worst digit class vs uniform", "zero", "%",
                        "0 %: every digit drawn a tenth of the time (±10 % is close)", "pct_signed")
READER_ACCURACY = Measure("test.accuracy", "accuracy", "higher", "%", "100 % of held-out digits named", "pct")
VIEW_MATCH = Measure("heldout_check.view_match_top1", "held-out view matching", "higher", "%",
                     "100 %: every augmented held-out face matched to its own original among 1,000", "pct")


@dataclass(frozen=True)
class Verb:
    """A command-line verb of a family: ``latentworks FAMILY VERB``."""

    help: str
    handler: str  # "module:function", called as fn(argv, prog)


@dataclass(frozen=True)
class Family:
    """One family of runs, and where each of its parts lives."""

    name: str  # "arithmetic": the CLI word, results.json's kind prefix, model.json's family
    title: str  # what a reader calls it ("char-RNN")
    help: str  # one line for `latentworks --help`
    recipes: str  # module with RunConfig, recipe(), recipe_names(), from_json()
    train: str  # "module:function": fn(config, out, resume=, overwrite=) -> results
    study: str  # module that registers the family's part of `latentworks run`
    explorer: str  # module with the explorer's handlers for this family's runs
    api: str  # "module:Class": the Python API's run class
    measures: tuple[Measure, ...]  # the family's headline measures (a kind may declare its own)
    verbs: dict[str, Verb] = field(default_factory=dict)
    command: str = ""  # its word on the command line when not its name (`latentworks gen ...`)
    order: int = 0  # where the family comes in lists, the study and the report

    @property
    def cli(self) -> str:
        return self.command or self.name

    def recipes_module(self) -> ModuleType:
        return importlib.import_module(self.recipes)

    def train_function(self) -> Callable[..., Any]:
        return resolve(self.train)

    def api_class(self) -> type:
        return resolve(self.api)

    def explorer_module(self) -> ModuleType:
        """The explorer's adapter for this family's runs (load, describe, title, capabilities, ROUTES)."""
        return importlib.import_module(self.explorer)

    def kinds(self) -> list[Kind]:
        return [k for k in kinds() if k.family == self.name]


@dataclass(frozen=True)
class Kind:
    """A registered model kind: its class and what it can do."""

    name: str
    family: str | None  # None: a helper model no front end serves (the digit reader)
    title: str
    cls: type
    capabilities: frozenset[str]
    own_measures: tuple[Measure, ...] = ()
    # A cost hint: seconds per optimizer step on one core of the 2-core box, and seconds of scoring after
    # training (BENCHMARKS.md's quick-study times). Only a study's run order and its ETA's first guess use them.
    step_seconds: float = 0.02
    scoring_seconds: float = 2.0

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def measures(self) -> tuple[Measure, ...]:
        """The kind's headline measures: its own, else its family's."""
        if self.own_measures or self.family is None:
            return self.own_measures
        return family(self.family).measures


ModelT = TypeVar("ModelT", bound=type)
_KINDS: dict[str, Kind] = {}
_FAMILIES: dict[str, Family] = {}


def register_model(kind: str, *, family: str | None, title: str, capabilities: tuple[str, ...] = (),
                   measures: tuple[Measure, ...] = (), step_seconds: float = 0.02,
                   scoring_seconds: float = 2.0) -> Callable[[ModelT], ModelT]:
    """Class decorator for a model: the class takes its dataclass ``Config`` as its only argument and keeps it as
    ``.config``; ``kind`` names it in ``model.json``."""
    unknown = set(capabilities) - set(CAPABILITIES)
    if unknown:
        raise ValueError(f"{kind}: unknown capabilities {sorted(unknown)}; known: {', '.join(CAPABILITIES)}")

    def decorate(cls: ModelT) -> ModelT:
        cls.kind = kind  # type: ignore[attr-defined]
        cls.family = family  # type: ignore[attr-defined]
        _KINDS[kind] = Kind(kind, family, title, cls, frozenset(capabilities), tuple(measures), step_seconds,
                            scoring_seconds)
        return cls

    return decorate


def _import_package(package: str) -> None:
    """Import every module of ``package``: models and families register themselves on import."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{info.name}")


def resolve(target: str) -> Any:
    """The object a ``"module:attribute"`` reference names."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


# ------------------------------------------------------------------------------------------ families
def declare_family(fam: Family) -> Family:
    """Called once by each module of :mod:`latentworks.families`."""
    _FAMILIES[fam.name] = fam
    return fam


def families() -> list[Family]:
    """Every family, in their order (light: no model is imported)."""
    if not _FAMILIES:
        _import_package("latentworks.families")
    return sorted(_FAMILIES.values(), key=lambda f: f.order)


def family_names() -> list[str]:
    return [f.name for f in families()]


def family(name: str) -> Family:
    """The family called ``name``, or a one-line error naming the ones that exist."""
    by_name = {f.name: f for f in families()}
    if name not in by_name:
        raise LatentworksError(f"unknown family {name!r}; choose {', '.join(by_name)}")
    return by_name[name]


# ------------------------------------------------------------------------------------------ model kinds
def kinds() -> list[Kind]:
    """Every registered model kind (imports the model modules), in a fixed order: by model file, then by where
    the class stands in it (whatever order the modules happened to be imported in)."""
    _import_package("latentworks.models")
    order = list(_KINDS)  # within one model file, registration follows the file
    return sorted(_KINDS.values(), key=lambda k: (k.cls.__module__, order.index(k.name)))


def kind(name: str) -> Kind:
    """The registered kind ``name``, or a one-line error naming the known ones."""
    if name not in _KINDS:
        _import_package("latentworks.models")
    if name not in _KINDS:
        raise LatentworksError(f"unknown model kind {name!r}; known kinds: {', '.join(sorted(_KINDS))} "
                               "(is latentworks up to date?)")
    return _KINDS[name]


def kind_names(family_name: str | None = None, capability: str | None = None) -> tuple[str, ...]:
    """Names of the kinds of a family and/or with a capability, in registration order."""
    return tuple(k.name for k in kinds() if (family_name is None or k.family == family_name)
                 and (capability is None or capability in k.capabilities))


def family_of(info: dict[str, Any]) -> Family | None:
    """The family of the model a ``model.json`` describes; None for a model no front end serves."""
    name = info.get("family")
    if not isinstance(name, str):  # run folders written before model.json named its family
        known = info.get("kind")
        name = kind(known).family if isinstance(known, str) and known in {k.name for k in kinds()} else None
    return family(name) if name in family_names() else None


# ------------------------------------------------------------------------------------------ headline measures
def measures_of(results: dict[str, Any]) -> tuple[Measure, ...]:
    """The headline measures that judge the run whose ``results.json`` is ``results``."""
    fam, _, sub = str(results.get("kind", "")).partition("/")
    model_kind = results.get("model_kind") or sub
    if isinstance(model_kind, str) and model_kind in kind_names(fam):
        return kind(model_kind).measures
    return family(fam).measures if fam in family_names() else ()


def headlines(results: dict[str, Any]) -> list[tuple[Measure, Any]]:
    """The run's headline measures with the values it recorded (measures it lacks are left out)."""
    return [(m, v) for m in measures_of(results) if (v := m.value(results)) is not None]


def headline(results: dict[str, Any]) -> tuple[Measure, Any] | None:
    """The first headline measure a run recorded and its value (a console line, a run picker); format it with
    ``report.names.fmt(value, measure.fmt)``."""
    found = headlines(results)
    return found[0] if found else None


__all__ = ["CAPABILITIES", "Family", "Kind", "Measure", "Verb", "declare_family", "families", "family",
           "family_names", "family_of", "headline", "headlines", "kind", "kind_names", "kinds", "measures_of",
           "register_model", "resolve"]
