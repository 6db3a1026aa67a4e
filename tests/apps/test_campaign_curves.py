"""Gains, lift and profit curves against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from modelry.apps.marketing.curves import (
    cumulative_gains,
    lift_by_decile,
    profit_curve,
    ranking,
    realised_profit,
)
from modelry.errors import ConfigError

# Ranked by score: rows 3 (0.9), 1 (0.8), 4 (0.6), 0 (0.4), 2 (0.1); outcomes 1, 0, 1, 0, 0.
OUTCOME = [0, 0, 0, 1, 1]
SCORE = [0.4, 0.8, 0.1, 0.9, 0.6]


def test_ranking_is_by_score_then_input_order() -> None:
    assert ranking([0.2, 0.5, 0.2, 0.5]).tolist() == [1, 3, 0, 2]


def test_cumulative_gains_by_hand() -> None:
    gains = cumulative_gains(OUTCOME, SCORE)
    assert gains.share_contacted.tolist() == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert gains.share_converted.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert gains.at(0.3) == pytest.approx(0.5)
    assert gains.at(0.5) == pytest.approx(0.75)


def test_lift_by_decile_by_hand_with_unequal_groups() -> None:
    groups = lift_by_decile(OUTCOME, SCORE, bins=2)
    # Overall rate 2/5. Group 1 = rows 3, 1, 4 (rate 2/3), group 2 = rows 0, 2 (rate 0).
    assert [g.customers for g in groups] == [3, 2]
    assert [g.conversions for g in groups] == [2.0, 0.0]
    assert groups[0].lift == pytest.approx((2 / 3) / (2 / 5))
    assert groups[1].lift == 0.0
    assert groups[0].cumulative_lift == pytest.approx(groups[0].lift)
    assert groups[1].cumulative_lift == pytest.approx(1.0)
    assert groups[0].mean_score == pytest.approx((0.9 + 0.8 + 0.6) / 3)


def test_ten_deciles_of_a_perfect_ranking() -> None:
    y = np.r_[np.ones(10), np.zeros(90)]
    groups = lift_by_decile(y, -np.arange(100.0))
    assert [g.customers for g in groups] == [10] * 10
    assert groups[0].lift == pytest.approx(10.0)
    assert [g.lift for g in groups[1:]] == [0.0] * 9


def test_expected_curves_take_the_scores_as_outcomes() -> None:
    p = np.array([0.5, 0.1, 0.4])
    gains = cumulative_gains(p, p)
    assert gains.share_converted.tolist() == pytest.approx([0, 0.5, 0.9, 1.0])


def test_profit_curve_by_hand() -> None:
    curve = profit_curve(OUTCOME, SCORE, cost=5, value=60)
    assert curve.contacted.tolist() == [0, 1, 2, 3, 4, 5]
    assert curve.profit.tolist() == [0.0, 55.0, 50.0, 105.0, 100.0, 95.0]
    assert curve.best == 3
    by_cost = profit_curve(OUTCOME, SCORE, cost=[1, 2, 3, 4, 5], value=60, order=[4, 3, 2, 1, 0])
    assert by_cost.profit.tolist() == [0.0, 55.0, 111.0, 108.0, 106.0, 105.0]


def test_realised_profit_of_a_selection() -> None:
    assert realised_profit(OUTCOME, [False, True, False, True, True], cost=5, value=60) == 105.0
    assert realised_profit(OUTCOME, [False] * 5, cost=5, value=60) == 0.0
    assert realised_profit([1, 1], [True, True], cost=[1, 2], value=[10, 20]) == 27.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cumulative_gains([0, 0], [0.1, 0.2]), "no conversions"),
        (lambda: cumulative_gains([1, 0], [0.1]), "2 outcomes for 1 scores"),
        (lambda: cumulative_gains([], []), "no customers"),
        (lambda: lift_by_decile([1, 0], [0.1, float("nan")]), "not NaN"),
        (lambda: lift_by_decile([1, 0], [0.1, 0.2], bins=3), "into 3 groups"),
        (lambda: realised_profit([1], [True, False], cost=5, value=60), "1 outcomes for 2"),
    ],
)
def test_bad_input_is_refused(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        call()
