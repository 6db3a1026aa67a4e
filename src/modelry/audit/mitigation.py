"""Mitigation by group thresholds, and the fairness figures a training run records.

``modelry train --fairness demographic_parity|equalized_odds`` keeps the network as
trained and moves the decision threshold per group of one sensitive attribute (the first
one declared), fitted on the **validation** split:

1. fairlearn's :class:`~fairlearn.postprocessing.ThresholdOptimizer` (Hardt et al., 2016)
   runs on our scores (``prefit=True``, ``predict_method="predict"`` on a pass-through
   estimator) and finds, per group, the point that maximises accuracy under the constraint:
   equal selection rates, or equal TPR and FPR;
2. its solution is randomised (two thresholds mixed with probabilities p0, p1). A served
   decision must be reproducible, so each group gets the one deterministic threshold whose
   validation selection rate (demographic parity), or TPR and FPR (equalised odds), come
   closest to that solution's.

Groups with fewer than 30 validation rows keep the base threshold, and with fewer than
two such groups nothing is fitted (``metrics.json`` says why): on a dozen rows the
solution is noise — on campus_placement's 11 validation women it *lowered* the test
impact ratio from 0.78 to 0.41.

The thresholds go into ``network.json`` as ``group_thresholds`` and the runtime applies
them when a request carries the sensitive column (base threshold otherwise), so the
attribute becomes an input to the *decision*, never to the network — a legal choice the
user makes by asking for it. Before/after accuracy and impact ratios on the test split
go to ``metrics.json`` under ``fairness``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator

from modelry.audit.fairness import audit_scores
from modelry.data.columns import ColumnArray
from modelry.errors import ConfigError
from modelry.serving.thresholds import apply_group_thresholds, group_keys

Constraint = Literal["demographic_parity", "equalized_odds"]
MIN_GROUP_ROWS = 30


class _Scores(BaseEstimator):  # type: ignore[misc]  # sklearn is untyped
    """A fitted 'estimator' whose prediction is the score it is given (column 0 of X)."""

    def __init__(self) -> None:
        self.fitted_ = True

    def fit(self, X: Any, y: Any) -> _Scores:
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)[:, 0]


def fit_thresholds(
    scores: np.ndarray,
    y_true: np.ndarray,
    groups: ColumnArray,
    constraint: Constraint,
    *,
    min_rows: int = MIN_GROUP_ROWS,
) -> dict[str, float]:
    """Deterministic per-group thresholds meeting ``constraint`` on these (validation) rows.

    Groups with fewer than ``min_rows`` rows, or (for equalised odds) with one class only,
    get no threshold of their own: the base threshold applies to them.

    Args:
        scores: P(positive) per row.
        y_true: The outcome as 0/1.
        groups: The sensitive column (missing values are the group ``unknown``).
        constraint: ``demographic_parity`` or ``equalized_odds``.

    Returns:
        ``{group: threshold}``; empty when fewer than two groups qualify.

    Raises:
        ConfigError: An unknown constraint.
    """
    if constraint not in ("demographic_parity", "equalized_odds"):
        raise ConfigError(f"unknown fairness constraint {constraint!r}", field="fairness")
    from fairlearn.postprocessing import ThresholdOptimizer  # pandas with it: only when fitting

    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(y_true).astype(int).reshape(-1)
    keys = group_keys(groups)
    eligible = [
        g
        for g in sorted(set(keys.tolist()))
        if (keys == g).sum() >= min_rows
        and (constraint != "equalized_odds" or len(np.unique(y[keys == g])) == 2)
    ]
    if len(eligible) < 2 or len(np.unique(y)) < 2:
        return {}
    rows = np.isin(keys, eligible)
    optimizer = ThresholdOptimizer(
        estimator=_Scores(),
        constraints=constraint,
        objective="accuracy_score",
        prefit=True,
        predict_method="predict",
        flip=False,
    )
    optimizer.fit(scores[rows, None], y[rows], sensitive_features=keys[rows].astype(str))
    plan = optimizer.interpolated_thresholder_.interpolation_dict
    out = {}
    for group in eligible:
        member = keys == group
        s, yg = scores[member], y[member]
        step = plan[group]
        chance = step.p0 * step.operation0(s) + step.p1 * step.operation1(s)
        out[group] = _closest_threshold(s, yg, chance, constraint)
    return out


def _closest_threshold(
    scores: np.ndarray, y: np.ndarray, chance: np.ndarray, constraint: Constraint
) -> float:
    """The cut ``score >= t`` whose rates come closest to the randomised solution's."""
    order = np.argsort(-scores, kind="stable")
    desc, yd = scores[order], y[order]
    m = len(desc)
    k = np.arange(m + 1)  # the top k rows selected
    # A cut between two equal scores is not a threshold: keep k where the score drops.
    valid = np.ones(m + 1, dtype=bool)
    valid[1:m] = desc[:-1] > desc[1:]
    pos, neg = max(int(yd.sum()), 1), max(int(m - yd.sum()), 1)
    tp = np.concatenate([[0], np.cumsum(yd)])
    fp = np.concatenate([[0], np.cumsum(1 - yd)])
    if constraint == "demographic_parity":
        distance = np.abs(k / m - float(chance.mean()))
    else:
        tpr_goal = float(chance[y == 1].mean())
        fpr_goal = float(chance[y == 0].mean())
        distance = np.maximum(np.abs(tp / pos - tpr_goal), np.abs(fp / neg - fpr_goal))
    distance[~valid] = np.inf
    best = int(np.argmin(distance))
    if best == 0:
        return float(np.nextafter(desc[0], np.inf))
    if best == m:
        return float(desc[-1])
    return float((desc[best - 1] + desc[best]) / 2)


# -- what a training run records ----------------------------------------------------------


@dataclass
class TrainingFairness:
    """What the pipeline stores: thresholds for network.json, figures for metrics and card."""

    group_thresholds: dict[str, dict[str, float]] | None = None
    metrics: dict[str, Any] | None = None
    audit: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def _figures(
    scores: np.ndarray, y: np.ndarray, column: str, groups: ColumnArray, decided: np.ndarray
) -> dict[str, Any]:
    audit = audit_scores(scores, {column: groups}, y_true=y, decisions=decided, intersections=False)
    a = audit.attributes[0]
    return {
        "accuracy": float(np.mean(decided == (y == 1))),
        "selection_rate": {g.group: g.selection_rate for g in a.groups},
        "impact_ratio": {g.group: g.impact_ratio for g in a.groups},
        "min_impact_ratio": a.min_impact_ratio,
        "tpr_gap": a.tpr_gap,
        "fpr_gap": a.fpr_gap,
    }


def training_fairness(
    constraint: Literal["none", "demographic_parity", "equalized_odds"],
    *,
    valid: tuple[np.ndarray, np.ndarray, Mapping[str, ColumnArray]],
    test: tuple[np.ndarray, np.ndarray, Mapping[str, ColumnArray]],
    threshold: float = 0.5,
) -> TrainingFairness:
    """Mitigate (if asked) on validation rows, then audit the test rows.

    Args:
        constraint: ``none`` audits only.
        valid: ``(scores, y, {sensitive column: values})`` of the validation rows.
        test: The same for the test rows.
        threshold: The base decision threshold.

    Returns:
        Empty when there are no sensitive columns.
    """
    valid_scores, valid_y, valid_sensitive = valid
    test_scores, test_y, test_sensitive = test
    if not test_sensitive:
        return TrainingFairness()
    out = TrainingFairness()
    decided = np.asarray(test_scores) >= threshold
    if constraint != "none":
        column = next(iter(valid_sensitive))
        fitted = fit_thresholds(valid_scores, valid_y, valid_sensitive[column], constraint)
        out.group_thresholds = {column: fitted} if fitted else None
        after = apply_group_thresholds(test_scores, test_sensitive, out.group_thresholds, threshold)
        before_doc = _figures(test_scores, test_y, column, test_sensitive[column], decided)
        after_doc = _figures(test_scores, test_y, column, test_sensitive[column], after)
        low, high = before_doc["min_impact_ratio"], after_doc["min_impact_ratio"]
        out.metrics = {
            "constraint": constraint,
            "column": column,
            "fitted_on": "valid",
            "group_thresholds": fitted,
            "base_threshold": threshold,
            "test": {"before": before_doc, "after": after_doc},
            "accuracy_cost": before_doc["accuracy"] - after_doc["accuracy"],
            "impact_ratio_gain": None if low is None or high is None else high - low,
        }
        if not fitted:
            # Thresholds fitted on a handful of rows swing wildly on new data: refuse.
            out.metrics["skipped"] = (
                f"fewer than two groups of {column!r} with {MIN_GROUP_ROWS}+ validation rows"
                f"{' and both classes' if constraint == 'equalized_odds' else ''}: "
                "no group thresholds (a larger --valid-fraction may help)"
            )
            out.notes.append(f"--fairness {constraint}: {out.metrics['skipped']}")
        decided = after
    audit = audit_scores(
        test_scores, dict(test_sensitive), y_true=test_y, threshold=threshold, decisions=decided
    )
    out.audit = {"split": "test", **audit.summary()}
    out.audit["notes"] = list(audit.notes) + out.notes
    if out.group_thresholds:
        out.audit["notes"].append(f"decisions use the group thresholds fitted for {constraint}")
    return out


__all__ = ["Constraint", "TrainingFairness", "fit_thresholds", "training_fairness"]
