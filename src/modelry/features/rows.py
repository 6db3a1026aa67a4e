"""The per-request path of a preprocessor: a few rows encoded one value at a time.

A numpy call costs a microsecond or more whatever its size, and the vectorised path
makes several per column, so a one-row request spent most of its time in fixed costs.
A :class:`RowPlan` instead loops over the rows and, in each, over the encoders: each
encoder's :meth:`~modelry.features.base.Encoder.write_value` writes its cells of the row
into a zeroed C float array (:mod:`array`) with plain scalar assignments, whose float64 →
float32 cast is the vectorised path's; numpy then views that memory as the ``[n, width]``
matrix. Each encoder owns its row arithmetic, the same as its vectorised ``write``, so
the output is bit for bit the vectorised path's.

The plan reads :class:`~modelry.data.columns.Records` row by row as they came, and columns
that are plain lists (:data:`~modelry.data.columns.InputColumn`, as the HTTP codecs hand a
request over) or float64 or object arrays value by value. Anything else (a dictionary-
encoded column, another dtype), or a value an encoder does not take (a string in a number
column, an infinity, an invalid boolean), sends the whole batch to the vectorised path,
which reads every column in encoder order and names the first bad value (column, row,
value): one set of error messages for both paths.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from modelry.data.columns import InputColumn, Records
from modelry.features.encoders import AnyEncoder

MAX_ROWS = 16
"""Up to this many rows the row path is used, where it is clearly faster than the
vectorised path (see ``bench/preprocess.py`` for the figures of the bank model)."""

_ZERO = array("f", [0.0])
_ROW_DTYPES = (np.dtype(np.float64), np.dtype(object))  # arrays whose .tolist() is plain


class RowPlan:
    """Encodes a few rows: each encoder writes its value of each row at its fixed offsets.

    Args:
        plan: ``(encoder, first dense column, code column or -1)`` per encoder.
        width: Dense columns in all.
        n_codes: Code columns in all.
    """

    def __init__(self, plan: list[tuple[AnyEncoder, int, int]], width: int, n_codes: int) -> None:
        self.width = width
        self.n_codes = n_codes
        self._names = tuple(encoder.name for encoder, _, _ in plan)
        self._writers = [(encoder.write_value, start, code) for encoder, start, code in plan]

    def transform(
        self, columns: Mapping[str, InputColumn], n: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(dense, codes)`` of ``n`` rows, or None when a column or a value is not plain.

        The caller checked names and row counts.
        """
        rows = self._rows(columns)
        if rows is None:
            return None
        cells = _ZERO * (n * self.width)
        codes = [0] * (n * self.n_codes)
        at = code_at = 0  # the row's first cell and first code
        for values in rows:
            for (write_value, start, code), value in zip(self._writers, values, strict=False):
                if not write_value(value, cells, at + start, codes, code_at + code):
                    return None
            at += self.width
            code_at += self.n_codes
        dense = np.frombuffer(cells, dtype=np.float32).reshape(n, self.width)
        return dense, np.array(codes, dtype=np.int64).reshape(n, self.n_codes)

    def _rows(self, columns: Mapping[str, InputColumn]) -> Iterable[Sequence[Any]] | None:
        """Each row's values in encoder order, or None when a column is not plain."""
        if type(columns) is Records:
            return [tuple(map(record.__getitem__, self._names)) for record in columns.rows]
        lists: list[list[Any]] = []
        for name in self._names:
            values = columns[name]
            if type(values) is not list:
                if type(values) is not np.ndarray or values.dtype not in _ROW_DTYPES:
                    return None  # Coded, ints, strings, dates: the vectorised parsers
                values = values.tolist()
            lists.append(values)
        return zip(*lists, strict=True)
