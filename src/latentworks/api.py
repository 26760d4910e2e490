"""The Python API: load any run folder and use it, or train from a config.

    import latentworks as lw

    cfg = lw.recipe("arithmetic", "columns", task="text2text", **{"train.epochs": 5})
    run = lw.train(cfg, "runs/t2t")          # the same as `latentworks arithmetic train ... --out runs/t2t`
    run.predict("12+34")                     # '46'
    vae = lw.load("runs/quick/generative/mnist/vae")
    images = vae.sample(n=16, seed=0)        # (16, 28, 28) floats in [0, 1]

:func:`load` returns a :class:`Run` whose verbs are the ones its kind supports: generative runs ``sample``,
``decode``, ``encode``, ``reconstruct``, ``interpolate``, ``directions`` (principal directions of the latent
space and the variance each explains) and ``evaluate``; arithmetic runs ``predict`` and ``evaluate``; char-RNN
runs ``generate`` and ``evaluate``. Any other verb is a one-line error naming the ones that exist. Images are
numpy arrays, (N, H, W) grey or (N, H, W, 3) RGB, in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from latentworks import registry
from latentworks.config import validate
from latentworks.errors import LatentworksError

VERBS = ("predict", "sample", "decode", "encode", "reconstruct", "interpolate", "directions", "generate",
         "evaluate")


def recipe(family: str, name: str | None = None, **selectors_and_changes: Any) -> Any:
    """A named recipe's complete config: ``recipe("generative", "quick", kind="vae", **{"train.epochs": 2})``."""
    module = registry.family(family).recipes_module()
    return module.recipe(name, **selectors_and_changes) if name is not None else module.recipe(
        **selectors_and_changes)


def train(config: Any, out: str | Path, *, resume: bool = False, overwrite: bool = False) -> Run:
    """Train ``config`` (any family's run config) into the run folder ``out``; return the loaded run.
    A folder that already holds a run is refused unless ``resume=True`` (continue it) or ``overwrite=True``
    (move it aside to ``<out>.old-N`` and start afresh)."""
    family = getattr(config, "family", None)
    if not isinstance(family, str) or family not in registry.family_names():
        raise LatentworksError(f"{type(config).__name__} is not a run config; build one with lw.recipe(...)")
    validate(config)
    # The trainer's own refusals name the command line's flags; here the caller wrote Python.
    if resume and overwrite:
        raise LatentworksError("resume=True and overwrite=True contradict each other; pass one of them")
    root = Path(out)
    if not resume and not overwrite and root.is_dir() and any(root.iterdir()):
        raise LatentworksError(f"{root} already holds a run; pass overwrite=True to move it aside and train afresh, "
                               "resume=True to continue it, or another folder")
    registry.family(family).train_function()(config, out, resume=resume, overwrite=overwrite)
    return load(out)


def load(run_dir: str | Path, device: str = "cpu") -> Run:
    """The run in ``run_dir`` (a folder a training wrote), ready to use."""
    from latentworks.models.io import read_model_info

    info = read_model_info(run_dir)
    family = registry.family_of(info)
    if family is None:
        raise LatentworksError(f"{run_dir} holds a '{info.get('kind')}' model, which has no Python API verbs")
    return family.api_class()(run_dir, info, device)


class Run:
    """A trained run: its folder, typed config, results and model, and the verbs of its kind."""

    family = ""
    offers: tuple[str, ...] = ()  # the family's verbs; ``verbs`` keeps those the run's kind can do

    def __init__(self, run_dir: str | Path, info: dict[str, Any], device: str = "cpu"):
        from latentworks.models.io import load_model

        self.dir = Path(run_dir)
        self.kind = str(info.get("kind"))
        self.info = info
        self.model = load_model(self.dir, map_location=device)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} at {self.dir}: {', '.join(self.verbs)}>"

    @property
    def verbs(self) -> tuple[str, ...]:
        """The verbs of this run: its family's, less those naming a capability its kind does not declare."""
        kind = registry.kind(self.kind)
        return tuple(v for v in self.offers if v not in registry.CAPABILITIES or kind.can(v))

    def _needs(self, verb: str) -> None:
        if verb not in self.verbs:
            raise LatentworksError(f"a {self.kind} run has no {verb}(); it has {', '.join(self.verbs)}")

    def __getattr__(self, name: str) -> Any:
        if name in VERBS:
            self._needs(name)
        raise AttributeError(name)

    @property
    def results(self) -> dict[str, Any]:
        """``results.json``: config, metrics, seed, versions, runtime."""
        from latentworks.runs import read_json

        return read_json(self.dir / "results.json")

    @property
    def config(self) -> Any:
        """The run's typed config tree (from ``config.json``)."""
        from latentworks.runs import read_json

        return registry.family(self.family).recipes_module().from_json(read_json(self.dir / "config.json"))


class GenerativeRun(Run):
    """A CAE / VAE / DCGAN / CVAE / cGAN run: ``sample``, ``decode``, ``encode``, ``reconstruct``,
    ``interpolate``, ``directions`` (the top principal directions of the latent space and the variance each
    explains, as ``latentworks gen directions`` shows them) and ``evaluate`` (``latentworks gen eval``)."""

    family = "generative"
    offers = ("sample", "decode", "encode", "reconstruct", "interpolate", "directions", "evaluate")

    def sample(self, n: int = 16, seed: int = 0, label: int | None = None, truncate: float | None = None,
               scale: float = 1.0) -> np.ndarray:
        """``n`` samples; same seed, same images. Conditional models take a ``label`` (default 0, 1, 2, ...)."""
        from latentworks.latent import core

        z = core.sample_latents(self.model, n, core.generator(seed), truncate, scale)
        return core.decode(self.model, z, label)

    def decode(self, z: Any, label: int | None = None) -> np.ndarray:
        """Images of latent vectors ``z`` (N, latent_dim)."""
        from latentworks.latent import core

        return core.decode(self.model, z, label)

    def encode(self, images: Any, label: int | None = None) -> np.ndarray:
        """Latent means of images (file paths, or arrays as :mod:`latentworks.latent.user_images` reads them)."""
        self._needs("encode")
        from latentworks.latent.tools import encode

        return encode(self.model, images, labels=label).latents

    def reconstruct(self, images: Any, label: int | None = None) -> np.ndarray:
        """Images through the encoder and back (autoencoders)."""
        self._needs("reconstruct")
        from latentworks.latent.tools import reconstruct

        return reconstruct(self.model, images, labels=label).images

    def interpolate(self, seed: int = 0, steps: int = 10, slerp: bool = False, label: int | None = None) -> np.ndarray:
        """``steps`` images on the line (or great circle) between two random latents of ``seed``."""
        from latentworks.latent.tools import interpolate

        return interpolate(self.model, seed, steps, slerp=slerp, labels=label).images

    def directions(self, n: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The top ``n`` principal directions, unit rows (n, latent_dim), and the share of the total variance each
        explains (n,): PCA of the encoded held-out images for autoencoders whose data is found, GANSpace (the
        generator's first-layer features from ``seed``'s latents) otherwise. See
        :mod:`latentworks.latent.directions`; fewer than ``n`` when the space has fewer dimensions."""
        from latentworks.latent.directions import principal_directions

        data = self.config.data if (self.dir / "config.json").is_file() else None
        found = principal_directions(self.model, n, seed=seed, data=data)
        return found.vectors, found.explained_variance

    def evaluate(self, n: int = 2000, seed: int = 0, data_dir: str | None = None, kid: bool = False,
                 nll_k: int = 0) -> dict[str, Any]:
        """The evaluation ``latentworks gen eval`` prints: for a digit run FLD and its floor, classes, precision /
        recall, conditional accuracy (``nll_k`` > 0 adds a VAE's IW-NLL; ``data_dir`` defaults to the run's own);
        for a ``faces`` run FLD beside its real floor and precision / recall with the face feature network."""
        from latentworks.pipelines.generative_eval import evaluate_run

        data_dir = data_dir if data_dir is not None else self.config.data.data_dir
        return evaluate_run(self.model, self.dir, data_dir=data_dir, quiet=True, n=n, seed=seed, kid=kid,
                            nll_k=nll_k)


class ArithmeticRun(Run):
    family = "arithmetic"
    offers = ("predict", "evaluate")

    def __init__(self, run_dir: str | Path, info: dict[str, Any], device: str = "cpu"):
        from latentworks.data.arithmetic import ArithmeticSpec

        super().__init__(run_dir, info, device)
        self.task = info["task"]
        self.spec = ArithmeticSpec(**info["spec"])

    @property
    def results(self) -> dict[str, Any]:
        """``results.json``, with the score keys of this version (a run from before them is read as if new)."""
        from latentworks.runs import RunDir

        return RunDir(self.dir, create=False).read_results()

    def predict(self, query: str, glyphs: np.ndarray | None = None, seed: int = 0,
                data_dir: str | None = None) -> str | np.ndarray:
        """The answer to ``query``: a string, or (text→image) the drawn answer (La, 28, 28) in [0, 1].
        Image→text runs read ``glyphs`` (L, 28, 28) or, without them, the query in MNIST test handwriting."""
        from latentworks.pipelines.arithmetic import answer

        out = answer(self.model, self.task, self.spec, query, glyphs=glyphs, data_dir=data_dir, seed=seed)
        return out.strip() if isinstance(out, str) else out  # the model pads its answers to a fixed width

    def evaluate(self) -> dict[str, Any]:
        """Exact match, per-character accuracy and error sizes on the run's held-out queries (scored again)."""
        from latentworks.pipelines.tasks import task

        cfg, t = self.config, task(self.task)
        prepared = t.prepare(cfg)
        reader = t.reader(cfg)
        return t.score(self.model, prepared, t.test_inputs(prepared, cfg.train.seed), prepared.test.answers,
                       reader)[0]


class CharRun(Run):
    family = "charrnn"
    offers = ("generate", "evaluate")

    def __init__(self, run_dir: str | Path, info: dict[str, Any], device: str = "cpu"):
        from latentworks.pipelines.charrnn import load_sampler

        self.dir = Path(run_dir)
        self.kind = str(info.get("kind"))
        self.info = info
        self.sampler = load_sampler(run_dir)
        self.model = self.sampler.model

    def generate(self, prime: str = "The ", length: int = 200, temperature: float = 0.8, top_k: int | None = None,
                 seed: int = 0) -> str:
        """Text after ``prime`` (not included); same seed, same text; temperature 0 is greedy."""
        return self.sampler.text(prime, length, temperature, top_k, seed)

    def evaluate(self) -> dict[str, float]:
        """Validation nats/char and next-character accuracy on the held-out tail of the corpus."""
        from latentworks.data.text import split_corpus
        from latentworks.pipelines.charrnn import prepare_text

        cfg = self.config
        _, vocab, ids = prepare_text(cfg)
        if vocab.to_json() != self.sampler.vocab.to_json():
            raise LatentworksError(f"the corpus {cfg.data.text} has changed since {self.dir} was trained")
        _, val = split_corpus(ids, cfg.data.val_fraction)
        if self.sampler.backend == "numpy":
            from latentworks.training.numpy_loop import evaluate_numpy

            loss, acc = evaluate_numpy(self.model, val, cfg.train.batch_size, cfg.data.seq_len, None, True)
        else:
            import torch

            loss, acc = self.model.stream_loss(torch.from_numpy(val.astype(np.int64)), cfg.train.batch_size,
                                               cfg.data.seq_len)
        return {"val_loss": float(loss), "val_acc": float(acc)}


__all__ = ["ArithmeticRun", "CharRun", "GenerativeRun", "Run", "load", "recipe", "train"]
