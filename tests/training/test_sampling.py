"""Class balancing: inverse-frequency weights and per-epoch oversampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modelry.data.schema import Task
from modelry.errors import DataError
from modelry.training.sampling import balance_weights, balanced_indices, to_tensors
from modelry.training.trainer import TrainData


def test_balance_weights_are_inverse_frequency_with_mean_one() -> None:
    y = np.array([0, 0, 0, 1], np.float32)
    w = balance_weights(y).numpy()
    assert w.mean() == pytest.approx(1.0)
    assert w[3] / w[0] == pytest.approx(3.0)
    # Each class carries the same total weight.
    assert w[:3].sum() == pytest.approx(w[3:].sum())
    user = torch.tensor([1.0, 1.0, 2.0, 1.0])
    wu = balance_weights(y, user).numpy()
    assert wu.mean() == pytest.approx(1.0) and wu[2] / wu[0] == pytest.approx(2.0)


def test_balanced_indices_draw_every_class_equally() -> None:
    y = np.array([0] * 90 + [1] * 8 + [2] * 2)
    gen = torch.Generator().manual_seed(0)
    idx = balanced_indices(y, gen).numpy()
    assert len(idx) == 100
    counts = np.bincount(y[idx], minlength=3)
    assert counts.max() - counts.min() <= 1
    again = balanced_indices(y, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(idx, again)


def test_to_tensors_standardises_regression_and_checks_values() -> None:
    data = TrainData(np.zeros((3, 1)), np.zeros((3, 0), np.int64), np.array([1.0, 3.0, 5.0]))
    t = to_tensors(data, Task.REGRESSION, y_mean=3.0, y_std=2.0)
    torch.testing.assert_close(t.y, torch.tensor([-1.0, 0.0, 1.0]))
    assert t.dense.dtype == torch.float32 and t.codes.dtype == torch.int64
    bad = TrainData(np.zeros((2, 1)), np.zeros((2, 0), np.int64), np.array([1.0, np.nan]))
    with pytest.raises(DataError):
        to_tensors(bad, Task.REGRESSION)
    neg = TrainData(
        np.zeros((2, 1)), np.zeros((2, 0), np.int64), np.zeros(2), np.array([1.0, -1.0])
    )
    with pytest.raises(DataError):
        to_tensors(neg, Task.BINARY)
