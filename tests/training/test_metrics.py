"""Metrics against scikit-learn and hand values, degenerate cases, JSON-ability."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from modelry.data.schema import Task
from modelry.errors import DataError
from modelry.training.metrics import (
    classification_metrics,
    evaluate,
    primary_metric,
    regression_metrics,
    score,
)


def test_binary_against_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(np.float32)
    p = np.clip(0.6 * y + 0.5 * rng.random(200), 0, 1)
    m = classification_metrics(y, p, Task.BINARY)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p >= 0.5))
    assert m["f1"] == pytest.approx(skm.f1_score(y, p >= 0.5))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert all(type(v) is float for v in m.values())
    assert score(Task.BINARY, y, p) == m["roc_auc"]


def test_binary_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = classification_metrics(y, p, Task.BINARY)
    assert m["accuracy"] == 0.5  # 0.6 and 0.4 fall on the wrong side of 0.5
    assert m["roc_auc"] == 0.75  # 3 of the 4 (positive, negative) pairs ordered right
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)


def test_single_class_gives_none_not_nan() -> None:
    y = np.zeros(5)
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.1])
    m = classification_metrics(y, p, Task.BINARY)
    assert m["roc_auc"] is None and m["pr_auc"] is None
    assert m["accuracy"] == 0.8
    assert score(Task.BINARY, y, p) is None
    json.dumps(m, allow_nan=False)
    mc = classification_metrics(np.zeros(3, np.int64), np.full((3, 3), 1 / 3), Task.MULTICLASS)
    assert mc["roc_auc"] is None
    json.dumps(mc, allow_nan=False)


def test_multiclass_against_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=150)
    logits = rng.normal(size=(150, 3)) + 2.0 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = classification_metrics(y, proba, Task.MULTICLASS)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, proba.argmax(1)))
    assert m["f1"] == pytest.approx(skm.f1_score(y, proba.argmax(1), average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    onehot = np.eye(3)[y]
    assert m["brier"] == pytest.approx(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    assert score(Task.MULTICLASS, y, proba) == m["log_loss"]


def test_multiclass_with_a_class_absent_from_y() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.5, 0.2]])
    m = classification_metrics(y, proba, Task.MULTICLASS)
    assert m["roc_auc"] == 1.0  # class 2 is skipped, classes 0 and 1 are ranked perfectly
    assert m["accuracy"] == 1.0
    with pytest.raises(DataError):
        classification_metrics(np.array([0, 3]), proba[:2], Task.MULTICLASS)


def test_regression_against_sklearn() -> None:
    y = np.array([3.0, -0.5, 2.0, 7.0])
    pred = np.array([2.5, 0.0, 2.0, 8.0])
    m = regression_metrics(y, pred)
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert regression_metrics(np.ones(3), np.ones(3))["r2"] is None
    assert evaluate(Task.REGRESSION, y, pred) == m
    assert score(Task.REGRESSION, y, pred) == pytest.approx(m["rmse"])


def test_primary_metrics() -> None:
    assert primary_metric(Task.BINARY) == ("roc_auc", True)
    assert primary_metric(Task.MULTICLASS) == ("log_loss", False)
    assert primary_metric(Task.REGRESSION) == ("rmse", False)
