"""What the training loop feeds the net: a split, its tensors, class balancing.

Two ways to balance an imbalanced classification set (``OptimConfig.balance``):

* ``weights``: every row weighs the inverse frequency of its class in the loss, the
  weights normalised to mean 1 so the learning rate keeps its meaning;
* ``oversample``: each epoch draws, with replacement, the same number of rows from every
  class (as many rows in all as the set has), so every class is seen equally often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from modelry.data.schema import Task
from modelry.errors import DataError


@dataclass
class TrainData:
    """One split of preprocessed inputs.

    Attributes:
        dense: float32 ``[n, d]``.
        codes: int64 ``[n, k]`` (``k`` may be 0).
        y: Binary: float32 0/1. Multiclass: int64 class index. Regression: float32.
        weight: Optional per-sample weights ``[n]`` (normalised to mean 1 for training).
    """

    dense: np.ndarray
    codes: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.dense.ndim != 2 or self.codes.ndim != 2:
            raise DataError("dense and codes must be 2-D arrays ([n, d] and [n, k])")
        if len(self.dense) != n or len(self.codes) != n:
            raise DataError(
                f"row counts differ: dense {len(self.dense)}, codes {len(self.codes)}, y {n}"
            )
        if self.weight is not None and len(self.weight) != n:
            raise DataError(f"weight has {len(self.weight)} rows, y has {n}")

    def __len__(self) -> int:
        return len(self.y)

    def check_fits(self, n_dense: int, n_codes: int, n_outputs: int, task: Task, name: str) -> None:
        """Raise :class:`DataError` unless a network of this shape can take the split."""
        d, k = self.dense.shape[1], self.codes.shape[1]
        if d != n_dense or k != n_codes:
            raise DataError(
                f"the {name} set has {d} dense and {k} code columns; "
                f"the network takes {n_dense} and {n_codes}"
            )
        if task is Task.MULTICLASS and len(self.y):
            lo, hi = int(np.min(self.y)), int(np.max(self.y))
            if lo < 0 or hi >= n_outputs:
                bad = lo if lo < 0 else hi
                raise DataError(f"the {name} set has class index {bad}, outside 0..{n_outputs - 1}")


@dataclass
class SplitTensors:
    """A split as tensors; ``y`` is float (standardised for regression) or int64 classes."""

    dense: Tensor
    codes: Tensor
    y: Tensor
    weight: Tensor | None


def to_tensors(
    data: TrainData, task: Task, y_mean: float = 0.0, y_std: float = 1.0
) -> SplitTensors:
    """Convert a split once, up front: batches are then cheap slices of these tensors.

    Regression targets become ``(y - y_mean) / y_std``; user weights are normalised to
    mean 1.
    """
    dense = torch.from_numpy(np.ascontiguousarray(data.dense, dtype=np.float32))
    codes = torch.from_numpy(np.ascontiguousarray(data.codes, dtype=np.int64))
    if task is Task.MULTICLASS:
        y = torch.from_numpy(np.ascontiguousarray(data.y, dtype=np.int64))
    else:
        yf = np.asarray(data.y, dtype=np.float64)
        if task is Task.REGRESSION:
            yf = (yf - y_mean) / y_std
        if not np.all(np.isfinite(yf)):
            raise DataError("the target holds NaN or infinite values")
        y = torch.from_numpy(yf.astype(np.float32))
    weight = None
    if data.weight is not None:
        w = np.asarray(data.weight, dtype=np.float64)
        if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
            raise DataError("sample weights must be finite, non-negative and not all zero")
        weight = torch.from_numpy((w / w.mean()).astype(np.float32))
    return SplitTensors(dense, codes, y, weight)


def _classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y).astype(np.int64).ravel()
    if labels.min() < 0:
        raise DataError("class labels must be non-negative indices")
    return labels, np.bincount(labels)


def balance_weights(y: np.ndarray, weight: Tensor | None = None) -> Tensor:
    """Per-row inverse class frequency (times ``weight`` if given), normalised to mean 1."""
    labels, counts = _classes(y)
    present = counts > 0
    per_class = np.zeros(len(counts), dtype=np.float64)
    per_class[present] = len(labels) / (present.sum() * counts[present])
    w = per_class[labels]
    if weight is not None:
        w = w * weight.numpy().astype(np.float64)
    return torch.from_numpy((w / w.mean()).astype(np.float32))


def balanced_indices(y: np.ndarray, generator: torch.Generator) -> Tensor:
    """One epoch of row indices, drawn with replacement, equally many from every class.

    The draw is per class (uniform within it) rather than ``torch.multinomial`` over all
    rows, which refuses more than 2**24 categories.
    """
    labels, counts = _classes(y)
    present = np.flatnonzero(counts)
    n, k = len(labels), len(present)
    order = torch.from_numpy(np.argsort(labels, kind="stable"))
    starts = np.concatenate([[0], np.cumsum(counts)])
    parts = []
    for i, c in enumerate(present):
        m = n // k + (1 if i < n % k else 0)
        pick = torch.randint(int(counts[c]), (m,), generator=generator)
        parts.append(order[int(starts[c]) + pick])
    idx = torch.cat(parts)
    return idx[torch.randperm(n, generator=generator)]
