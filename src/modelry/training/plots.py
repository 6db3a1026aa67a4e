"""Evaluation plots as PNG bytes: ROC, precision–recall, calibration, learning curves."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelry.data.schema import Task


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers or CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    return fig, ax


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def roc_png(y: np.ndarray, curves: dict[str, np.ndarray]) -> bytes:
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = _figure()
    for label, proba in curves.items():
        fpr, tpr, _ = roc_curve(y, proba)
        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(y, proba):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend(loc="lower right")
    return _png(fig)


def pr_png(y: np.ndarray, curves: dict[str, np.ndarray]) -> bytes:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = _figure()
    for label, proba in curves.items():
        precision, recall, _ = precision_recall_curve(y, proba)
        ap = average_precision_score(y, proba)
        ax.plot(recall, precision, label=f"{label} (AP {ap:.3f})")
    ax.axhline(float(np.mean(y)), linestyle=":", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision–recall (test)")
    ax.legend(loc="upper right")
    return _png(fig)


def calibration_png(y: np.ndarray, curves: dict[str, np.ndarray], bins: int = 10) -> bytes:
    from sklearn.calibration import calibration_curve

    fig, ax = _figure()
    for label, proba in curves.items():
        frac, mean = calibration_curve(y, proba, n_bins=bins, strategy="quantile")
        ax.plot(mean, frac, marker="o", label=label)
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title="Calibration")
    ax.legend(loc="upper left")
    return _png(fig)


def learning_curves_png(
    train_loss: Sequence[float], valid_loss: Sequence[float], metric: str, values: Sequence[float]
) -> bytes:
    fig, ax = _figure()
    epochs = np.arange(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, label="train loss")
    ax.plot(epochs, valid_loss, label="valid loss")
    ax.set(xlabel="epoch", ylabel="loss", title="Learning curves")
    right = ax.twinx()
    right.plot(epochs, values, color="tab:green", linestyle="--", label=f"valid {metric}")
    right.set_ylabel(f"valid {metric}")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    return _png(fig)


def evaluation_plots(
    task: Task,
    y: np.ndarray,
    curves: dict[str, np.ndarray],
    history: Mapping[str, Sequence[float]],
    metric: str,
) -> dict[str, bytes]:
    """All plots that apply to ``task``, keyed by file name."""
    plots = {
        "learning_curves.png": learning_curves_png(
            history["train_loss"], history["valid_loss"], metric, history["valid_metric"]
        )
    }
    if task is Task.BINARY and len(np.unique(y)) == 2:
        plots["roc.png"] = roc_png(y, curves)
        plots["precision_recall.png"] = pr_png(y, curves)
        plots["calibration.png"] = calibration_png(y, curves)
    return plots
