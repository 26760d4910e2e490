"""One battery for every registered model kind (issue 24, item 8), parameterised over ``registry.kinds()``.

A new kind gets every test here without writing any: register it in its model file, and give its family's
recipes module a tiny ``example(kind)`` run (generative kinds need not even that). Each kind is checked for a
save/load round trip, same seed same weights, resume equal to an uninterrupted run, a bad config refused in one
line, each capability it declares exercised on a tiny model, and each one it does not declare refused. A kind no
family serves (the digit reader) gets what applies to a bare model: the round trip, the same seed, classify.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.figure
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import latentworks as lw
from latentworks import registry
from latentworks.config import flatten, override, validate
from latentworks.errors import LatentworksError
from latentworks.latent.tools import code_grid
from latentworks.models.io import load_model, read_model_info, save_model
from latentworks.training.module import StepContext

KINDS = registry.kinds()
SERVED = [k for k in KINDS if k.family is not None]  # the kinds a family trains and a front end serves


def ids(kinds: list[registry.Kind]) -> list[str]:
    return [k.name for k in kinds]


@pytest.fixture(scope="module", autouse=True)
def quiet_and_fast(tmp_path_factory):
    """A private cache, one thread, and figures not rendered: the pipelines' figures have tests of their own, and
    drawing them would take most of this battery's time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENTWORKS_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setattr(matplotlib.figure.Figure, "savefig", lambda self, fname, *a, **k: Path(fname).write_bytes(b""))
        yield
    torch.set_num_threads(threads)


def example(kind: registry.Kind, **changes: Any) -> Any:
    """The kind's tiny run config, from its family's recipes module."""
    cfg = registry.family(kind.family).recipes_module().example(kind.name)
    return override(cfg, changes) if changes else cfg


def build(kind: registry.Kind, seed: int) -> Any:
    """A freshly initialised model of the kind's example shape (a NumPy model draws from ``init(config, rng)``)."""
    if kind.family is None:
        config = kind.cls.Config()
    else:
        cfg = example(kind)
        config = registry.family(kind.family).recipes_module().resolve(cfg).model
    if not issubclass(kind.cls, torch.nn.Module):
        return kind.cls.init(config, np.random.default_rng(seed))
    torch.manual_seed(seed)
    return kind.cls(config)


def state(model: Any) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.asarray(v)) if isinstance(v, np.ndarray) else v.detach().clone()
            for k, v in model.state_dict().items()}


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model.safetensors"))


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def one_line_error(call: Callable[[], Any]) -> str:
    with pytest.raises(LatentworksError) as err:
        call()
    message = str(err.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``runs(kind, which)``: the kind's example trained into a run folder, once per module. ``straight`` and
    ``again``: the same config twice; ``resumed``: stopped by the time limit after its first step, then resumed."""
    root = tmp_path_factory.mktemp("every_kind")
    made: dict[tuple[str, str], Path] = {}

    def get(kind: registry.Kind, which: str = "straight") -> Path:
        if (kind.name, which) not in made:
            out = root / f"{kind.name}-{which}"
            if which == "resumed":
                lw.train(example(kind, **{"train.time_limit_s": 0}), out)  # 0 s: stop after the first step
                made[(kind.name, "interrupted")] = shutil.copytree(out, root / f"{kind.name}-interrupted")
                lw.train(example(kind), out, resume=True)
            else:
                lw.train(example(kind), out)
            made[(kind.name, which)] = out
        return made[(kind.name, which)]

    return get


# ------------------------------------------------------------------------------------------ every kind
def test_every_kind_is_covered():
    """Each served kind's family offers a tiny example that trains that very kind."""
    assert len(KINDS) == len({k.name for k in KINDS}) and SERVED
    for kind in SERVED:
        cfg = example(kind)
        assert cfg.family == kind.family and type(cfg.model) is kind.cls.Config, kind.name


@pytest.mark.parametrize("kind", SERVED, ids=ids(SERVED))
def test_save_load_round_trip(kind, runs, tmp_path):
    trained = runs(kind)
    info = read_model_info(trained)
    assert (info["family"], info["kind"]) == (kind.family, kind.name)
    # The loaded model saved again into a copy of the run folder: the same weights, the same answers.
    again = shutil.copytree(trained, tmp_path / "again")
    for name in ("model.json", "model.safetensors"):
        (again / name).unlink()
    extra = {k: v for k, v in info.items() if k not in ("family", "kind", "config")}  # what the run adds
    save_model(load_model(trained), again, extra=extra)
    assert same(weights(again), weights(trained))
    assert read_model_info(again)["kind"] == kind.name
    assert outputs(kind, lw.load(again)) == outputs(kind, lw.load(trained))
    # Another model saved there is what loads back (its weights, not the trained ones).
    fresh = build(kind, seed=1)
    save_model(fresh, again, extra=extra)
    assert same(state(load_model(again)), state(fresh)) and not same(weights(again), weights(trained))


@pytest.mark.parametrize("kind", KINDS, ids=ids(KINDS))
def test_same_seed_builds_the_same_weights(kind):
    a, b, c = build(kind, seed=0), build(kind, seed=0), build(kind, seed=1)
    assert same(state(a), state(b))
    assert not same(state(a), state(c))


@pytest.mark.parametrize("kind", SERVED, ids=ids(SERVED))
def test_same_seed_trains_the_same_weights(kind, runs):
    assert same(weights(runs(kind, "straight")), weights(runs(kind, "again")))


@pytest.mark.parametrize("kind", SERVED, ids=ids(SERVED))
def test_resume_equals_uninterrupted(kind, runs):
    resumed, straight = runs(kind, "resumed"), runs(kind, "straight")
    assert not same(weights(runs(kind, "interrupted")), weights(straight))  # it did stop early
    assert same(weights(resumed), weights(straight))
    assert _resumed_at(resumed) == 1 and _resumed_at(straight) is None  # and went on from its checkpoint


def _resumed_at(run_dir: Path) -> Any:
    """``resumed_at_step`` wherever the family's results.json keeps it."""
    found = [v for k, v in flatten(json.loads((run_dir / "results.json").read_text())).items()
             if k.rsplit(".", 1)[-1] == "resumed_at_step"]
    assert len(found) == 1, found
    return found[0]


UNSERVED = [k for k in KINDS if k.family is None]  # helper models (the digit reader): no run, no front end


@pytest.mark.parametrize("kind", UNSERVED, ids=ids(UNSERVED))
def test_a_model_no_family_serves_round_trips(kind, tmp_path):
    model = build(kind, seed=0).eval()
    save_model(model, tmp_path)
    assert (read_model_info(tmp_path)["family"], read_model_info(tmp_path)["kind"]) == (None, kind.name)
    loaded = load_model(tmp_path)
    assert same(state(loaded), state(model))
    assert outputs(kind, loaded) == outputs(kind, model)
    assert kind.name in one_line_error(lambda: lw.load(tmp_path))  # no Python API verbs: a one-line refusal


# ------------------------------------------------------------------------------------------ a bad config
def _sizes(kind: registry.Kind) -> list[str]:
    """The model's whole-number sizes a user sets (those the data decides are filled in by ``resolve``)."""
    cfg, resolve = example(kind), registry.family(kind.family).recipes_module().resolve
    found = []
    for f in dataclasses.fields(cfg.model):
        value = getattr(cfg.model, f.name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            continue
        if getattr(resolve(override(cfg, {f"model.{f.name}": value + 7})).model, f.name) == value + 7:
            found.append(f.name)
    return found


SIZES = [pytest.param(kind, name, id=f"{kind.name}-{name}") for kind in SERVED for name in _sizes(kind)]


@pytest.mark.parametrize("kind, name", SIZES)
def test_a_negative_size_is_refused_in_one_line(kind, name):
    message = one_line_error(lambda: validate(example(kind, **{f"model.{name}": -1})))
    assert name in message or name.replace("_", "-") in message, message


@pytest.mark.parametrize("kind", SERVED, ids=ids(SERVED))
def test_training_a_bad_config_stops_before_any_work(kind, tmp_path):
    assert _sizes(kind), f"{kind.name}: no size field to test"
    name = _sizes(kind)[0]
    one_line_error(lambda: lw.train(example(kind, **{f"model.{name}": -1}), tmp_path / "bad"))
    assert not (tmp_path / "bad" / "config.json").exists()


# ------------------------------------------------------------------------------------------ capabilities
# Each check uses one declared capability through the front end a user has (the Python API; the bare model for
# a kind no family serves), asserts what the capability promises, and returns what it gave, for comparisons.
def _image_shape(model: Any, n: int) -> tuple[int, ...]:
    """``n`` images of the model's own size: (N, H, W) grey, (N, H, W, 3) colour."""
    c = model.config
    return (n, c.image_size, c.image_size) + ((3,) if c.channels == 3 else ())


def _images(model: Any, n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).random(_image_shape(model, n), dtype=np.float32)


def _tensor(model: Any, n: int = 4) -> torch.Tensor:
    x = torch.from_numpy(_images(model, n))
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


def _labels(kind: registry.Kind, n: int) -> torch.Tensor | None:
    return torch.arange(n) % 10 if kind.can("label") else None


def _pictures(images: Any, shape: tuple[int, ...]) -> bytes:
    images = np.asarray(images)
    assert images.shape == shape and np.isfinite(images).all()
    assert images.min() >= 0 and images.max() <= 1
    return images.tobytes()


def check_sample(kind, run):
    shape = _image_shape(run.model, 4)
    drawn = _pictures(run.sample(n=4, seed=0), shape)
    assert drawn == _pictures(run.sample(n=4, seed=0), shape) != _pictures(run.sample(n=4, seed=1), shape)
    return drawn


def check_decode(kind, run):
    z = np.random.default_rng(0).standard_normal((3, run.model.config.latent_dim)).astype(np.float32)
    decoded = _pictures(run.decode(z), _image_shape(run.model, 3))
    assert decoded != _pictures(run.decode(-z), _image_shape(run.model, 3))
    return decoded


def check_encode(kind, run):
    images = _images(run.model, 3)
    z = np.asarray(run.encode(images, label=1 if kind.can("label") else None))
    assert z.shape == (3, run.model.config.latent_dim) and np.isfinite(z).all()
    assert not np.array_equal(z[0], z[1])  # other images, other codes
    return z.tobytes()


def check_reconstruct(kind, run):
    images = _images(run.model, 3)
    return _pictures(run.reconstruct(images, label=1 if kind.can("label") else None), images.shape)


def check_label(kind, run):
    shape = _image_shape(run.model, 4)
    ones = _pictures(run.sample(n=4, seed=0, label=1), shape)
    assert ones != _pictures(run.sample(n=4, seed=0, label=7), shape)
    return ones


def check_elbo(kind, run):
    x = _tensor(run.model)
    elbo = run.model.elbo(x, labels=_labels(kind, len(x)), generator=torch.Generator().manual_seed(0))
    assert elbo.shape == (len(x),) and torch.isfinite(elbo).all()
    assert np.isfinite(run.results["test"]["elbo"])  # the headline measure the run recorded
    return elbo.numpy().tobytes()


def check_adversarial(kind, run):
    model = load_model(run.dir)  # a copy of its own: the step below trains it
    x, labels = _tensor(model), _labels(kind, 4)

    def judged() -> torch.Tensor:
        with torch.no_grad():
            return model.eval().discriminate(x, labels)

    before = judged()
    ctx = StepContext(seed=0, rank=0, world_size=1, device=torch.device("cpu"),
                      optimizers=model.configure_optimizers(run.config.train), wrap=lambda m: m)
    logs = model.train().training_step((x,) if labels is None else (x, labels), ctx).logs
    assert np.isfinite(logs["d_loss"])
    assert not torch.equal(judged(), before)  # the discriminator stepped
    return before.numpy().tobytes()


def check_codes(kind, run):
    one_line_error(lambda: code_grid(run.model, seed=0))  # not trained with codes: refused
    coded = build_with(kind, **{"model.codes": 3}).eval()
    grid = code_grid(coded, seed=0, columns=2).images
    _pictures(grid, _image_shape(coded, 6))
    assert not np.array_equal(grid[0], grid[2])  # code 0 and code 1, same noise
    return b""


def _query(run) -> str:
    return "3+4" if "+" in run.spec.ops else f"3{run.spec.ops[0]}4"


def _answer_text(run, answer: Any) -> str:
    assert isinstance(answer, str) and len(answer) <= run.spec.answer_len  # '' is all padding: untrained
    assert set(answer) <= set(run.spec.charset), answer
    return answer


def check_answer(kind, run):
    answers = [run.predict(f"{i}{_query(run)[1]}{9 - i}", data_dir="embedded") for i in range(6)]
    if kind.can("draw"):
        return [a.tobytes() for a in answers]  # check_draw looks at the pictures
    return [_answer_text(run, a) for a in answers]


def check_handwriting(kind, run):
    glyphs = np.random.default_rng(0).random((run.spec.query_len, 28, 28), dtype=np.float32)
    read = _answer_text(run, run.predict(_query(run), glyphs=glyphs))
    assert read == run.predict(_query(run), glyphs=glyphs)
    return read


def check_draw(kind, run):
    return _pictures(run.predict(_query(run), data_dir="embedded"), (run.spec.answer_len, 28, 28))


def check_generate(kind, run):
    text = run.generate("The ", length=20, seed=0)
    assert isinstance(text, str) and len(text) == 20
    assert text == run.generate("The ", length=20, seed=0)
    return text


def check_classify(kind, model):
    digits, confidence = model.predict(torch.from_numpy(np.random.default_rng(0).random((5, 28, 28), np.float32)))
    assert digits.shape == (5,) and digits.dtype == torch.int64
    assert int(digits.min()) >= 0 and int(digits.max()) < model.config.num_classes
    assert ((confidence > 0) & (confidence <= 1)).all()
    return digits.tolist(), confidence.numpy().tobytes()


def check_embed_faces(kind, model):
    faces = torch.from_numpy(np.random.default_rng(0).random((3, 3, 64, 64), np.float32))
    features = model.embed_images(faces)
    assert features.shape == (3, model.feature_dim) and torch.isfinite(features).all()
    assert torch.equal(features, model.embed_images(faces))  # the same faces, the same features
    return features.numpy().tobytes()


CHECKS: dict[str, Callable[[registry.Kind, Any], Any]] = {
    name[len("check_"):]: fn for name, fn in list(globals().items()) if name.startswith("check_")}


def build_with(kind: registry.Kind, **changes: Any) -> Any:
    cfg = registry.family(kind.family).recipes_module().resolve(example(kind, **changes))
    torch.manual_seed(0)
    return kind.cls(cfg.model)


def outputs(kind: registry.Kind, run: Any) -> dict[str, Any]:
    """What the run gives for each capability its kind declares."""
    return {cap: CHECKS[cap](kind, run) for cap in sorted(kind.capabilities)}


def test_every_capability_has_a_check():
    assert set(CHECKS) == set(registry.CAPABILITIES)


@pytest.mark.parametrize("kind", SERVED, ids=ids(SERVED))
def test_declared_capabilities_work(kind, runs):
    run = lw.load(runs(kind))
    assert run.kind == kind.name and kind.capabilities
    outputs(kind, run)


# What would use a capability, through the Python API: a kind that does not declare it must refuse it in one line.
OFFERS: dict[str, Callable[[registry.Kind, Any], Any]] = {
    "sample": lambda kind, run: run.sample(n=2),
    "decode": lambda kind, run: run.decode(np.zeros((1, 4), np.float32)),
    "encode": lambda kind, run: run.encode(np.zeros((2, 28, 28), np.float32)),
    "reconstruct": lambda kind, run: run.reconstruct(np.zeros((2, 28, 28), np.float32)),
    "label": lambda kind, run: run.sample(n=2, label=1),
    "codes": lambda kind, run: code_grid(run.model, seed=0),
    "elbo": lambda kind, run: validate(example(kind, **{"eval.iw_k": 2})),  # the held-out IW-NLL
    "answer": lambda kind, run: run.predict("1+2"),
    "handwriting": lambda kind, run: run.predict("1+2", glyphs=np.zeros((5, 28, 28), np.float32)),
    "generate": lambda kind, run: run.generate("The "),
}
REFUSALS = [pytest.param(kind, cap, id=f"{kind.name}-{cap}") for kind in SERVED for cap in OFFERS
            if not kind.can(cap)]


@pytest.mark.parametrize("kind, capability", REFUSALS)
def test_undeclared_capability_is_refused_in_one_line(kind, capability, runs):
    run = lw.load(runs(kind))
    one_line_error(lambda: OFFERS[capability](kind, run))


EXPLORER_NAMES = {"labels": "label"}  # the explorer's word for a capability where it differs


@pytest.mark.parametrize("kind", SERVED, ids=ids(SERVED))
def test_the_api_lists_no_undeclared_capability(kind, runs):
    offered = set(lw.load(runs(kind)).verbs) & set(registry.CAPABILITIES)
    assert offered <= kind.capabilities, sorted(offered - kind.capabilities)


@pytest.mark.parametrize("kind", SERVED, ids=ids(SERVED))
def test_the_explorer_offers_no_undeclared_capability(kind, runs):
    from latentworks.explore.runs import load_run  # the explorer's loader, as its page sees a run

    offered = {EXPLORER_NAMES.get(c, c) for c in load_run(runs(kind), kind.name).capabilities()}
    offered &= set(registry.CAPABILITIES)
    assert offered and offered <= kind.capabilities, sorted(offered - kind.capabilities)
