"""The registry: every family and model kind declared once, and every front end asking it."""

import subprocess
import sys

import pytest

from latentworks import registry
from latentworks.cli import commands
from latentworks.errors import LatentworksError


def test_every_family_names_parts_that_exist():
    names = registry.family_names()
    assert names == ["arithmetic", "generative", "charrnn"]
    for fam in registry.families():
        module = fam.recipes_module()
        for part in ("RunConfig", "recipe", "recipe_names", "from_json"):
            assert callable(getattr(module, part)), (fam.name, part)
        assert module.RunConfig.family == fam.name
        assert callable(fam.train_function())
        assert fam.api_class().family == fam.name
        for verb in fam.verbs.values():
            assert callable(registry.resolve(verb.handler)), verb.handler
        assert fam.measures and fam.kinds()


def test_every_kind_is_declared_once_with_known_capabilities():
    kinds = registry.kinds()
    assert len({k.name for k in kinds}) == len(kinds)
    for kind in kinds:
        assert kind.cls.kind == kind.name and kind.cls.family == kind.family
        assert kind.capabilities <= set(registry.CAPABILITIES)
        assert kind.family is None or kind.family in registry.family_names()
        assert kind.measures, kind.name  # every kind says how it is judged
    with pytest.raises(ValueError, match="unknown capabilities"):
        registry.register_model("x", family=None, title="x", capabilities=("fly",))


def test_capabilities_group_the_generative_kinds():
    assert set(registry.kind_names("generative", "encode")) == {"cae", "vae", "cvae"}
    assert set(registry.kind_names("generative", "elbo")) == {"vae", "cvae"}
    assert set(registry.kind_names("generative", "adversarial")) == {"dcgan", "cgan"}
    assert set(registry.kind_names("generative", "label")) == {"cvae", "cgan"}
    assert set(registry.kind_names("charrnn")) == {"char_lstm", "numpy_rnn", "numpy_lstm"}


def test_unknown_names_are_one_line_errors():
    for call in (lambda: registry.family("poetry"), lambda: registry.kind("transformer")):
        with pytest.raises(LatentworksError) as err:
            call()
        assert "\n" not in str(err.value)


def test_family_of_a_model_json_old_and_new():
    assert registry.family_of({"family": "generative", "kind": "vae"}).name == "generative"
    assert registry.family_of({"kind": "dcgan"}).name == "generative"  # written before model.json named it
    assert registry.family_of({"kind": "text2text_aligned", "task": "text2text"}).name == "arithmetic"
    assert registry.family_of({"kind": "digit_reader"}) is None  # a helper model no front end serves
    assert registry.family_of({"kind": "no-such-kind"}) is None


def test_headlines_read_the_kind_measures_from_results():
    gan = {"kind": "generative/dcgan", "eval": {"fld_ratio": 1.77, "precision": 0.8, "recall": float("nan")},
           "train": {"seconds": 12.0}}
    found = registry.headlines(gan)
    assert [(m.key, v) for m, v in found] == [("eval.fld_ratio", 1.77), ("eval.precision", 0.8)]  # NaN left out
    measure, value = registry.headline(gan)
    assert measure.better == "lower" and value == 1.77
    arithmetic = {"kind": "arithmetic/text2text", "test": {"exact_match": 0.98, "char_accuracy": 0.99}}
    assert [m.name for m, _ in registry.headlines(arithmetic)] == ["exact match", "per-character accuracy"]
    assert registry.headline({"kind": "charrnn/numpy", "val_loss": 1.9})[1] == 1.9
    assert registry.headlines({"kind": "unknown/x"}) == []


def test_the_cli_lists_what_the_registry_declares():
    listed = commands()
    for fam in registry.families():
        assert listed[fam.cli][1] == fam.verbs
    out = subprocess.run([sys.executable, "-c", "import sys\nfrom latentworks.cli import main\nmain(['--help'])\n"
                          "print('torch' in sys.modules)"], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")  # listing families imports no model
