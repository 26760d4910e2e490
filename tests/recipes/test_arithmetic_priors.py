"""The priors table: one row per arithmetic recipe, each naming a real recipe, saying what the recipe's resolved
config builds in, quoting only figures BENCHMARKS.md has, and the README's copy rendered from it."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from latentworks.recipes import arithmetic
from latentworks.recipes.arithmetic_priors import PRIOR_KINDS, PRIORS, given_text, not_given, priors_of, table_rows

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "make_priors_table.py"
# The kinds built on the place-value column view (models/aligned.py): each row of theirs must say so.
COLUMN_KINDS = ("text2text_aligned", "text2text_automaton", "text2text_long_multiply", "img2text_read",
                "text2img_draw")


def test_every_recipe_has_one_row_and_every_row_names_a_recipe():
    keys = [(row.task, row.recipe) for row in PRIORS]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(arithmetic.MODEL_CONFIGS)
    assert [k for k in arithmetic.RECIPES if k not in set(keys)] == []
    with pytest.raises(KeyError, match="no priors row"):
        priors_of("text2text", "no-such-recipe")


@pytest.mark.parametrize("row", PRIORS, ids=lambda r: f"{r.task}-{r.recipe}")
def test_a_row_names_known_kinds_and_says_what_the_resolved_config_builds_in(row):
    kinds = [kind for kind, _ in row.given]
    assert all(kind in PRIOR_KINDS for kind in kinds) and len(kinds) == len(set(kinds))
    assert kinds == sorted(kinds, key=list(PRIOR_KINDS).index)  # the table's order, row after row
    assert row.learns and row.data and row.figure
    model = arithmetic.recipe(row.recipe, task=row.task).model
    # what the model's own config switches on is in the row, and what it does not is not claimed
    assert ("product placement" in kinds) == bool(getattr(model, "digit_pairs", False))
    assert ("inverse" in kinds) == bool(getattr(model, "subtract_by_adding", False))
    assert ("commutativity" in kinds) == bool(getattr(model, "symmetric_ops", "") or getattr(model, "symmetric", 0))
    states = getattr(model, "write_states", None) or getattr(model, "carry_states", None)  # a carry of k symbols
    assert ("position-free" in kinds) == ("discrete state" in kinds) == (states is not None)
    if arithmetic.MODEL_CONFIGS[(row.task, row.recipe)][0] in COLUMN_KINDS:
        assert "alignment" in kinds and "order" in kinds
    if getattr(model, "zero_pad", False):
        assert "zero-padded" in dict(row.given)["width"]
    if getattr(model, "pad_columns", 0):
        assert f"0–{model.pad_columns} leading zero columns" in dict(row.given)["width"]
    if states is not None:
        assert f"one of {states} " in dict(row.given)["discrete state"]
    if hasattr(model, "symbols"):
        assert f"softmax over {model.symbols} classes" in dict(row.given)["symbols"]
    if row.task != "text2text":
        assert "segmentation" in kinds  # every image recipe is handed one 28×28 cell per character


def test_every_figure_is_one_benchmarks_md_holds():
    benchmarks = (ROOT / "BENCHMARKS.md").read_text()
    for row in PRIORS:
        numbers = re.findall(r"\d+\.\d+", row.figure)
        assert numbers or row.figure.startswith("not measured"), row.recipe
        assert [x for x in numbers if x not in benchmarks] == [], row.recipe


def test_what_no_recipe_is_given_is_derived_from_the_rows():
    assert "pretrained parts" in not_given() and "alignment" not in not_given()
    assert given_text(priors_of("text2text", "course")) == "nothing about arithmetic"
    cells = table_rows({"text2text": "text→text"}, code=False)
    assert cells[0][:2] == ["text→text", "course"] and not any("`" in c for r in cells for c in r)


def test_the_readme_block_is_what_the_data_gives(tmp_path):
    check = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- priors:begin -->")[1].split("<!-- priors:end -->")[0]
    assert all(f"`{row.recipe}`" in block for row in PRIORS)

    drifted = tmp_path / "README.md"
    drifted.write_text(readme.replace(PRIORS[0].learns, "something else"))
    check = subprocess.run([sys.executable, str(SCRIPT), "--check", "--readme", str(drifted)], capture_output=True,
                           text=True)
    assert check.returncode == 1 and "make_priors_table.py" in check.stderr
    assert subprocess.run([sys.executable, str(SCRIPT), "--readme", str(drifted)], capture_output=True).returncode == 0
    assert drifted.read_text() == readme  # only the block changed, back to the data's
