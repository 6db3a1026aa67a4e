"""Qini, AUUC, uplift by decile and the ATE against hand-computed cases.

The definitions are scikit-uplift's (see ``modelry.apps.marketing.uplift_metrics``); each
expected number below is worked out in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelry.apps.marketing.uplift_metrics import (
    auuc,
    average_treatment_effect,
    qini_coefficient,
    qini_curve,
    uplift_by_decile,
    uplift_curve,
)
from modelry.errors import ConfigError

# Five customers already in ranking order (uplift 0.5 … 0.1).
Y = [1, 0, 1, 0, 0]
T = [1, 1, 0, 0, 1]
U = [0.5, 0.4, 0.3, 0.2, 0.1]


def test_qini_curve_by_hand() -> None:
    # k=1: y_t=1, n_c=0 → 1; k=2: 1; k=3: 1 − 1·2/1 = −1; k=4: 1 − 1·2/2 = 0;
    # k=5: 1 − 1·3/2 = −0.5.
    x, q = qini_curve(Y, U, T)
    assert x.tolist() == [0, 1, 2, 3, 4, 5]
    assert q.tolist() == pytest.approx([0, 1, 1, -1, 0, -0.5])


def test_uplift_curve_by_hand() -> None:
    # (rate_t − rate_c)·k: 1·1, (1/2 − 0)·2, (1/2 − 1)·3, (1/2 − 1/2)·4, (1/3 − 1/2)·5.
    x, u = uplift_curve(Y, U, T)
    assert x.tolist() == [0, 1, 2, 3, 4, 5]
    assert u.tolist() == pytest.approx([0, 1, 1, -1.5, 0, -5 / 6])


def test_qini_coefficient_by_hand() -> None:
    # Actual area (trapezoids): 0.5 + 1 + 0 − 0.5 − 0.25 = 0.75.
    # Oracle score y·t − y·(1−t) = [1, 0, −1, 0, 0] ranks rows 0 | 1, 3, 4 (tied) | 2:
    # points (0,0) (1,1) (4,1) (5,−0.5), area 0.5 + 3 + 0.25 = 3.75.
    # Random: the line to (5, −0.5), area −1.25.
    # Qini = (0.75 + 1.25) / (3.75 + 1.25) = 0.4.
    assert qini_coefficient(Y, U, T) == pytest.approx(0.4)


def test_auuc_by_hand() -> None:
    # Actual area: 0.5 + 1 − 0.25 − 0.75 − 5/12 = 1/12.
    # Control converters (1) do not outnumber treated non-converters (2): summand = t.
    # Oracle 2·[y = t] + t = [3, 1, 0, 2, 1] ranks rows 0 | 3 | 1, 4 (tied) | 2:
    # points (0,0) (1,1) (2,2) (4,4/3) (5,−5/6), area 0.5 + 1.5 + 10/3 + 0.25 = 67/12.
    # Random: the line to (5, −5/6), area −25/12.
    # AUUC = (1/12 + 25/12) / (67/12 + 25/12) = 26/92.
    assert auuc(Y, U, T) == pytest.approx(26 / 92)


def test_the_oracle_scores_one_and_tied_scores_form_one_step() -> None:
    oracle = np.array(Y) * np.array(T) - np.array(Y) * (1 - np.array(T))
    assert qini_coefficient(Y, oracle, T) == pytest.approx(1.0)
    x, q = qini_curve(Y, [0.5, 0.5, 0.5, 0.2, 0.2], T)
    # Rows 0–2 tie: one point at k=3 (1 − 1·2/1 = −1), then k=5 (−0.5).
    assert x.tolist() == [0, 3, 5]
    assert q.tolist() == pytest.approx([0, -1, -0.5])


def test_a_random_ranking_scores_near_zero() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.05 * t).astype(int)
    noise = rng.random(n)
    assert abs(qini_coefficient(y, noise, t)) < 0.1
    assert abs(auuc(y, noise, t)) < 0.1
    # Ranking the treated converters first (knowing the outcomes) comes near the oracle.
    assert qini_coefficient(y, y * t, t) > 0.5


def test_uplift_by_decile_by_hand() -> None:
    first, second = uplift_by_decile(Y, U, T, bins=2)
    # Group 1 = rows 0, 1, 2: treated 0, 1 (rate 1/2), control 2 (rate 1): uplift −1/2.
    assert (first.treated, first.control) == (2, 1)
    assert first.uplift == pytest.approx(-0.5)
    assert first.mean_predicted == pytest.approx(0.4)
    # Group 2 = rows 3, 4: control 3 (rate 0), treated 4 (rate 0).
    assert second.uplift == 0.0
    lonely = uplift_by_decile(Y, U, T, bins=5)[0]  # row 0 alone: no control customer
    assert math.isnan(lonely.rate_control) and lonely.to_dict()["uplift"] is None


def test_ate_difference_in_means_with_its_interval() -> None:
    # Treated 1, 1, 0 (mean 2/3, variance 1/3); control 1, 0, 0 (mean 1/3, variance 1/3).
    e = average_treatment_effect([1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0])
    assert e.estimate == pytest.approx(1 / 3)
    assert e.stderr == pytest.approx(math.sqrt(2 / 9))
    assert e.low == pytest.approx(1 / 3 - 1.959964 * math.sqrt(2 / 9), abs=1e-6)
    assert e.high == pytest.approx(1 / 3 + 1.959964 * math.sqrt(2 / 9), abs=1e-6)
    assert (e.treated, e.control) == (3, 3)
    wider = average_treatment_effect([1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0], confidence=0.99)
    assert wider.high - wider.low > e.high - e.low


def test_the_ate_interval_covers_the_true_effect() -> None:
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, 40_000)
    y = (rng.random(t.size) < 0.10 + 0.04 * t).astype(int)
    e = average_treatment_effect(y, t)
    assert e.low < 0.04 < e.high
    assert e.stderr == pytest.approx(math.sqrt(0.14 * 0.86 / 20_000 + 0.1 * 0.9 / 20_000), rel=0.05)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: qini_coefficient([1, 0], [0.1, 0.2], [1, 1]), "both treated"),
        (lambda: auuc([1, 2], [0.1, 0.2], [1, 0]), "outcome must be 0 or 1"),
        (lambda: qini_curve([1, 0], [0.1, 0.2], [1, 3]), "treatment must be 0 or 1"),
        (lambda: qini_curve([1, 0], [0.1], [1, 0]), "2 outcomes, 1 uplifts"),
        (lambda: qini_coefficient([0, 0], [0.1, 0.2], [1, 0]), "undefined"),
        (lambda: average_treatment_effect([1, 0, 1], [1, 1, 0]), "at least two"),
        (lambda: average_treatment_effect([1, 0], [1, 0], confidence=1.0), "confidence"),
        (lambda: uplift_by_decile([1, 0], [0.1, 0.2], [1, 0], bins=3), "into 3 groups"),
    ],
)
def test_bad_input_is_refused(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        call()
