"""In-memory columns as the rest of modelry consumes them: one numpy array per column.

A string column may also arrive dictionary-encoded (:class:`Coded`), as Arrow reads it,
so categorical encoders map each distinct value once instead of once per row.
"""

from __future__ import annotations

from dataclasses import dataclass

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
