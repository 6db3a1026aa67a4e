"""Fairness of a binary model's decisions, group by group.

For each sensitive attribute, and for each pair of them (intersections), an audit reports
per group: its size (groups under 2 % of rows are flagged *small*; a missing or blank
value is the group ``unknown``), the **selection rate** at the decision threshold, the
**scoring rate** (share above the sample's median score), the **impact ratio** — a group's
selection rate over that of the most-selected group, the measure of NYC Local Law 144 bias
audits — with a flag under 0.8 (the EEOC's four-fifths rule), and, when the true outcome
is known, TPR, FPR and ROC-AUC, with the TPR and FPR gaps (equalised odds).

The per-group figures are computed by fairlearn's :class:`~fairlearn.metrics.MetricFrame`:
it slices every metric, and its per-row ``sample_params`` (scores, above-median flags), by
one column or by several at once — intersections are a two-column frame — with the
grouping rules fairlearn's users already know. The ratios, flags and gaps on top are ours,
since they follow LL144 (reference group, small groups left out) rather than fairlearn's
plain ``ratio()``/``difference()``.

Example:
    >>> audit = audit_scores(scores, {"gender": gender}, y_true=y, threshold=0.5)  # doctest: +SKIP
    >>> audit.attributes[0].min_impact_ratio  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelry.data.columns import ColumnArray
from modelry.errors import ConfigError
from modelry.serving.thresholds import group_keys

FOUR_FIFTHS = 0.8
SMALL_SHARE = 0.02
JOIN = " & "


@dataclass
class GroupResult:
    """The figures of one group (``None`` where undefined, e.g. TPR without positives)."""

    group: str
    size: int
    share: float
    small: bool
    selection_rate: float
    scoring_rate: float
    impact_ratio: float | None
    scoring_impact_ratio: float | None
    below_four_fifths: bool
    base_rate: float | None = None
    tpr: float | None = None
    fpr: float | None = None
    roc_auc: float | None = None


@dataclass
class AttributeResult:
    """One attribute (``gender``) or intersection (``gender & race``) and its groups.

    The reference group, minimum impact ratio, violations and gaps leave out small groups
    (LL144 lets an audit exclude categories under 2 % of the data), unless every group
    is small.
    """

    attribute: str
    columns: list[str]
    groups: list[GroupResult]
    reference_group: str | None
    min_impact_ratio: float | None
    four_fifths_violations: list[str]
    small_groups: list[str]
    selection_rate_gap: float
    tpr_gap: float | None = None
    fpr_gap: float | None = None
    equalized_odds_gap: float | None = None

    def group(self, name: str) -> GroupResult:
        """The group called ``name`` (KeyError if absent)."""
        for g in self.groups:
            if g.group == name:
                return g
        raise KeyError(name)


@dataclass
class FairnessAudit:
    """The whole audit, as ``report.json`` holds it."""

    rows: int
    threshold: float
    median_score: float
    outcome: bool
    attributes: list[AttributeResult]
    notes: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)

    def attribute(self, name: str) -> AttributeResult:
        """The attribute (or ``a & b`` intersection) called ``name`` (KeyError if absent)."""
        for a in self.attributes:
            if a.attribute == name:
                return a
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """Per attribute: the minimum impact ratio, violations, small groups and gaps."""
        return {
            "rows": self.rows,
            "threshold": self.threshold,
            "outcome": self.outcome,
            "attributes": {
                a.attribute: {
                    "reference_group": a.reference_group,
                    "min_impact_ratio": a.min_impact_ratio,
                    "four_fifths_violations": a.four_fifths_violations,
                    "small_groups": a.small_groups,
                    "impact_ratio": {g.group: g.impact_ratio for g in a.groups},
                    "selection_rate": {g.group: g.selection_rate for g in a.groups},
                    "tpr_gap": a.tpr_gap,
                    "fpr_gap": a.fpr_gap,
                }
                for a in self.attributes
            },
            "notes": self.notes,
        }


def _metric_frame() -> Any:
    # fairlearn imports pandas: imported on the first audit, not with the module
    from fairlearn.metrics import MetricFrame

    return MetricFrame


# -- per-group metrics, called by MetricFrame on each group's slice -------------------------


def _count(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(len(y_pred))


def _selection(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_pred)) if len(y_pred) else math.nan


def _scoring(y_true: np.ndarray, y_pred: np.ndarray, above: np.ndarray) -> float:
    return float(np.mean(above)) if len(above) else math.nan


def _base_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true)) if len(y_true) else math.nan


def _tpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    positives = np.asarray(y_true) == 1
    return float(np.mean(np.asarray(y_pred)[positives])) if positives.any() else math.nan


def _fpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    negatives = np.asarray(y_true) == 0
    return float(np.mean(np.asarray(y_pred)[negatives])) if negatives.any() else math.nan


def _roc_auc(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) < 2:
        return math.nan
    return float(roc_auc_score(y_true, scores))


def _num(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _gap(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) - min(known) if len(known) >= 2 else None


# -- the audit -----------------------------------------------------------------------------


def audit_scores(
    scores: np.ndarray,
    sensitive: Mapping[str, ColumnArray],
    *,
    y_true: np.ndarray | None = None,
    threshold: float = 0.5,
    decisions: np.ndarray | None = None,
    intersections: bool = True,
    small_share: float = SMALL_SHARE,
) -> FairnessAudit:
    """Audit the decisions ``scores >= threshold`` (or ``decisions``) for each attribute.

    Args:
        scores: P(positive) per row.
        sensitive: Attribute name → its column (missing values form the group ``unknown``).
        y_true: The true outcome as 0/1, or None: TPR, FPR and ROC-AUC are then skipped.
        threshold: The decision threshold (reported; used unless ``decisions`` is given).
        decisions: The model's 0/1 decisions when they are not one threshold, e.g. a
            model with group thresholds.
        intersections: Also audit every pair of attributes (when there are two or more).
        small_share: Groups below this share of rows are flagged small.

    Raises:
        ConfigError: No attributes, or lengths that disagree.
    """
    metric_frame = _metric_frame()
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = len(scores)
    if not sensitive:
        raise ConfigError("no sensitive attributes to audit: name at least one column")
    decided = (scores >= threshold) if decisions is None else np.asarray(decisions, dtype=bool)
    for name, column in sensitive.items():
        if len(column) != n:
            raise ConfigError(f"sensitive column {name!r} has {len(column)} rows, scores {n}")
    if len(decided) != n or (y_true is not None and len(y_true) != n):
        raise ConfigError(f"decisions or outcomes do not have {n} rows like the scores")
    median = float(np.median(scores)) if n else math.nan
    above = scores > median
    keys = {name: group_keys(column) for name, column in sensitive.items()}
    sets: list[list[str]] = [[name] for name in keys]
    if intersections and len(keys) >= 2:
        sets += [list(pair) for pair in itertools.combinations(keys, 2)]
    results = [
        _attribute(metric_frame, cols, keys, scores, decided, above, y_true, small_share)
        for cols in sets
    ]
    notes = []
    if y_true is None:
        notes.append("no true outcome in the data: TPR, FPR and ROC-AUC are not reported")
    return FairnessAudit(
        rows=n,
        threshold=float(threshold),
        median_score=median,
        outcome=y_true is not None,
        attributes=results,
        notes=notes,
    )


def _attribute(
    metric_frame: Any,
    columns: list[str],
    keys: Mapping[str, np.ndarray],
    scores: np.ndarray,
    decided: np.ndarray,
    above: np.ndarray,
    y_true: np.ndarray | None,
    small_share: float,
) -> AttributeResult:
    import pandas as pd  # type: ignore[import-untyped]

    n = len(scores)
    metrics: dict[str, Any] = {"size": _count, "selection_rate": _selection, "scoring": _scoring}
    params: dict[str, dict[str, np.ndarray]] = {"scoring": {"above": above}}
    if y_true is not None:
        metrics.update(base_rate=_base_rate, tpr=_tpr, fpr=_fpr, roc_auc=_roc_auc)
        params["roc_auc"] = {"scores": scores}
    features = pd.DataFrame({c: keys[c] for c in columns})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn warns about single-class groups
        frame = metric_frame(
            metrics=metrics,
            y_true=np.zeros(n) if y_true is None else np.asarray(y_true, dtype=np.float64),
            y_pred=decided.astype(np.float64),
            sensitive_features=features,
            sample_params=params,
        ).by_group
    rows = []
    for index, row in frame.iterrows():
        size = row["size"]
        if size is None or not size > 0:  # combinations absent from the data
            continue
        label = JOIN.join(index) if isinstance(index, tuple) else str(index)
        rows.append((label, int(size), row))
    rows.sort(key=lambda r: (-r[1], r[0]))
    big = [r for r in rows if r[1] / n >= small_share] or rows
    big_names = {r[0] for r in big}
    top = max(big, key=lambda r: float(r[2]["selection_rate"]), default=None)
    top_rate = float(top[2]["selection_rate"]) if top else 0.0
    top_scoring = max((float(r[2]["scoring"]) for r in big), default=0.0)
    groups = []
    for label, size, row in rows:
        rate, scoring = float(row["selection_rate"]), float(row["scoring"])
        ratio = rate / top_rate if top_rate > 0 else None
        groups.append(
            GroupResult(
                group=label,
                size=size,
                share=size / n,
                small=size / n < small_share,
                selection_rate=rate,
                scoring_rate=scoring,
                impact_ratio=ratio,
                scoring_impact_ratio=scoring / top_scoring if top_scoring > 0 else None,
                below_four_fifths=ratio is not None and ratio < FOUR_FIFTHS,
                base_rate=_num(row["base_rate"]) if y_true is not None else None,
                tpr=_num(row["tpr"]) if y_true is not None else None,
                fpr=_num(row["fpr"]) if y_true is not None else None,
                roc_auc=_num(row["roc_auc"]) if y_true is not None else None,
            )
        )
    judged = [g for g in groups if g.group in big_names]
    ratios = [g.impact_ratio for g in judged if g.impact_ratio is not None]
    tpr_gap = _gap([g.tpr for g in judged])
    fpr_gap = _gap([g.fpr for g in judged])
    return AttributeResult(
        attribute=JOIN.join(columns),
        columns=columns,
        groups=groups,
        reference_group=top[0] if top and top_rate > 0 else None,
        min_impact_ratio=min(ratios) if ratios else None,
        four_fifths_violations=[g.group for g in judged if g.below_four_fifths],
        small_groups=[g.group for g in groups if g.small],
        selection_rate_gap=_gap([g.selection_rate for g in judged]) or 0.0,
        tpr_gap=tpr_gap,
        fpr_gap=fpr_gap,
        equalized_odds_gap=max(tpr_gap, fpr_gap)
        if tpr_gap is not None and fpr_gap is not None
        else None,
    )


__all__ = [
    "FOUR_FIFTHS",
    "SMALL_SHARE",
    "AttributeResult",
    "FairnessAudit",
    "GroupResult",
    "audit_scores",
]
