"""What each arithmetic recipe is given and what it must learn: one row per (task, recipe), declared once.

A result from a generic network and one from a network shaped like the algorithm are not like for like; this
table says which is which. "Given" is what the recipe builds in (the model's fixed re-layouts, its structure, its
targets), read from the model files (``models/seq2seq.py``, ``aligned.py``, ``column_automaton.py``,
``img2text.py``, ``answers_reader.py``, ``text2img.py``, ``compute_draw.py``) and ``recipes/arithmetic.py``.
Every figure is held-out and stands in BENCHMARKS.md, with its split and seeds (BENCHMARKS' older rows call
``columns`` ``best`` and ``course`` ``notebook``).

The README's table (``scripts/make_priors_table.py``) and the report's arithmetic section are rendered from
:data:`PRIORS`; ``tests/recipes/test_arithmetic_priors.py`` holds it to the recipes. Kept free of torch, so the
script runs in a bare interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass

# The kinds of prior a row may name, in the order a row lists them. A kind no row names is given to no recipe;
# the table's note says so (:func:`not_given`).
PRIOR_KINDS: dict[str, str] = {
    "segmentation": "each character handed over as its own 28×28 image",
    "glyph labels": "the character each training glyph was drawn from",
    "symbols": "a per-glyph bottleneck of k classes",
    "alignment": "the operands lined up by place value before the network sees them",
    "order": "the order digits are read or written in",
    "width": "fixed width or widened training layouts",
    "input access": "what the decoder may read directly",
    "position-free": "no position input: the same function at every column",
    "discrete state": "the state carried from column to column is one of k symbols",
    "exact inference": "what is uncertain (a glyph's class, a carry) summed out exactly, not by a network",
    "commutativity": "a + b read as b + a",
    "identity": "adding 0 changes nothing",
    "inverse": "one operation answered through another",
    "product placement": "where a digit pair's product lands",
    "scratchpad": "intermediate results the model must write itself",
    "pretrained parts": "weights trained elsewhere",
}


@dataclass(frozen=True)
class Priors:
    """One recipe's row: ``given`` is (kind from :data:`PRIOR_KINDS`, what exactly) pairs; empty: nothing about
    arithmetic beyond a generic architecture."""

    task: str
    recipe: str
    given: tuple[tuple[str, str], ...]
    learns: str
    data: str
    figure: str  # the headline held-out figure in BENCHMARKS.md, with its split (or "not measured")


_V23 = "0..99 ± 0..99 queries (20,000), a split of them"
_COLUMNS = (("alignment", "a fixed re-layout puts (operator, a_t, b_t) in column t by place value"),
            ("order", "units first, read and written; answer digit t emitted at column t"),
            ("width", "zero-padded: a missing digit reads 0, answers fixed-width"))
_INNER_COLUMNS = (("alignment", "the `columns` view of the read or given characters (place-value columns)"),
                  ("order", "units first, answer digit t at column t (without `columns`' zero padding)"))
_GLYPHS = ("segmentation", "one 28×28 MNIST image per character position")
_GLYPH_ANSWERS_GIVEN = (("symbols", "each glyph squeezed through a softmax over 16 classes of its own; nothing ties "
                                    "a class to a character"),
                        ("order", "answer digits emitted units first"),
                        ("input access", "16 attention heads read the glyphs' symbol embeddings directly"))

PRIORS: tuple[Priors, ...] = (
    Priors("text2text", "course", (),
           "reading the padded query left to right into one LSTM state, place value, digit sums, carries, signs; "
           "answer most significant first",
           f"{_V23}; the course's 20 epochs of batch 8",
           "7.22 % at 10 %, 94.41 % at 50 % (seed 0; the course: 7.4 %, 92.1 %)"),
    Priors("text2text", "attention",
           (("order", "answer digits emitted units first (the query is read as written)"),
            ("input access", "16 attention heads whose values are the input characters themselves")),
           "where each operand's digits sit, digit sums, carries, signs (a bidirectional LSTM and learned attention)",
           f"{_V23}; 6,000 steps",
           "96.99 % at 5 %, 99.09 % at 10 %, 99.74 % at 50 % (seed 0)"),
    Priors("text2text", "columns", _COLUMNS,
           "digit sums, carries, borrows and signs in a bidirectional GRU's continuous state (its forward pass can "
           "carry, its backward one compare)",
           f"{_V23}; 40 epochs",
           "92.09 % at 5 % (seeds 1, 2: 96.64, 95.92 %), 98.84 % at 10 %, 99.99 % at 50 % (seed 0)"),
    Priors("text2text", "columns-long",
           (*_COLUMNS[:2], ("width", "zero-padded, and every training batch widened by 0–8 leading zero columns")),
           "as `columns`, with carries and comparisons held over up to 10 columns",
           f"{_V23}; 40 epochs",
           "99.70 % at 10 % (seed 0); on fresh 10-digit operands `+` 67.1 %, `−` 0.7 %"),
    Priors("text2text", "columns-multiply",
           (*_COLUMNS, ("product placement", "each digit pair (a_i, b_j) adds two learned vectors (a table over the "
                        "two digits) into columns i + j and i + j + 1, where its units and tens land on paper")),
           "every digit product (the pair tables), what passes up a column, every carry",
           "0..99 × 0..99 (10,000 queries; with `+-*` 30,000), a split of them; 100 epochs, at least 16,000 steps",
           "`*`: 95.90 / 95.81 / 98.02 % at 10 %, 99.68 / 99.38 / 99.66 % at 50 %; `+-*`: 96.53–97.08 % at 10 %, "
           "98.25–99.59 % at 50 % (seeds 0–2)"),
    Priors("text2text", "automaton",
           (*_COLUMNS[:2], ("width", "zero-padded, every training batch widened by 0–4 leading zero columns"),
            ("position-free", "no position anywhere: the 100th column looks like the 2nd"),
            ("discrete state", "the writer carries one of 2 symbols (straight-through one-hot); 4 readers carry one "
                               "of 3 each, for the sign"),
            ("commutativity", "a `+` column's two digits read as an unordered pair"),
            ("inverse", "`−` answered as the c with b + c = a, found column by column with its own learned `+`")),
           "the (operator, digit, digit, symbol) → (digit, next symbol) table, what its symbols mean, the map from "
           "the last symbol to the sign; cannot multiply",
           f"{_V23} (`+ −` only); 8,000 steps",
           "100.00 % at 10 % (seeds 0–4); `+` and `−` 100 % on fresh operands of 1 to 100 digits"),
    Priors("text2text", "long-multiply",
           (("alignment", "`columns`' re-layout: a's and b's digits by place value"),
            ("order", "units first; a fixed step order: a running total plus one row at a time, column by column "
                      "from the units up, a column's carry added after its row's digit"),
            ("width", "zero-padded: a missing digit reads 0; training batches read with 0–2 extra leading zero "
                      "digits per operand"),
            ("position-free", "no position anywhere: two tables, the same at every column and every row"),
            ("discrete state", "every intermediate is one of the answer's 10 digit symbols; the carry is one of 10 "
                               "symbols too (`0` below the units)"),
            ("commutativity", "the column table reads its two symbols as an unordered pair"),
            ("identity", "the column table's 19 entries with a `0` are fixed: x + 0 = x, carrying `0`"),
            ("product placement", "the pair (a_i, b_j) writes two symbols, landing in columns i + j and i + j + 1 "
                                  "(the lattice method); every other place of a row holds `0`")),
           "the pair table (a_i, b_j) → two digits (100 entries) and the column table (x, y) → two digits for x, y "
           "≠ 0, each entry 10 scores, from the answers alone (the symbols' distributions carried through the "
           "tables while training); what a digit product, a digit sum and a carry are",
           "0..99 × 0..99 (`*` only, 10,000 queries), a split of them; 5,000 steps",
           "100.00 % at 10 % and at 50 % (seeds 0–2), mirror-free too; 100 % on fresh 3×3- to 20×20-digit and "
           "unequal (4×2 to 10×4) products, 10,000 each"),
    Priors("img2text", "course", (_GLYPHS,),
           "reading handwriting (a per-step CNN) and the arithmetic, from the answers",
           f"{_V23}, each training query drawn once in MNIST-train handwriting; pixels and answers only; the "
           "course's 20 epochs of batch 28",
           "37.62 % at 50 % (seed 0)"),
    Priors("img2text", "glyph-columns",
           (_GLYPHS, ("glyph labels", "the query text each training strip was drawn from, as per-glyph targets"),
            *_INNER_COLUMNS),
           "reading each glyph (a CNN against its label) and `columns`' arithmetic, trained on the true query text",
           f"{_V23}, fresh MNIST-train handwriting every batch; 20 epochs",
           "97.47 % at 50 % (seed 0)"),
    Priors("img2text", "glyph-answers", (_GLYPHS, *_GLYPH_ANSWERS_GIVEN),
           "what its glyph classes mean (a randomly initialised CNN), reading and arithmetic, from answers alone",
           f"{_V23}, fresh MNIST-train handwriting every batch; pixels and answer strings only; 20,000 steps",
           "97.05 / 96.74 / 97.15 % at 50 % (seeds 0–2)"),
    Priors("img2text", "mnist-addition",
           (("segmentation", "each digit its own 28×28 MNIST image, as the benchmark gives them (randomly shifted, "
                             "turned, scaled and sheared in training); the middle `+` image skipped"),
            ("symbols", "each glyph a softmax over 16 classes of its own, nothing tying a class to a digit; the loss "
                        "asks for the classes to be used about equally often"),
            ("alignment", "column t holds the t-th digit of each number"),
            ("order", "units first, read and written (the sum's N + 1 digits)"),
            ("position-free", "one table at every column, no position input"),
            ("discrete state", "a carry of one of 2 states (which one the units start in is learned); the last one "
                               "gives the top digit through a learned map"),
            ("exact inference", "the symbols and carries summed out exactly column by column (a forward pass), "
                                "answers decoded as the most probable path"),
            ("commutativity", "a column's two symbols read as an unordered pair (the table symmetrised)")),
           "the glyph CNN (randomly initialised) and the table (symbol, symbol, carry) → (sum digit, next carry): "
           "what a class or a carry means, from the sums alone; no digit label, pretrained reader or logic program",
           "the protocol's fixed examples: MNIST train shuffled into 60,000 / 2N sums, each image once, labelled "
           "with the sum only; 3 epochs of batch 8",
           "N = 1: 98.59 ± 0.10 %, N = 2: 97.54 ± 0.18 %, N = 4: 95.12 ± 0.31 % of the test sums (seeds 0–4); "
           "the N = 4 models on N = 15: 83.12 ± 1.62 %, on N = 100: 29.60 ± 5.18 %"),
    Priors("text2img", "course", (("segmentation", "one 28×28 image drawn per answer character position"),),
           "the arithmetic and the drawing together, from the answer's pixels (one LSTM state, a deconv per step)",
           f"{_V23}; answers as MNIST-train handwriting, one drawing; the course's 20 epochs of batch 8",
           "10.95 % at 50 %, read back by the digit reader v2 (seed 0)"),
    Priors("text2img", "pen",
           (("segmentation", "one glyph drawn per answer character"),
            ("glyph labels", "the answer text each target drawing was made from: `columns` computes it, the pen draws "
                             "from it"), *_INNER_COLUMNS),
           "`columns`' arithmetic, each character's shape and a space of handwriting styles (a conditional VAE)",
           f"{_V23}, answers in fresh MNIST-train handwriting every batch; 30 epochs",
           "99.02 / 99.15 / 98.32 % at 50 %, read back by the digit reader v2 (seeds 0–2)"),
)


def priors_of(task: str, recipe: str) -> Priors:
    """The row of ``recipe`` for ``task``; a KeyError names what is missing."""
    for row in PRIORS:
        if (row.task, row.recipe) == (task, recipe):
            return row
    raise KeyError(f"no priors row for the {task} recipe {recipe!r}; add one to recipes/arithmetic_priors.py")


def given_text(row: Priors, markdown: bool = False) -> str:
    """A row's ``given`` in one line: 'kind: what · kind: what' (the kinds in bold for Markdown), or what an
    empty row means."""
    mark = "**" if markdown else ""
    return " · ".join(f"{mark}{kind}{mark}: {what}" for kind, what in row.given) or "nothing about arithmetic"


def not_given(rows: tuple[Priors, ...] = PRIORS) -> list[str]:
    """The kinds of prior no row names: what no recipe is given."""
    used = {kind for row in rows for kind, _ in row.given}
    return [kind for kind in PRIOR_KINDS if kind not in used]


COLUMNS = ("task", "recipe", "given (built in, not learned)", "learns", "trained on", "held-out figure")


def table_rows(task_names: dict[str, str], rows: tuple[Priors, ...] = PRIORS, *, code: bool = True
               ) -> list[list[str]]:
    """One list of cells per row, in :data:`COLUMNS`' order; ``code`` False drops the Markdown backticks (for a
    page that escapes its text)."""
    def cell(text: str) -> str:
        return text if code else text.replace("`", "")

    return [[task_names.get(r.task, r.task), cell(f"`{r.recipe}`"), cell(given_text(r, markdown=code)), cell(r.learns),
             cell(r.data), cell(r.figure)] for r in rows]


def note(rows: tuple[Priors, ...] = PRIORS) -> str:
    """What the table leaves unsaid: where the figures come from and which priors no recipe has."""
    missing = not_given(rows)
    return ("Held-out exact match from BENCHMARKS.md, with its split (share of the queries trained on) and seeds; "
            "text→image answers are drawn and read back by the packaged digit reader, which never trains anything."
            + (f" Given to no recipe: {', '.join(missing)}." if missing else ""))


__all__ = ["COLUMNS", "PRIORS", "PRIOR_KINDS", "Priors", "given_text", "not_given", "note", "priors_of",
           "table_rows"]
