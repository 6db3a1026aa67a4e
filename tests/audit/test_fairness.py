"""Audit figures against values computed by hand on a small scored set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelry.audit.fairness import audit_scores
from modelry.errors import ConfigError


def _block(
    n: int, selected: int, pos_selected: int, pos_rest: int
) -> tuple[list[float], list[int]]:
    """``n`` rows, the first ``selected`` scored 0.9 (selected), the rest 0.1."""
    scores = [0.9] * selected + [0.1] * (n - selected)
    y = [1] * pos_selected + [0] * (selected - pos_selected)
    y += [1] * pos_rest + [0] * (n - selected - pos_rest)
    return scores, y


@pytest.fixture
def scored() -> dict[str, np.ndarray]:
    # A: 50 rows, 30 selected (24 of them positive), 4 positives among the 20 others.
    # B: 40 rows, 12 selected (6 positive), 8 positives among the 28 others.
    # unknown: 9 rows (None, "", NaN-like blanks), 5 selected, no positives.
    # C: 1 row, selected: a small group (1 % < 2 %).
    parts = {"A": _block(50, 30, 24, 4), "B": _block(40, 12, 6, 8), None: _block(9, 5, 0, 0)}
    parts["C"] = ([0.9], [1])
    gender: list[object] = []
    scores: list[float] = []
    y: list[int] = []
    for group, (s, t) in parts.items():
        if group is None:
            gender += [None, "", "  "] * 3
        else:
            gender += [group] * len(s)
        scores += s
        y += t
    n = len(scores)
    band = np.array(["young" if i % 2 == 0 else "old" for i in range(n)], dtype=object)
    return {
        "scores": np.array(scores),
        "y": np.array(y, dtype=float),
        "gender": np.array(gender, dtype=object),
        "band": band,
    }


def test_selection_rates_impact_ratios_and_flags(scored: dict[str, np.ndarray]) -> None:
    audit = audit_scores(scored["scores"], {"gender": scored["gender"]}, y_true=scored["y"])
    g = audit.attribute("gender")
    assert audit.rows == 100
    assert {x.group: x.size for x in g.groups} == {"A": 50, "B": 40, "unknown": 9, "C": 1}
    a, b, unknown, c = (g.group(k) for k in ("A", "B", "unknown", "C"))
    assert a.selection_rate == pytest.approx(0.6)
    assert b.selection_rate == pytest.approx(0.3)
    assert unknown.selection_rate == pytest.approx(5 / 9)
    # C (100 % selected) is small, so it cannot be the reference: A is.
    assert g.reference_group == "A"
    assert c.small and not a.small and not unknown.small
    assert g.small_groups == ["C"]
    assert a.impact_ratio == pytest.approx(1.0)
    assert b.impact_ratio == pytest.approx(0.5)
    assert unknown.impact_ratio == pytest.approx((5 / 9) / 0.6)
    assert c.impact_ratio == pytest.approx(1 / 0.6)
    assert b.below_four_fifths and not a.below_four_fifths and not unknown.below_four_fifths
    assert g.four_fifths_violations == ["B"]
    assert g.min_impact_ratio == pytest.approx(0.5)
    # 48 of 100 rows selected: the median score is 0.1, so "above the median" = selected.
    assert audit.median_score == pytest.approx(0.1)
    assert b.scoring_rate == pytest.approx(0.3)
    assert b.scoring_impact_ratio == pytest.approx(0.5)


def test_equalised_odds_and_roc_auc(scored: dict[str, np.ndarray]) -> None:
    audit = audit_scores(scored["scores"], {"gender": scored["gender"]}, y_true=scored["y"])
    g = audit.attribute("gender")
    a, b, unknown = g.group("A"), g.group("B"), g.group("unknown")
    assert a.tpr == pytest.approx(24 / 28) and a.fpr == pytest.approx(6 / 22)
    assert b.tpr == pytest.approx(6 / 14) and b.fpr == pytest.approx(6 / 26)
    assert unknown.tpr is None and unknown.fpr == pytest.approx(5 / 9)
    assert unknown.roc_auc is None  # one class only
    # P(s+ > s-) + ½ P(tie): (24·16 + ½(24·6 + 4·16)) / (28·22)
    assert a.roc_auc == pytest.approx((24 * 16 + 0.5 * (24 * 6 + 4 * 16)) / (28 * 22))
    assert a.base_rate == pytest.approx(28 / 50)
    # Gaps over the groups that are not small (A, B, unknown).
    assert g.tpr_gap == pytest.approx(24 / 28 - 6 / 14)
    assert g.fpr_gap == pytest.approx(5 / 9 - 6 / 26)
    assert g.equalized_odds_gap == pytest.approx(max(24 / 28 - 6 / 14, 5 / 9 - 6 / 26))


def test_intersections_of_two_attributes(scored: dict[str, np.ndarray]) -> None:
    sensitive = {"gender": scored["gender"], "band": scored["band"]}
    audit = audit_scores(scored["scores"], sensitive, y_true=scored["y"])
    assert [a.attribute for a in audit.attributes] == ["gender", "band", "gender & band"]
    cross = audit.attribute("gender & band")
    assert sum(g.size for g in cross.groups) == 100
    # A occupies rows 0-49: rows 0,2,..,28 are selected and young (15 of 25 young A rows).
    a_young = cross.group("A & young")
    assert a_young.size == 25
    assert a_young.selection_rate == pytest.approx(15 / 25)
    assert cross.group("C & old").small  # row 99 is odd
    assert not audit_scores(scored["scores"], sensitive, intersections=False).attributes[2:]


def test_without_outcomes_and_with_explicit_decisions(scored: dict[str, np.ndarray]) -> None:
    decisions = np.zeros(100, dtype=bool)
    decisions[:10] = True  # ten A rows
    audit = audit_scores(scored["scores"], {"gender": scored["gender"]}, decisions=decisions)
    g = audit.attribute("gender")
    assert not audit.outcome and audit.notes
    assert g.group("A").selection_rate == pytest.approx(0.2)
    assert g.group("A").tpr is None and g.tpr_gap is None
    assert g.group("B").impact_ratio == pytest.approx(0.0)
    doc = audit.to_dict()
    assert doc["attributes"][0]["groups"][0]["impact_ratio"] == pytest.approx(1.0)
    assert not math.isnan(audit.summary()["attributes"]["gender"]["min_impact_ratio"])


def test_nobody_selected_gives_no_ratios() -> None:
    audit = audit_scores(np.full(4, 0.2), {"g": np.array(["a", "a", "b", "b"], dtype=object)})
    g = audit.attribute("g")
    assert g.reference_group is None and g.min_impact_ratio is None
    assert all(x.impact_ratio is None and not x.below_four_fifths for x in g.groups)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        audit_scores(np.zeros(3), {})
    with pytest.raises(ConfigError, match="rows"):
        audit_scores(np.zeros(3), {"g": np.array(["a", "b"], dtype=object)})
