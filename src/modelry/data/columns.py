"""In-memory columns as the rest of modelry consumes them: one numpy array per column.

A string column may also arrive dictionary-encoded (:class:`Coded`), as Arrow reads it,
so categorical encoders map each distinct value once instead of once per row.

A request's few rows may also arrive as a plain Python list per column
(:data:`InputColumn`), as the HTTP codecs build them from JSON: the preprocessor's
row path reads such lists directly, and building numpy arrays only to read them
back value by value cost more than the encoding itself. :func:`as_array` turns a
list into the array it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Coded:
    """A dictionary-encoded column: ``categories[codes[i]]`` is row i; code -1 is missing."""

    codes: np.ndarray  # integer array, shape [n]
    categories: np.ndarray  # object array of str, shape [k]

    def __len__(self) -> int:
        return len(self.codes)

    def decode(self) -> np.ndarray:
        """The plain object array (None where missing)."""
        out = np.empty(len(self.codes), dtype=object)
        valid = self.codes >= 0
        out[valid] = self.categories[self.codes[valid]]
        out[~valid] = None
        return out


ColumnArray = np.ndarray | Coded
"""Numeric columns are float64 arrays (NaN = missing); others object arrays (None = missing)."""

Columns = dict[str, ColumnArray]

InputColumn = ColumnArray | list[Any]
"""What the predict path takes per column: a column, or a plain list of its values
(numbers as int or float, NaN missing; other values as str, None missing)."""


def as_array(values: InputColumn) -> ColumnArray:
    """A list column as the object array it stands for; arrays and Coded pass through.

    Example:
        >>> as_array(["a", None])
        array(['a', None], dtype=object)
    """
    if type(values) is not list:
        return values  # type: ignore[return-value]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
