"""Yes/no values as a 0/1 column, plus a missing indicator when training had gaps."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.features.base import Cells, Encoder, InputKind
from modelry.features.feature_config import BooleanFeature
from modelry.features.values import coded_lookup, invalid_value, lookup

_TRUE = ("true", "yes", "y", "t", "1")
_FALSE = ("false", "no", "n", "f", "0")
_WORDS = {**dict.fromkeys(_TRUE, 1), **dict.fromkeys(_FALSE, 0)}
_MISSING, _INVALID = 2, 3
# The spellings a request or CSV most often uses, looked up verbatim in C; any other
# spelling (" YES", "Yes ") goes through _bit. True == 1 == 1.0 share one key.
_FAST: dict[Any, int] = {
    **{w: b for word, b in _WORDS.items() for w in (word, word.upper(), word.capitalize())},
    True: 1,
    False: 0,
    None: _MISSING,
}


def _bit(value: Any) -> int:
    """1, 0, _MISSING, or _INVALID for one value."""
    if value is None:
        return _MISSING
    if isinstance(value, str):
        text = value.strip().lower()
        return _WORDS.get(text, _INVALID) if text else _MISSING
    if isinstance(value, bool | np.bool_ | int | np.integer | float | np.floating):
        if value != value:  # NaN
            return _MISSING
        return int(value) if value in (0, 1) else _INVALID
    return _INVALID


class BooleanEncoder(Encoder[BooleanFeature]):
    """true/false, yes/no, y/n, t/f, 1/0 (any case), bools and 0/1 numbers → 1.0/0.0.

    A missing value becomes the training mean (the share of true), and a 0/1
    missing indicator is output when training had missing values.

    Attributes (after ``fit``):
        mean_: The share of true among the training values present.
        indicator_: Whether the missing indicator is output.
    """

    config_type = BooleanFeature
    # "string" lets a request carry what the CSV held ("yes"), JSON true, or 0/1: the
    # request codecs pass numbers and booleans through a string column, not the reverse.
    input_kind: ClassVar[InputKind] = "string"

    def bits(self, values: ColumnArray) -> np.ndarray:
        """float64 1.0/0.0, NaN where missing; InvalidInputError names a bad value."""
        if isinstance(values, Coded):
            categories = values.categories.tolist()
            lut = np.array([_bit(c) for c in categories] + [_MISSING], dtype=np.int64)
            out = coded_lookup(values.codes, lut, self.name)
        elif values.dtype.kind in "fiub":
            x = values.astype(np.float64, copy=False)
            bad = ~(np.isnan(x) | (x == 0.0) | (x == 1.0))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise invalid_value(self.name, row, values[row].item(), "a boolean")
            return x
        else:
            out = lookup(values, _FAST, lambda _row, value: _bit(value))
        bad = out == _INVALID
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = values.decode()[row] if isinstance(values, Coded) else values[row]
            raise invalid_value(self.name, row, value, "a boolean (true/false, yes/no, 1/0)")
        x = out.astype(np.float64)
        x[out == _MISSING] = np.nan
        return x

    def fit(self, values: ColumnArray) -> Self:
        x = self.bits(values)
        missing = np.isnan(x)
        self.mean_ = float(x[~missing].mean()) if (~missing).any() else 0.0
        self.indicator_ = bool(missing.any())
        self.n_dense_ = 2 if self.indicator_ else 1
        return self

    def prepare(self, values: ColumnArray) -> np.ndarray:
        return self.bits(values)

    def write(self, prepared: np.ndarray, out: np.ndarray, start: int, codes: np.ndarray) -> None:
        missing = np.isnan(prepared)
        out[:, start] = np.where(missing, self.mean_, prepared)
        if self.indicator_:
            out[:, start + 1] = missing

    def write_value(
        self, value: Any, cells: Cells, at: int, codes: list[int], code_at: int
    ) -> bool:
        """Any value :func:`_bit` reads; an invalid one is named by the vectorised path."""
        try:
            bit = _FAST.get(value, _INVALID)  # the common spellings, verbatim
        except TypeError:  # unhashable
            bit = _INVALID
        if bit == _INVALID:
            bit = _bit(value)
        if bit == _INVALID:
            return False
        if bit == _MISSING:
            cells[at] = self.mean_
            if self.indicator_:
                cells[at + 1] = 1.0
        else:
            cells[at] = float(bit)
        return True

    def _names(self) -> list[str]:
        return [self.name, f"{self.name}=__missing__"][: self.n_dense_]

    def _state(self) -> dict[str, Any]:
        return {"mean": self.mean_, "indicator": self.indicator_}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.mean_ = float(state["mean"])
        self.indicator_ = bool(state["indicator"])
        self.n_dense_ = 2 if self.indicator_ else 1
