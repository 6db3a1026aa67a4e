"""Group-specific decision thresholds: the one place a sensitive attribute meets a decision.

A model trained with ``--fairness demographic_parity|equalized_odds`` stores, beside its
base ``threshold``, a ``group_thresholds`` map in ``network.json``::

    {"threshold": 0.5, "group_thresholds": {"gender": {"Female": 0.41, "Male": 0.55}}}

The sensitive column never enters the network. When a request carries that column, each
row is decided against its group's threshold; rows of a group the map does not know, and
requests without the column, get the base threshold. Using the attribute in the decision
is a legal choice the user makes by training with ``--fairness``; without it nothing here
applies. This module is on the predict path: numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from modelry.data.columns import Coded, InputColumn

UNKNOWN = "unknown"
"""The group of a row whose sensitive value is missing or blank."""

GroupThresholds = Mapping[str, Mapping[str, float]]


def group_key(value: object) -> str:
    """The group a sensitive value belongs to, as stored in ``group_thresholds``.

    Missing, NaN and blank values are :data:`UNKNOWN`; integral numbers lose their
    ``.0`` (a CSV column ``1,0,`` reads as floats), everything else is its stripped text.

    Example:
        >>> group_key(" Female "), group_key(1.0), group_key(None), group_key("")
        ('Female', '1', 'unknown', 'unknown')
    """
    if value is None:
        return UNKNOWN
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return UNKNOWN
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value).strip()
    return text if text and text.lower() not in ("nan", "none", "<na>") else UNKNOWN


def group_keys(column: InputColumn) -> np.ndarray:
    """:func:`group_key` over a column, as an object array of str (each distinct value once)."""
    if isinstance(column, Coded):
        keys = np.array(
            [group_key(c) for c in column.categories.tolist()] + [UNKNOWN], dtype=object
        )
        return keys[np.where(column.codes >= 0, column.codes, len(column.categories))]
    values = np.asarray(column, dtype=object)
    if not len(values):
        return np.empty(0, dtype=object)
    # Equal text, equal group: key each distinct value once, through its first row.
    _, first, inverse = np.unique(values.astype(str), return_index=True, return_inverse=True)
    keys = np.array([group_key(values[i]) for i in first], dtype=object)
    grouped: np.ndarray = keys[inverse.reshape(-1)]
    return grouped


def row_thresholds(
    n: int,
    columns: Mapping[str, InputColumn],
    group_thresholds: GroupThresholds | None,
    default: float,
) -> np.ndarray:
    """The decision threshold of every row: its group's where known, else ``default``.

    The first column of ``group_thresholds`` present in ``columns`` decides.
    """
    out = np.full(n, float(default), dtype=np.float64)
    for column, table in (group_thresholds or {}).items():
        if column not in columns:
            continue
        keys = group_keys(columns[column])
        for group, threshold in table.items():
            out[keys == group] = float(threshold)
        break
    return out


def apply_group_thresholds(
    scores: np.ndarray,
    columns: Mapping[str, InputColumn],
    group_thresholds: GroupThresholds | None,
    default: float,
) -> np.ndarray:
    """Positive decisions (bool ``[n]``): ``score >= threshold`` of each row's group.

    Args:
        scores: P(positive) per row.
        columns: The request's columns; the sensitive column is used only if present.
        group_thresholds: ``{column: {group: threshold}}`` from ``network.json``, or None.
        default: The base threshold, for rows without a group threshold.

    Example:
        >>> apply_group_thresholds(np.array([0.45, 0.45]),
        ...     {"g": np.array(["a", "b"], dtype=object)}, {"g": {"a": 0.4}}, 0.5)
        array([ True, False])
    """
    scores = np.asarray(scores)
    if not group_thresholds:
        return scores >= default
    decided: np.ndarray = scores >= row_thresholds(len(scores), columns, group_thresholds, default)
    return decided


__all__ = ["UNKNOWN", "apply_group_thresholds", "group_key", "group_keys", "row_thresholds"]
