"""Fairness of one shortlist, per protected attribute: selection, impact ratio and exposure.

Where an index holds protected attributes (``modelry recruit index --sensitive gender``: kept
in the index's ``sensitive.json``, never embedded, matched on or shown in reasons), every
shortlist is audited over the whole index:

- **selection rate** per group: its share of members in the shortlist (the top ``k``), and the
  **impact ratio**, a group's rate over the most-selected group's, flagged under four-fifths
  (NYC Local Law 144 bias audits, the EEOC rule). These come from the model audit itself
  (:func:`modelry.audit.fairness.audit_scores`, the shortlist as the decisions), with its
  rules: a missing value is the group ``unknown``; groups under 2 % of the index are reported
  but neither set nor fail the reference.
- **exposure** per group: the attention a ranking gives, discounted by position
  (``1 / log2(1 + rank)`` for the shortlist's ranks, nothing below it; Singh & Joachims,
  "Fairness of Exposure in Rankings", 2018). Reported as the group's share of the shortlist's
  exposure beside its share of the index, and as the **exposure ratio**: exposure per member
  over the best-exposed group's, a ranking-aware companion to the impact ratio (a group can be
  selected as often as others yet always sit at the bottom of the list).

A shortlist of very few candidates from a large index is a small sample: the figures describe
this decision, they do not establish bias; the decision log keeps them so that audits over
many shortlists can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DECIMALS = 6


def exposure_weights(n: int, top: int) -> np.ndarray:
    """Exposure of ranks 1..``n``: ``1 / log2(1 + rank)`` within the top ``top``, else 0."""
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return np.where(ranks <= top, 1.0 / np.log2(1.0 + ranks), 0.0)


def shortlist_fairness(
    sensitive: Mapping[str, Sequence[str | None]], order: Sequence[int], top: int
) -> dict[str, Any] | None:
    """The fairness record of a shortlist: the first ``top`` of ``order`` (positions in the
    index, best first), for each attribute in ``sensitive`` (values aligned with the index).
    None when the index holds no protected attribute.
    """
    if not sensitive:
        return None
    # Only shortlists from indexes with protected attributes pay for the audit's imports
    # (fairlearn, pandas): a server matching plain indexes never loads them.
    from modelry.audit.fairness import FOUR_FIFTHS, audit_scores
    from modelry.serving.thresholds import group_keys

    n = len(order)
    selected = np.zeros(n, dtype=bool)
    selected[np.asarray(order[:top], dtype=np.int64)] = True
    exposure = np.zeros(n)
    exposure[np.asarray(order, dtype=np.int64)] = exposure_weights(n, top)
    total = float(exposure.sum())
    columns = {a: np.asarray(list(v), dtype=object) for a, v in sensitive.items()}
    audit = audit_scores(
        selected.astype(np.float64), columns, decisions=selected, intersections=False
    )
    attributes: dict[str, Any] = {}
    warnings: list[str] = []
    for result in audit.attributes:
        keys = group_keys(columns[result.attribute])
        per_member = {
            g.group: float(exposure[keys == g.group].sum()) / g.size for g in result.groups
        }
        judged = [g.group for g in result.groups if not g.small] or list(per_member)
        best = max(per_member[g] for g in judged)
        groups = {}
        for g in result.groups:
            share = float(exposure[keys == g.group].sum()) / total if total > 0 else 0.0
            groups[g.group] = {
                "size": g.size,
                "selected": int(selected[keys == g.group].sum()),
                "selection_rate": round(g.selection_rate, DECIMALS),
                "impact_ratio": None if g.impact_ratio is None else round(g.impact_ratio, DECIMALS),
                "below_four_fifths": g.below_four_fifths,
                "small": g.small,
                "pool_share": round(g.share, DECIMALS),
                "exposure_share": round(share, DECIMALS),
                "exposure_ratio": round(per_member[g.group] / best, DECIMALS) if best else None,
            }
        attributes[result.attribute] = {
            "reference_group": result.reference_group,
            "min_impact_ratio": None
            if result.min_impact_ratio is None
            else round(result.min_impact_ratio, DECIMALS),
            "four_fifths_violations": result.four_fifths_violations,
            "groups": groups,
        }
        for group in result.four_fifths_violations:
            warnings.append(
                f"{result.attribute}: group {group!r} is selected at "
                f"{groups[group]['impact_ratio']:.2f} times the rate of "
                f"{result.reference_group!r}, under four-fifths ({FOUR_FIFTHS})"
            )
    return {
        "candidates": n,
        "selected": int(selected.sum()),
        "exposure": "1/log2(1+rank) within the shortlist",
        "attributes": attributes,
        "warnings": warnings,
    }
