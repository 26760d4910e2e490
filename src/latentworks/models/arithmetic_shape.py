"""The shape of an arithmetic task as a model sees it: one nested field (``model.shape``) of every arithmetic model
config, filled from the data by ``recipes.arithmetic.resolve``, so that the five values have one home.

``model.json`` files written before the field existed hold the five values flat in the model's config;
:func:`nest_shape` moves them into ``shape`` when such a file is loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any

from latentworks.config import Derived


@dataclass
class ArithmeticShape:
    vocab_size: Derived[int] = 13  # characters of the charset
    charset: Derived[str] = "0123456789+- "  # ArithmeticSpec.charset: digits, operators, space last
    query_len: Derived[int] = 5  # characters of a padded query
    answer_len: Derived[int] = 3  # characters of a padded answer
    layout: Derived[str] = "v23"  # how answers are padded: v23 right, v21 left


SHAPE_FIELDS = tuple(f.name for f in fields(ArithmeticShape))


def nest_shape(values: dict[str, Any]) -> dict[str, Any]:
    """A model config's saved values with flat shape fields (model.json before 0.3, or ``changes`` such as a wider
    ``query_len``) moved into ``shape``; other values as they are."""
    flat = {k: values[k] for k in SHAPE_FIELDS if k in values}
    if not flat:
        return values
    shape = values.get("shape")
    shape = asdict(shape) if is_dataclass(shape) else dict(shape or {})
    nested = {**shape, **flat}
    if "vocab_size" not in nested and "charset" in nested:  # configs that kept only the charset
        nested["vocab_size"] = len(nested["charset"])
    return {**{k: v for k, v in values.items() if k not in flat}, "shape": nested}


__all__ = ["SHAPE_FIELDS", "ArithmeticShape", "nest_shape"]
