"""Evaluation metrics per task, as plain JSON-able Python values.

Every value is a Python ``float`` or ``None``. ``None`` stands for "undefined on this
data" (ROC AUC when ``y`` holds a single class, R² of a constant target): JSON has no
NaN, and a missing number must not read as a perfect or a failing score.

====================  ======================================================================
binary                roc_auc, pr_auc (average precision), accuracy (at 0.5), f1, log_loss,
                      brier
multiclass            accuracy, f1 (macro), log_loss, roc_auc (one-vs-rest macro over the
                      classes present in ``y``), brier (mean over rows of Σ_k (p_k − 1[y=k])²)
regression            rmse, mae, r2
====================  ======================================================================
"""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm

from modelry.data.schema import Task
from modelry.errors import DataError

Metrics = dict[str, float | None]

# Log loss of probabilities clipped away from 0 and 1, so one confident mistake gives a
# large but finite value.
_EPS = 1e-7


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def primary_metric(task: Task) -> tuple[str, bool]:
    """The metric early stopping and model comparison watch: ``(name, higher_is_better)``."""
    if task is Task.BINARY:
        return "roc_auc", True
    if task is Task.MULTICLASS:
        return "log_loss", False
    return "rmse", False


def score(task: Task, y: np.ndarray, output: np.ndarray) -> float | None:
    """The primary metric alone: cheap enough to compute after every epoch."""
    name, _ = primary_metric(task)
    if task is Task.REGRESSION:
        pred = np.asarray(output, dtype=np.float64).ravel()
        return _finite(math.sqrt(float(np.mean((pred - np.asarray(y, dtype=np.float64)) ** 2))))
    if task is Task.BINARY:
        labels = np.asarray(y).astype(np.int64).ravel()
        if len(np.unique(labels)) < 2:
            return None
        return _finite(skm.roc_auc_score(labels, np.asarray(output).ravel()))
    return classification_metrics(y, output, task)[name]


def classification_metrics(y: np.ndarray, proba: np.ndarray, task: Task) -> Metrics:
    """Metrics of predicted probabilities against labels.

    Args:
        y: Binary: 0/1 labels ``[n]``. Multiclass: class indices ``[n]``.
        proba: Binary: probability of the positive class ``[n]``. Multiclass: ``[n, K]``.
        task: ``BINARY`` or ``MULTICLASS``.
    """
    y = np.asarray(y)
    proba = np.asarray(proba, dtype=np.float64)
    if len(y) == 0:
        raise DataError("cannot evaluate on zero rows")
    if task is Task.BINARY:
        return _binary(y.astype(np.int64).ravel(), proba.ravel())
    if task is Task.MULTICLASS:
        return _multiclass(y.astype(np.int64).ravel(), proba)
    raise DataError(f"classification metrics for a {task.value} task")


def _binary(y: np.ndarray, p: np.ndarray) -> Metrics:
    p = np.clip(p, 0.0, 1.0)
    pred = (p >= 0.5).astype(np.int64)
    both = len(np.unique(y)) == 2
    pc = np.clip(p, _EPS, 1 - _EPS)
    log_loss = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    return {
        "roc_auc": float(skm.roc_auc_score(y, p)) if both else None,
        # Average precision with no positive is 0/0: undefined, not zero.
        "pr_auc": float(skm.average_precision_score(y, p)) if y.any() else None,
        "accuracy": float(skm.accuracy_score(y, pred)),
        "f1": float(skm.f1_score(y, pred, zero_division=0.0)),
        "log_loss": _finite(log_loss),
        "brier": float(np.mean((p - y) ** 2)),
    }


def _multiclass(y: np.ndarray, proba: np.ndarray) -> Metrics:
    if proba.ndim != 2 or proba.shape[0] != len(y):
        raise DataError(f"multiclass probabilities must be [n, K], got {proba.shape}")
    n, k = proba.shape
    if y.min() < 0 or y.max() >= k:
        raise DataError(f"class index out of range 0..{k - 1}")
    pred = proba.argmax(axis=1)
    onehot = np.zeros_like(proba)
    onehot[np.arange(n), y] = 1.0
    p_true = np.clip(proba[np.arange(n), y], _EPS, 1.0)
    present = np.unique(y)
    # sklearn's OvR AUC refuses probability columns of classes absent from y; the macro
    # average over the classes that do occur is the honest definition on such a sample.
    auc = None
    if len(present) >= 2:
        auc = float(np.mean([skm.roc_auc_score(onehot[:, c], proba[:, c]) for c in present]))
    return {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "f1": float(skm.f1_score(y, pred, average="macro", labels=present, zero_division=0.0)),
        "log_loss": _finite(-np.mean(np.log(p_true))),
        "roc_auc": auc,
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
    }


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> Metrics:
    """RMSE, MAE and R² of predictions (R² is ``None`` when ``y`` is constant)."""
    y = np.asarray(y, dtype=np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64).ravel()
    if len(y) == 0:
        raise DataError("cannot evaluate on zero rows")
    err = pred - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": _finite(math.sqrt(float(np.mean(err**2)))),
        "mae": _finite(float(np.mean(np.abs(err)))),
        "r2": _finite(1.0 - float(np.sum(err**2)) / ss_tot) if ss_tot > 0 else None,
    }


def evaluate(task: Task, y: np.ndarray, output: np.ndarray) -> Metrics:
    """Metrics of served outputs (as :func:`modelry.training.trainer.predict_output` gives)."""
    if task is Task.REGRESSION:
        return regression_metrics(y, output)
    return classification_metrics(y, output, task)
