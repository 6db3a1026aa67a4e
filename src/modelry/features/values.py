"""Request and table values as typed numpy arrays: the coercions every encoder shares.

A column reaches an encoder as a float64 array, an object array of Python values
(what a JSON request decodes to) or a :class:`~modelry.data.columns.Coded` column.
These helpers turn any of them into what the encoder computes with, and name the
column, row and value when a value cannot be used.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from itertools import repeat
from typing import Any

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.errors import InvalidInputError

_UNSEEN = -2  # sentinel of the dict fast path: "look this value up the slow way"

SMALL = 16
"""Up to this many rows, plain Python beats a numpy call's fixed cost (a request)."""


def column_length(values: ColumnArray, name: str) -> int:
    """Rows in a column; anything but a 1-D array or a Coded column is refused."""
    if isinstance(values, Coded):
        return len(values)
    if not isinstance(values, np.ndarray) or values.ndim != 1:
        raise InvalidInputError(f"column {name!r} must be a one-dimensional array", column=name)
    return int(values.shape[0])


def invalid_value(name: str, row: int, value: Any, expected: str) -> InvalidInputError:
    """The error for one unusable value, naming its column, row and value."""
    return InvalidInputError(
        f"column {name!r}, row {row}: {value!r} is not {expected}",
        column=name,
        row=row,
        value=repr(value),
    )


def category_key(value: Any) -> str | None:
    """A value as the string a category is known by; None when missing.

    Numbers that are whole print without a decimal point so that ``1``, ``1.0`` and
    ``"1"`` are one category, and booleans print as ``"true"``/``"false"`` as JSON does.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer():
            return str(int(number))
        return repr(number)
    return str(value)


def category_counts(values: ColumnArray, name: str) -> tuple[Counter[str], int]:
    """How often each category occurs, and how many values are missing."""
    counts: Counter[str] = Counter()
    if isinstance(values, Coded):
        codes = np.asarray(values.codes)
        valid = codes[codes >= 0]
        per_code = np.bincount(valid, minlength=len(values.categories))
        for category, count in zip(values.categories.tolist(), per_code.tolist(), strict=False):
            key = category_key(category)
            if count and key is not None:
                counts[key] += count
        return counts, int(len(codes) - len(valid))
    if values.dtype.kind in "fiub":
        present = values[~np.isnan(values)] if values.dtype.kind == "f" else values
        uniques, per_value = np.unique(present, return_counts=True)
        for value, count in zip(uniques.tolist(), per_value.tolist(), strict=True):
            counts[category_key(value) or ""] += count
        return counts, int(len(values) - len(present))
    try:
        raw = Counter(values.tolist())
    except TypeError as exc:  # an unhashable value (a list, a dict) in the column
        raise InvalidInputError(f"column {name!r} holds a non-scalar value", column=name) from exc
    missing = 0
    for value, count in raw.items():
        key = category_key(value)
        if key is None:
            missing += count
        else:
            counts[key] += count
    return counts, missing


def lookup(
    values: np.ndarray, table: dict[Any, int], resolve: Callable[[int, Any], int]
) -> np.ndarray:
    """Map each value of an object array through ``table``; ``resolve(row, value)`` the rest.

    The dict lookup runs in C over the whole column; only values the table does not
    hold verbatim (numbers, None, unseen categories) pay for a Python call.
    """
    items = values.tolist()
    if len(items) <= SMALL:
        slots = []
        for row, value in enumerate(items):
            try:
                slot = table.get(value, _UNSEEN)
            except TypeError:  # unhashable
                slot = _UNSEEN
            slots.append(resolve(row, value) if slot == _UNSEEN else slot)
        return np.array(slots, dtype=np.int64)
    try:
        out = np.fromiter(map(table.get, items, repeat(_UNSEEN)), dtype=np.int64, count=len(items))
    except TypeError:  # an unhashable value: resolve every row the slow way
        out = np.full(len(items), _UNSEEN, dtype=np.int64)
    for row in np.flatnonzero(out == _UNSEEN).tolist():
        out[row] = resolve(row, items[row])
    return out


def coded_lookup(codes: np.ndarray, lut: np.ndarray, name: str) -> np.ndarray:
    """``lut[codes]``, where ``lut`` ends with the entry for a missing value (code -1)."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise InvalidInputError(f"column {name!r} has non-integer codes", column=name)
    if len(codes) <= SMALL:
        items = codes.tolist()
        low, high = (min(items), max(items)) if items else (0, 0)
    else:
        low, high = int(codes.min()), int(codes.max())
    if low < -1 or high >= len(lut) - 1:
        raise InvalidInputError(f"column {name!r} has a code outside its categories", column=name)
    # -1 indexes the last entry of lut: the missing value, without shifting every code.
    return np.take(lut, codes)


def to_float(values: ColumnArray, name: str) -> np.ndarray:
    """A float64 array (NaN = missing) from numbers, numeric strings, bools and None.

    The result may be ``values`` itself: callers never write into it.
    """
    if isinstance(values, Coded):
        out = _coded_to_float(values, name)
    elif values.dtype == np.float64:
        out = values
    elif values.dtype.kind in "fiub":
        out = values.astype(np.float64)
    elif values.dtype.kind in "OUS":
        out = _objects_to_float(values, name)
    else:
        raise InvalidInputError(
            f"column {name!r} must hold numbers, not {values.dtype}", column=name
        )
    if not all_finite(out) and np.isinf(out).any():
        infinite = np.flatnonzero(np.isinf(out))
        if len(infinite):
            row = int(infinite[0])
            raise invalid_value(name, row, float(out[row]), "a finite number")
    return out


def all_finite(x: np.ndarray) -> bool:
    """Whether a float array holds neither NaN nor ±inf; cheap when it does not."""
    if len(x) <= SMALL:
        return all(map(math.isfinite, x.tolist()))
    # One reduction, no temporary; an overflowing sum only sends us down the slow path.
    return math.isfinite(float(np.add.reduce(x)))


def _coded_to_float(values: Coded, name: str) -> np.ndarray:
    categories = values.categories.tolist()
    lut = np.empty(len(categories) + 1, dtype=np.float64)
    lut[-1] = np.nan
    bad: list[int] = []
    for index, value in enumerate(categories):
        number = _one_float(value)
        if number is None:
            bad.append(index)
            number = math.nan
        lut[index] = number
    if bad:  # an unusable category is an error only if some row uses it
        used = np.flatnonzero(np.isin(values.codes, bad))
        if len(used):
            row = int(used[0])
            raise invalid_value(name, row, categories[int(values.codes[row])], "a number")
    return coded_lookup(values.codes, lut, name)


def _objects_to_float(values: np.ndarray, name: str) -> np.ndarray:
    try:
        # Fast path in C: float() of every element; None, a bad string or an integer
        # beyond float's range lands below.
        return np.asarray(values, dtype=object).astype(np.float64)
    except (TypeError, ValueError, OverflowError):
        pass
    items = values.tolist()
    out = np.empty(len(items), dtype=np.float64)
    for row, value in enumerate(items):
        number = _one_float(value)
        if number is None:
            raise invalid_value(name, row, value, "a number")
        out[row] = number
    return out


def _one_float(value: Any) -> float | None:
    """A value as a float (NaN when missing); None when it is not a number."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        try:
            return float(text)
        except ValueError:
            return None
    if isinstance(value, int | float | np.integer | np.floating | np.bool_):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float's range: infinite, refused as such
            return math.inf if value > 0 else -math.inf
    return None
