"""Target leaks: feature columns that give the outcome away before any model is trained.

A column written down after the outcome (a call's ``duration``, a ``salary`` that exists
only for students who were placed, a ``log_price`` beside ``price``) makes a model look
perfect in evaluation and useless in service. Three kinds of evidence are looked for,
each cheap enough to run on every table before training:

* **missing exactly when** the target is one class: the blank is the outcome;
* **predicts the target alone**: a one-column model scores at least :data:`LEAK_SCORE`
  (ROC-AUC for a binary target, macro one-vs-rest ROC-AUC for a multiclass one, R² for
  a regression);
* **a function of the target**: the target gives the column back (a ``price_band``
  cut from ``price``, a coarser relabelling of the classes), with agreement beyond
  chance (Cohen's κ) of at least :data:`LEAK_SCORE`.

One-column models are honest about small groups: a column is cut into groups (its
categories, or quantile bins of its numbers), each group's target mean is learned on one
half of the rows and scored on the other, so a column with a value per row earns nothing.
Numbers are also scored as they stand, by rank: ROC-AUC for a binary target, Spearman's ρ²
(R² between ranks) for a regression, so a ``log(target)`` scores 1 whatever the tails.
Free text is not judged by its exact values (repeated texts would look like a leak).

Example:
    >>> [leak.message for leak in find_leaks(frame, schema, rows=split.train)]
    ["possible target leak: log_price alone predicts price with R² 0.999; drop it ..."]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from modelry.data.clean import normalise_label, normalise_missing
from modelry.data.schema import Column, ColumnType, Role, Schema, Task
from modelry.errors import DataError

LEAK_SCORE = 0.95
MIN_ROWS = 30  # fewer labelled rows than this: no one-column scores (too noisy to judge)
MAX_BINS = 64
ROWS_PER_BIN = 40  # 20 per half: enough for a group mean learned on one half to mean much
MAX_LEVELS = 50  # a column with more values than this is not checked as a function of y

_NUMBERS = (ColumnType.NUMERIC, ColumnType.DATETIME)


class Evidence(StrEnum):
    """Why a column is suspected."""

    MISSING = "missing exactly when"
    SCORE = "predicts the target alone"
    FUNCTION = "a function of the target"


@dataclass(frozen=True)
class Leak:
    """One suspected column, with the figure that gave it away and what to do."""

    column: str
    evidence: Evidence
    metric: str  # what ``figure`` measures, e.g. "ROC-AUC", "R²", "κ"
    figure: float
    detail: str  # the finding in words, after the column's name
    advice: str

    @property
    def message(self) -> str:
        """One line for a terminal or a model card."""
        return f"possible target leak: {self.column} {self.detail}; {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(evidence=self.evidence.value, message=self.message)
        return doc


def find_leaks(
    frame: pd.DataFrame, schema: Schema, rows: Any = None, *, scores: bool = True
) -> list[Leak]:
    """The leakage report: at most one finding per feature column.

    A column missing exactly when the target is one class is reported as such; else one
    that predicts the target alone, with its score; else one the target gives back.

    Args:
        frame: The cleaned table (:func:`~modelry.data.clean.clean`).
        schema: Its schema; only feature columns are judged (the others never reach a model).
        rows: Row positions to judge on, e.g. the training split's; default every row.
        scores: ``False`` looks only for missing-exactly-when columns (no one-column scores).

    Returns:
        The findings, in column order; empty for a table without a target.
    """
    judged = _judged(frame, schema, rows)
    if judged is None:
        return []
    table, target = judged
    assert schema.target is not None  # else _judged returned None
    leaks = []
    for col in schema.columns:
        if col.role is not Role.FEATURE or col.name not in table.columns:
            continue
        leak = _missing_exactly_when(table[col.name], col.name, schema.target, target)
        if leak is None and scores and target.n >= MIN_ROWS and col.type is not ColumnType.TEXT:
            leak = _judge(table[col.name], col, schema.target, target)
        if leak is not None:
            leaks.append(leak)
    return leaks


def column_scores(
    frame: pd.DataFrame, schema: Schema, rows: Any = None
) -> dict[str, tuple[str, float]]:
    """Each feature column's one-column score: how well it alone predicts the target.

    The same honest one-column model :func:`find_leaks` judges by (group means learned on
    one half of the rows, scored on the other; numbers also by rank), for callers that
    flag columns by a threshold of their own (a campaign's call-outcome columns).
    Free-text columns are not scored.

    Args:
        frame: The cleaned table.
        schema: Its schema (target and task set).
        rows: Row positions to judge on, e.g. the training split's; default every row.

    Returns:
        ``{column: (metric, score)}``; empty without a target or with too few rows.
    """
    judged = _judged(frame, schema, rows)
    if judged is None or judged[1].n < MIN_ROWS:
        return {}
    table, target = judged
    scores = {}
    for col in schema.columns:
        if col.role is not Role.FEATURE or col.name not in table.columns:
            continue
        if col.type is ColumnType.TEXT:
            continue
        *_, metric, score = _scored(table[col.name], col, target)
        scores[col.name] = (metric, round(score, 4))
    return scores


def _judged(frame: pd.DataFrame, schema: Schema, rows: Any) -> tuple[pd.DataFrame, _Target] | None:
    """The labelled rows of ``rows`` (missing values normalised) and their target; None
    without a target or with fewer than two labelled rows."""
    if schema.target is None or schema.task is None:
        return None
    table = normalise_missing(frame, schema.missing_values)
    if rows is not None:
        table = table.iloc[np.asarray(rows)]
    target = _Target.read(table[schema.target], schema)
    if target is None:
        return None
    return table.iloc[target.kept], target


def refuse_leaks(leaks: list[Leak]) -> None:
    """Refuse to train on a table with possible leaks (``--strict-leaks``).

    Raises:
        DataError: one line naming every suspected column, its figure and the fix.
    """
    if not leaks:
        return
    found = "; ".join(f"{leak.column} {leak.detail}" for leak in leaks)
    names = ",".join(leak.column for leak in leaks)
    them = "them" if len(leaks) > 1 else "it"
    raise DataError(
        f"possible target leak (--strict-leaks): {found}; drop {them} (--drop {names}) "
        "or train without --strict-leaks"
    )


def _advice(column: str) -> str:
    return f"drop it (--drop {column}) unless its value is known before the outcome"


@dataclass(frozen=True)
class _Target:
    """The labelled rows' target: class codes (``classes`` order) or numbers, and halves."""

    kept: np.ndarray  # positions of labelled rows in the judged table
    y: np.ndarray  # int64 class codes, or float64 values for a regression
    classes: list[str] | None
    half: np.ndarray  # 0 or 1 per row: group means learned on one half, scored on the other
    nearest: np.ndarray | None  # regression: each row's nearest target on the other half
    ranks: np.ndarray | None  # regression: the target's ranks

    @property
    def n(self) -> int:
        return len(self.y)

    @staticmethod
    def read(series: pd.Series, schema: Schema) -> _Target | None:
        if schema.task is Task.REGRESSION:
            y = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            kept = np.flatnonzero(np.isfinite(y))
            y, classes = y[kept], None
        else:
            classes = list(schema.classes or [])
            labels = series.map(lambda v: None if pd.isna(v) else normalise_label(v))
            codes = pd.Categorical(labels, categories=classes).codes.astype(np.int64)
            kept = np.flatnonzero(codes >= 0)
            y = codes[kept]
        if len(kept) < 2:
            return None
        # A fixed shuffle: the same table always gets the same halves, whatever its order.
        half = np.random.default_rng(0).permutation(len(kept)) % 2
        nearest = ranks = None
        if classes is None:  # computed once here, used by every column
            nearest, ranks = _nearest_rows(y, half), pd.Series(y).rank().to_numpy()
        return _Target(kept=kept, y=y, classes=classes, half=half, nearest=nearest, ranks=ranks)


def _missing_exactly_when(
    series: pd.Series, name: str, target_name: str, target: _Target
) -> Leak | None:
    """A column blank for every row of one class and for no other row."""
    if target.classes is None:
        return None
    missing = series.isna().to_numpy()
    if not 0 < missing.sum() < len(missing):
        return None
    blank_classes = np.unique(target.y[missing])
    if len(blank_classes) != 1 or (target.y[~missing] == blank_classes[0]).any():
        return None
    label = target.classes[int(blank_classes[0])]
    return Leak(
        column=name,
        evidence=Evidence.MISSING,
        metric="share of the class's rows where it is missing",
        figure=1.0,
        detail=f"is missing exactly when {target_name} is {label!r}",
        advice=_advice(name),
    )


def _scored(series: pd.Series, col: Column, target: _Target) -> tuple[np.ndarray, int, str, float]:
    """The column's groups, their count, and its one-column score (metric, value)."""
    groups, n_groups = _groups(series, col.type, target.n)
    numbers = _numbers(series, col.type) if col.type in _NUMBERS else None
    metric, score = _alone(groups, n_groups, numbers, target)
    return groups, n_groups, metric, score


def _judge(series: pd.Series, col: Column, target_name: str, target: _Target) -> Leak | None:
    groups, n_groups, metric, score = _scored(series, col, target)
    if score >= LEAK_SCORE:
        return Leak(
            column=col.name,
            evidence=Evidence.SCORE,
            metric=metric,
            figure=round(score, 4),
            detail=f"alone predicts {target_name} with {metric} {score:.3f}",
            advice=_advice(col.name),
        )
    if n_groups > MAX_LEVELS + 1:
        return None
    kappa, accuracy, chance = _given_back(groups, n_groups, target)
    if kappa >= LEAK_SCORE:
        return Leak(
            column=col.name,
            evidence=Evidence.FUNCTION,
            metric="κ",
            figure=round(kappa, 4),
            detail=(
                f"is a function of {target_name}: the target gives it back for "
                f"{accuracy:.1%} of rows ({chance:.1%} by chance, κ {kappa:.3f})"
            ),
            advice=_advice(col.name),
        )
    return None


# -- groups ------------------------------------------------------------------------------


def _numbers(series: pd.Series, ctype: ColumnType) -> np.ndarray:
    """A number column as float64, NaN where missing (dates as seconds since 1970)."""
    if ctype is ColumnType.DATETIME:
        stamps = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
        return np.asarray(seconds.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.asarray(pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64))


def _bins(n: int) -> int:
    return int(np.clip(n // ROWS_PER_BIN, 2, MAX_BINS))


def _groups(series: pd.Series, ctype: ColumnType, n: int) -> tuple[np.ndarray, int]:
    """A group code per row: a category, or a quantile bin of a number; missing is a group."""
    if ctype in _NUMBERS:
        return _binned(_numbers(series, ctype), _bins(n))
    codes, uniques = pd.factorize(series.astype("string"), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    codes[codes < 0] = len(uniques)
    return codes, len(uniques) + 1


def _binned(values: np.ndarray, bins: int) -> tuple[np.ndarray, int]:
    present = np.isfinite(values)
    distinct = np.unique(values[present])
    if len(distinct) <= bins:  # few values: each is its own group
        edges = distinct[1:]
    else:
        edges = np.unique(np.quantile(values[present], np.linspace(0, 1, bins + 1)[1:-1]))
    codes = np.searchsorted(edges, values, side="right").astype(np.int64)
    codes[~present] = len(edges) + 1
    return codes, len(edges) + 2


# -- one column alone --------------------------------------------------------------------


def _alone(
    groups: np.ndarray, n_groups: int, numbers: np.ndarray | None, target: _Target
) -> tuple[str, float]:
    """The one-column model's metric and score (higher means a better guess of the target)."""
    if target.classes is None:
        score = _grouped_r2(groups, n_groups, target)
        ranked = _rank_r2(numbers, target) if numbers is not None else 0.0
        return ("rank R² (Spearman ρ²)", ranked) if ranked > score else ("R²", score)
    if len(target.classes) == 2:
        score = _grouped_auc(groups, n_groups, target, [1])
        if numbers is not None:
            score = max(score, _rank_auc(numbers, target.y))
        return "ROC-AUC", score
    classes = list(range(len(target.classes)))
    return "macro ROC-AUC (one-vs-rest)", _grouped_auc(groups, n_groups, target, classes)


def _cell_counts(groups: np.ndarray, n_groups: int, target: _Target) -> np.ndarray:
    """Rows per (half, group, class): shape (2, n_groups, n_classes)."""
    k = len(target.classes or [])
    cell = (target.half * n_groups + groups) * k + target.y
    return np.bincount(cell, minlength=2 * n_groups * k).reshape(2, n_groups, k)


def _grouped_auc(groups: np.ndarray, n_groups: int, target: _Target, classes: list[int]) -> float:
    """Mean one-vs-rest ROC-AUC of class shares learned per group on the other half."""
    counts = _cell_counts(groups, n_groups, target).astype(np.float64)
    sizes = counts.sum(axis=2, keepdims=True)
    prior = counts.sum(axis=1, keepdims=True) / counts.sum(axis=(1, 2), keepdims=True)
    shares = np.where(sizes > 0, counts / np.maximum(sizes, 1), prior)
    guessed = shares[::-1]  # half 0 is scored with what half 1 learned, and back
    aucs = []
    for c in classes:
        pos = counts[:, :, c].ravel()
        neg = sizes[:, :, 0].ravel() - pos
        auc = _weighted_auc(guessed[:, :, c].ravel(), pos, neg)
        if auc is not None:
            aucs.append(auc)
    return float(np.mean(aucs)) if aucs else 0.0


def _rank_auc(values: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC of a number as it stands, either way up (a rank statistic: nothing fitted)."""
    present = np.isfinite(values)
    distinct, inverse = np.unique(values[present], return_inverse=True)
    pos = np.bincount(inverse, weights=y[present], minlength=len(distinct))
    neg = np.bincount(inverse, minlength=len(distinct)) - pos
    auc = _weighted_auc(distinct, pos, neg)
    return 0.0 if auc is None else max(auc, 1.0 - auc)


def _weighted_auc(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float | None:
    """ROC-AUC from counts of positives and negatives at each score (ties count half)."""
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return None
    levels, inverse = np.unique(scores, return_inverse=True)
    pos = np.bincount(inverse, weights=pos, minlength=len(levels))
    neg = np.bincount(inverse, weights=neg, minlength=len(levels))
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def _grouped_r2(groups: np.ndarray, n_groups: int, target: _Target) -> float:
    """R² of group means learned on the other half."""
    y, half = target.y, target.half
    cell = half * n_groups + groups
    size = np.bincount(cell, minlength=2 * n_groups).reshape(2, n_groups)
    total = np.bincount(cell, weights=y, minlength=2 * n_groups).reshape(2, n_groups)
    means = np.array([y[half == h].mean() if (half == h).any() else y.mean() for h in (0, 1)])
    learned = np.where(size > 0, total / np.maximum(size, 1), means[:, None])
    guess = learned[::-1][half, groups]
    return _r2(y, guess)


def _rank_r2(values: np.ndarray, target: _Target) -> float:
    """Spearman's ρ²: R² of a straight line between ranks, so any monotone transform of the
    target (``log``, a square root, a rescaling) scores 1 whatever its tails."""
    present = np.isfinite(values)
    if present.sum() < 2:
        return 0.0
    ranks_x = pd.Series(values[present]).rank().to_numpy()
    if present.all() and target.ranks is not None:
        ranks_y = target.ranks
    else:
        ranks_y = pd.Series(target.y[present]).rank().to_numpy()
    if ranks_x.std() == 0 or ranks_y.std() == 0:
        return 0.0
    return float(np.corrcoef(ranks_x, ranks_y)[0, 1] ** 2)


def _r2(y: np.ndarray, guess: np.ndarray) -> float:
    spread = float(((y - y.mean()) ** 2).sum())
    return 0.0 if spread == 0 else 1.0 - float(((y - guess) ** 2).sum()) / spread


# -- the target gives the column back ----------------------------------------------------


def _given_back(groups: np.ndarray, n_groups: int, target: _Target) -> tuple[float, float, float]:
    """κ, accuracy and chance rate of guessing the column's group from the target alone.

    A class guesses the group most common for it on the other half (chance: the commonest
    group's share). A number guesses the group of the row nearest to it on the other half
    (chance: that two rows drawn at random share a group), so a ``price_band`` cut from
    ``price`` misses only where two neighbours straddle a cut.
    """
    shares = np.bincount(groups, minlength=n_groups) / target.n
    if target.classes is None:
        assert target.nearest is not None
        hits, chance = int((groups == groups[target.nearest]).sum()), float((shares**2).sum())
    else:
        hits, chance = _mode_hits(groups, n_groups, target), float(shares.max())
    accuracy = hits / target.n
    kappa = 0.0 if chance >= 1.0 else (accuracy - chance) / (1.0 - chance)
    return kappa, accuracy, chance


def _mode_hits(groups: np.ndarray, n_groups: int, target: _Target) -> int:
    k = len(target.classes or [])
    flat = (target.half * k + target.y) * n_groups + groups
    counts = np.bincount(flat, minlength=2 * k * n_groups).reshape(2, k, n_groups)
    fallback = counts.sum(axis=1).argmax(axis=1)  # each half's commonest group
    learned = np.where(counts.sum(axis=2) > 0, counts.argmax(axis=2), fallback[:, None])
    guess = learned[::-1]  # (half, class) → the group the other half learned
    return int(np.take_along_axis(counts, guess[:, :, None], axis=2).sum())


def _nearest_rows(y: np.ndarray, half: np.ndarray) -> np.ndarray:
    """For each row, the position of the row on the other half whose target is nearest."""
    nearest = np.zeros(len(y), dtype=np.int64)
    for h in (0, 1):
        mine, other = np.flatnonzero(half == h), np.flatnonzero(half != h)
        if len(other) == 0:
            return np.arange(len(y))
        other = other[np.argsort(y[other], kind="stable")]
        ys = y[other]
        right = np.clip(np.searchsorted(ys, y[mine]), 0, len(ys) - 1)
        left = np.clip(right - 1, 0, len(ys) - 1)
        closer = np.abs(ys[left] - y[mine]) <= np.abs(ys[right] - y[mine])
        nearest[mine] = other[np.where(closer, left, right)]
    return nearest
