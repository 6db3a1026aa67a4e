"""Fairness audits of binary models, their reports, and mitigation by group thresholds.

Reads artifacts and runtimes; nothing below this layer imports it. fairlearn
(a default dependency) computes the per-group figures and fits the thresholds.
"""

from __future__ import annotations

from modelry.audit.fairness import (
    FOUR_FIFTHS,
    SMALL_SHARE,
    AttributeResult,
    FairnessAudit,
    GroupResult,
    audit_scores,
)
from modelry.audit.mitigation import TrainingFairness, fit_thresholds, training_fairness
from modelry.audit.report import audit_model, render_markdown, write_report

__all__ = [
    "FOUR_FIFTHS",
    "SMALL_SHARE",
    "AttributeResult",
    "FairnessAudit",
    "GroupResult",
    "TrainingFairness",
    "audit_model",
    "audit_scores",
    "fit_thresholds",
    "render_markdown",
    "training_fairness",
    "write_report",
]
