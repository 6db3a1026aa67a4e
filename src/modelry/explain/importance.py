"""Global importance: how much the model's quality rests on each input column.

Permutation importance, grouped by the user's own columns: a column's raw values are
shuffled across rows (so a one-hot block, a binned number or an embedded category
moves as one), the rows go through the real preprocessing and the ONNX network again,
and the primary metric is measured. The importance is how much the metric worsens:
ROC-AUC drop for a binary task, log-loss increase for a multi-class task, RMSE increase
for regression. Each column is shuffled ``repeats`` times with a seeded generator;
the mean and standard deviation are reported.

Training calls :func:`importance_files` on the test split before the artifact is
written, so every version carries ``importance.json`` and ``plots/importance.png``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from modelry.data.columns import Coded, ColumnArray
from modelry.data.schema import Task
from modelry.errors import DataError
from modelry.features.preprocessor import Preprocessor
from modelry.registry.artifact import dumps_json
from modelry.registry.layout import IMPORTANCE_FILE
from modelry.serving.runtime import make_session

IMPORTANCE_PLOT = "plots/importance.png"
MAX_ROWS = 5000


class Scorer(Protocol):
    """What permutation importance needs of a model: :class:`TabularRuntime` is one."""

    @property
    def task(self) -> Task: ...

    def scores(self, columns: Mapping[str, ColumnArray]) -> np.ndarray: ...


class OnnxScorer:
    """A served network that is not on disk yet: ONNX bytes plus the fitted preprocessing.

    It scores exactly as :class:`~modelry.serving.tabular.TabularRuntime` will, so
    training can measure importance before the artifact is written.
    """

    def __init__(self, onnx: bytes, preprocessor: Preprocessor, task: Task) -> None:
        self.preprocessor = preprocessor
        self._task = task
        self._session = make_session(onnx)
        self._inputs = [i.name for i in self._session.get_inputs()]

    @property
    def task(self) -> Task:
        return self._task

    def scores(self, columns: Mapping[str, ColumnArray]) -> np.ndarray:
        encoded = self.preprocessor.transform(columns)
        feeds = {"dense": encoded.dense}
        if len(self._inputs) > 1:
            feeds["codes"] = encoded.codes
        out: np.ndarray = self._session.run(None, feeds)[0]
        scores: np.ndarray = out if self._task is Task.MULTICLASS else out[:, 0]
        return scores


def _shuffled(values: ColumnArray, order: np.ndarray) -> ColumnArray:
    if isinstance(values, Coded):
        return Coded(codes=values.codes[order], categories=values.categories)
    shuffled: np.ndarray = values[order]
    return shuffled


def _dictionary(values: ColumnArray) -> ColumnArray:
    """A string column dictionary-encoded once: each shuffle then re-encodes codes, not text.

    Encoders read :class:`Coded` columns as they read object arrays (files are streamed
    that way), so the scores are the same; the preprocessing is about three times faster.
    """
    if isinstance(values, Coded) or values.dtype != object:
        return values
    items = values.tolist()
    if not all(v is None or type(v) is str for v in items):
        return values
    index: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if v is None else index.setdefault(v, len(index)) for v in items), np.int64, len(items)
    )
    categories = np.empty(len(index), dtype=object)
    categories[:] = list(index)
    return Coded(codes=codes, categories=categories)


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC as the Mann–Whitney statistic with tied scores averaged.

    Equal to scikit-learn's ``roc_auc_score`` but without its input validation, which
    costs more than the computation on a few thousand rows and ran ~100 times per model.
    """
    positive = np.asarray(y).astype(bool).ravel()
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    values = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(values, kind="stable")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)  # 1-based, ties averaged
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _metric(task: Task, y: np.ndarray, scores: np.ndarray) -> float:
    from modelry.training.metrics import score

    value = roc_auc(y, scores) if task is Task.BINARY else score(task, y, scores)
    if value is None:
        raise DataError("the primary metric is undefined on these rows (a single class?)")
    return value


def permutation_importance(
    runtime: Scorer,
    columns: Mapping[str, ColumnArray],
    y: np.ndarray,
    *,
    repeats: int = 5,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """How much the primary metric worsens when each input column is shuffled.

    Args:
        runtime: The model (a loaded :class:`TabularRuntime`, or an :class:`OnnxScorer`).
        columns: Its input columns (others are ignored), as ``predict`` takes them.
        y: The encoded target: 0/1 (1 = positive class), class indices, or values.
        repeats: Shuffles per column.
        seed: Seeds the shuffles; the same inputs give the same result.

    Returns:
        ``[{"column", "importance", "std"}, ...]``, most important first. Importance is
        in metric units; near zero (or slightly negative) means the column is unused.

    Raises:
        DataError: Too few rows, or the metric is undefined on them (one class only).
    """
    return _importance(runtime, columns, y, repeats, seed)[1]


def _importance(
    runtime: Scorer, columns: Mapping[str, ColumnArray], y: np.ndarray, repeats: int, seed: int
) -> tuple[float, list[dict[str, Any]]]:
    """The metric on the intact rows, and the rows of :func:`permutation_importance`."""
    from modelry.training.metrics import primary_metric

    y = np.asarray(y)
    names = [name for name in _input_columns(runtime, columns) if name in columns]
    columns = {name: _dictionary(values) for name, values in columns.items()}
    if len(y) < 2:
        raise DataError(f"permutation importance needs at least 2 rows, got {len(y)}")
    _, higher_is_better = primary_metric(runtime.task)
    sign = 1.0 if higher_is_better else -1.0
    reference = _metric(runtime.task, y, runtime.scores(columns))
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for name in names:
        drops = []
        for _ in range(repeats):
            shuffled = dict(columns)
            shuffled[name] = _shuffled(columns[name], rng.permutation(len(y)))
            value = _metric(runtime.task, y, runtime.scores(shuffled))
            drops.append(sign * (reference - value))
        rows.append(
            {"column": name, "importance": float(np.mean(drops)), "std": float(np.std(drops))}
        )
    return reference, sorted(rows, key=lambda row: -row["importance"])


def _input_columns(runtime: Scorer, columns: Mapping[str, ColumnArray]) -> list[str]:
    preprocessor = getattr(runtime, "preprocessor", None)
    return (
        list(preprocessor.input_columns)
        if isinstance(preprocessor, Preprocessor)
        else list(columns)
    )


def importance_png(rows: list[dict[str, Any]], metric: str = "metric") -> bytes:
    """A horizontal bar chart of :func:`permutation_importance` rows, with ±1 std."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers or CI
    import matplotlib.pyplot as plt

    shown = rows[::-1]  # barh draws bottom-up: most important on top
    fig, ax = plt.subplots(figsize=(6, max(2.0, 0.3 * len(shown) + 1.0)), dpi=100)
    ax.barh(
        [row["column"] for row in shown],
        [row["importance"] for row in shown],
        xerr=[row["std"] for row in shown],
        color="#4C72B0",
        ecolor="grey",
    )
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set(xlabel=f"worsening of {metric} when shuffled", title="Permutation importance (test)")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def importance_files(
    onnx: bytes,
    preprocessor: Preprocessor,
    task: Task,
    columns: Mapping[str, ColumnArray],
    y: np.ndarray,
    *,
    max_rows: int = MAX_ROWS,
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, bytes]:
    """``importance.json`` and ``plots/importance.png`` for a model about to be stored.

    At most ``max_rows`` rows (a seeded sample) are used. When the metric is undefined
    on them, ``importance.json`` says why and holds no columns, and there is no plot:
    a missing chart must not stop a model from being registered.
    """
    from modelry.training.metrics import primary_metric

    metric, _ = primary_metric(task)
    y = np.asarray(y)
    rows = np.arange(len(y))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(y), max_rows, replace=False))
    sample = {name: _shuffled(values, rows) for name, values in columns.items()}
    doc: dict[str, Any] = {"metric": metric, "repeats": repeats, "seed": seed, "rows": len(rows)}
    doc["value"] = None  # the metric on the intact rows
    try:
        scorer = OnnxScorer(onnx, preprocessor, task)
        doc["value"], doc["columns"] = _importance(scorer, sample, y[rows], repeats, seed)
    except DataError as exc:
        return {IMPORTANCE_FILE: dumps_json({**doc, "columns": [], "note": exc.message})}
    return {
        IMPORTANCE_FILE: dumps_json(doc),
        IMPORTANCE_PLOT: importance_png(doc["columns"], metric),
    }
