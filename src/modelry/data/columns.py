"""In-memory columns as the rest of modelry consumes them: one numpy array per column.

A string column may also arrive dictionary-encoded (:class:`Coded`), as Arrow reads it,
so categorical encoders map each distinct value once instead of once per row.

A request's few rows may also arrive as a plain Python list per column
(:data:`InputColumn`), as the HTTP codecs build them from JSON: the preprocessor's
row path reads such lists directly, and building numpy arrays only to read them
back value by value cost more than the encoding itself. :func:`as_array` turns a
list into the array it stands for.

A request of JSON records may even stay records (:class:`Records`): a mapping of
columns that builds a column only when asked for it, which the row path never does
(it reads the records row by row, as they came).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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


def plain_array(values: InputColumn) -> np.ndarray:
    """Any column form as a plain array: numbers stay as they are, text is an object array
    of str (None where missing); what a model kind reads when it wants no other form.

    Example:
        >>> plain_array(Coded(np.array([1, -1]), np.array(["a", "b"], dtype=object)))
        array(['b', None], dtype=object)
    """
    array = as_array(values)
    return array.decode() if isinstance(array, Coded) else array


class Records(Mapping[str, list[Any]]):
    """Rows as the records they came in, read as columns: ``records["age"]`` is a list.

    Every record holds every name (the maker checks that: the HTTP codec checks each
    record's keys and value types); a column is built on each access. The
    preprocessor's row path reads the records themselves, row by row, so a request's
    records are never turned into columns on the way to the model.

    Example:
        >>> Records([{"age": 41, "job": "admin."}], ("age", "job"))["age"]
        [41]
    """

    __slots__ = ("_keys", "names", "rows")

    def __init__(self, rows: list[dict[str, Any]], names: Sequence[str]) -> None:
        self.rows = rows
        self.names = names if type(names) is tuple else tuple(names)
        self._keys: frozenset[str] | None = None  # made on first need: not per request

    def __getitem__(self, name: str) -> list[Any]:
        if name not in self:
            raise KeyError(name)
        return [row[name] for row in self.rows]

    def __contains__(self, name: object) -> bool:
        if self._keys is None:
            self._keys = frozenset(self.names)
        return name in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Records({len(self.rows)} rows of {', '.join(self.names)})"
