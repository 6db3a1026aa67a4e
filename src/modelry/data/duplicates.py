"""Exact duplicate rows: dropped before splitting, or counted when they straddle the splits.

A row repeated in the training and a held-out split is scored on what the model has
seen, so held-out figures flatter it (the résumé table holds 167 distinct résumés among
962 rows). Rows are compared by a 64-bit hash of their values (pandas' own, per cell),
so a table of long texts is compared without keeping the texts twice.

Example:
    >>> frame = pd.DataFrame({"text": ["a", "b", "a"], "y": [1, 0, 1]})
    >>> kept, dropped = drop_duplicates(frame, ["text", "y"])
    >>> len(kept), dropped
    (2, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd  # type: ignore[import-untyped]


def row_keys(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One uint64 hash per row of ``columns``: equal rows, equal keys."""
    keys: np.ndarray = pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()
    return keys


def drop_duplicates(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """``frame`` without the repeats of a row (equal in every one of ``columns``), the first
    of each kept in file order, and how many rows were dropped."""
    repeated = pd.Series(row_keys(frame, columns)).duplicated().to_numpy()
    dropped = int(repeated.sum())
    if not dropped:
        return frame, 0
    return frame.loc[~repeated].reset_index(drop=True), dropped


def repeated_in_training(keys: np.ndarray, parts: Mapping[str, np.ndarray]) -> dict[str, int]:
    """How many rows of each held-out part (every part but ``train``) have a training
    row's key."""
    seen = np.unique(keys[parts["train"]])
    return {
        name: int(np.isin(keys[rows], seen).sum())
        for name, rows in parts.items()
        if name != "train"
    }
