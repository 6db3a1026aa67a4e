"""Splitting rows into train, validation and test sets: stratified, chronological or grouped.

Splits are row positions, not data, so one split serves every representation of a table
(a DataFrame, column arrays, a feature matrix). The same seed always gives the same split.

Example:
    >>> s = split_rows(1000, y=labels, valid=0.15, test=0.15, seed=0)
    >>> len(s.train), len(s.valid), len(s.test)
    (700, 150, 150)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modelry.errors import ConfigError, DataError


@dataclass(frozen=True)
class Split:
    """Row positions (int64, ascending) of each part; together they cover every row once."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def split_rows(
    n: int,
    *,
    y: np.ndarray | None = None,
    valid: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    time_order: bool = False,
    groups: np.ndarray | None = None,
) -> Split:
    """Assign ``n`` rows to train, validation and test.

    Args:
        n: Number of rows.
        y: Class labels; when given, each class is split in the same proportions. Classes
            too small to reach every part are pooled, so rare classes are shuffled plainly.
        valid: Fraction for validation; 0 leaves it empty.
        test: Fraction for test; 0 leaves it empty.
        seed: Seed of the shuffle.
        time_order: Keep file order: the last ``test`` rows are the test set, the ``valid``
            rows before them the validation set (nothing is shuffled; ``y`` is ignored).
        groups: A key per row; all rows of a key land in the same part (``y`` is ignored).

    Raises:
        ConfigError: A fraction is out of range, or leaves a part empty that was asked for.
        DataError: ``y`` or ``groups`` does not have ``n`` entries.
    """
    for name, frac in (("valid", valid), ("test", test)):
        if not 0 <= frac < 1:
            raise ConfigError(f"{name} fraction must be in [0, 1), got {frac}", field=name)
    if valid + test >= 1:
        raise ConfigError(
            f"valid + test fractions ({valid} + {test}) leave nothing to train on", field="valid"
        )
    if time_order and groups is not None:
        raise ConfigError("choose one of time_order and a group split, not both", field="split_by")
    for name, values in (("y", y), ("groups", groups)):
        if values is not None and len(values) != n:
            raise DataError(f"{name} has {len(values)} entries for {n} rows")
    if time_order:
        n_test, n_valid = round(n * test), round(n * valid)
        order = np.arange(n, dtype=np.int64)
        part = np.zeros(n, dtype=np.int8)
        part[n - n_test - n_valid : n - n_test] = 1
        part[n - n_test :] = 2
        result = _by_part(order, part)
    elif groups is not None:
        result = _group_split(groups, valid, test, seed)
    else:
        result = _random_split(n, y, valid, test, seed)
    _check(result, n, valid, test, by_group=groups is not None)
    return result


def _by_part(rows: np.ndarray, part: np.ndarray) -> Split:
    return Split(
        train=np.sort(rows[part == 0]).astype(np.int64),
        valid=np.sort(rows[part == 1]).astype(np.int64),
        test=np.sort(rows[part == 2]).astype(np.int64),
    )


def _assign(position: np.ndarray, valid: float, test: float) -> np.ndarray:
    """Part of each row from its position in [0, 1): test first, then valid, then train."""
    return np.where(position < test, 2, np.where(position < test + valid, 1, 0)).astype(np.int8)


def _random_split(n: int, y: np.ndarray | None, valid: float, test: float, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    order = rng.permutation(n).astype(np.int64)
    if y is None:
        return _by_part(order, _assign((np.arange(n) + 0.5) / max(n, 1), valid, test))
    codes = _codes(np.asarray(y)[order])
    counts = np.bincount(codes)
    # A class needs enough rows that each asked-for part gets at least one of them.
    smallest = min(f for f in (valid, test) if f > 0) if valid or test else 1.0
    rare = counts < math.ceil(1 / smallest)
    codes = np.where(rare[codes], len(counts), codes)  # pool rare classes into one stratum
    counts = np.bincount(codes)
    # Rank within stratum: a stable sort by stratum keeps the shuffled order inside it.
    by_stratum = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[by_stratum] = np.arange(n) - np.repeat(starts, counts)
    position = (rank + 0.5) / counts[codes]
    return _by_part(order, _assign(position, valid, test))


def _group_split(groups: np.ndarray, valid: float, test: float, seed: int) -> Split:
    codes = _codes(np.asarray(groups))
    sizes = np.bincount(codes)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(sizes))
    # Each group sits at the midpoint of its rows in the shuffled sequence of groups.
    ends = np.cumsum(sizes[shuffled])
    middle = (ends - sizes[shuffled] / 2) / max(len(codes), 1)
    group_part = np.empty(len(sizes), dtype=np.int8)
    group_part[shuffled] = _assign(middle, valid, test)
    return _by_part(np.arange(len(codes), dtype=np.int64), group_part[codes])


def _codes(values: np.ndarray) -> np.ndarray:
    """Dense integer codes of any labels; missing ones (None, NaN) share one code."""
    if values.dtype.kind in "biuf":
        keys = np.where(np.isnan(values), np.inf, values) if values.dtype.kind == "f" else values
        return np.unique(keys, return_inverse=True)[1].ravel().astype(np.int64)
    text = np.array(["\0missing" if _missing(v) else str(v) for v in values.tolist()])
    return np.unique(text, return_inverse=True)[1].ravel().astype(np.int64)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check(split: Split, n: int, valid: float, test: float, *, by_group: bool) -> None:
    hint = "too few groups for these fractions" if by_group else "raise the fraction or add rows"
    for name, frac, rows in (("test", test, split.test), ("valid", valid, split.valid)):
        if frac > 0 and len(rows) == 0:
            raise ConfigError(
                f"{name} fraction {frac} of {n} rows leaves the {name} set empty: {hint}",
                field=name,
            )
    if len(split.train) == 0:
        raise ConfigError(f"no rows left to train on ({n} rows): {hint}", field="valid")
