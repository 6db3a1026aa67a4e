"""The fairness record of a shortlist: selection rate, impact ratio and exposure per group."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelry.apps.recruitment.fairness import exposure_weights, shortlist_fairness

pytest.importorskip("fairlearn", reason="the model audit needs fairlearn")


def test_exposure_is_discounted_by_position_and_stops_at_the_shortlist() -> None:
    np.testing.assert_allclose(exposure_weights(4, 2), [1.0, 1 / math.log2(3), 0.0, 0.0])


def test_selection_impact_and_exposure_per_group_with_a_four_fifths_warning() -> None:
    gender = ["m", "m", "m", "m", "m", "f", "f", "f", "f", "f"]
    order = [0, 1, 5, 2, 3, 4, 6, 7, 8, 9]  # top 4: m, m, f, m
    record = shortlist_fairness({"gender": gender}, order, 4)
    assert record is not None and record["candidates"] == 10 and record["selected"] == 4
    audit = record["attributes"]["gender"]
    m, f = audit["groups"]["m"], audit["groups"]["f"]
    assert (m["selected"], m["size"], m["selection_rate"]) == (3, 5, 0.6)
    assert (f["selected"], f["selection_rate"]) == (1, 0.2)
    assert audit["reference_group"] == "m" and m["impact_ratio"] == 1.0
    assert f["impact_ratio"] == pytest.approx(1 / 3, abs=1e-6) and f["below_four_fifths"]
    assert audit["four_fifths_violations"] == ["f"] and audit["min_impact_ratio"] < 0.8
    weights = [1 / math.log2(1 + r) for r in range(1, 5)]
    assert f["exposure_share"] == pytest.approx(weights[2] / sum(weights), abs=1e-6)
    assert m["exposure_share"] + f["exposure_share"] == pytest.approx(1.0, abs=1e-5)
    assert m["pool_share"] == f["pool_share"] == 0.5
    assert m["exposure_ratio"] == 1.0
    expected = weights[2] / (weights[0] + weights[1] + weights[3])
    assert f["exposure_ratio"] == pytest.approx(expected, abs=1e-6)
    (warning,) = record["warnings"]
    assert warning.startswith("gender: group 'f' is selected at 0.33 times the rate of 'm'")


def test_a_balanced_list_passes_and_missing_values_are_their_own_group() -> None:
    region = ["n", "s", "n", "s", None, None]
    record = shortlist_fairness({"region": region}, [0, 1, 4, 2, 3, 5], 3)
    assert record is not None
    groups = record["attributes"]["region"]["groups"]
    assert set(groups) == {"n", "s", "unknown"}
    assert [groups[g]["selected"] for g in ("n", "s", "unknown")] == [1, 1, 1]
    assert record["warnings"] == [] and record["attributes"]["region"]["min_impact_ratio"] == 1.0


def test_no_protected_attribute_no_record() -> None:
    assert shortlist_fairness({}, [0, 1], 1) is None
