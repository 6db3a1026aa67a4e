"""The targeting optimiser: limits respected exactly, the best set chosen, ties stable,
bad economics refused."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from modelry.apps.marketing.targeting import Selection, choose
from modelry.errors import ConfigError

SCORES = [0.05, 0.50, 0.20, 0.90, 0.08, 0.30, 0.12, 0.60]
# Expected profit at cost 5, value 60: p·60 − 5
#          -2.0  25.0   7.0  49.0  -0.2  13.0   2.2  31.0


def test_without_a_limit_everyone_with_positive_expected_profit_is_contacted() -> None:
    s = choose(SCORES, cost=5, value=60)
    assert s.method == "all-positive"
    assert s.contacted.tolist() == [False, True, True, True, False, True, True, True]
    assert s.expected_profit.tolist() == pytest.approx([p * 60 - 5 for p in SCORES])
    assert s.n_contacted == 6
    assert s.total_cost == 30.0
    assert s.expected_conversions == pytest.approx(0.5 + 0.2 + 0.9 + 0.3 + 0.12 + 0.6)
    assert s.total_expected_profit == pytest.approx(25 + 7 + 49 + 13 + 2.2 + 31)
    assert s.break_even == pytest.approx(5 / 60)
    assert s.cutoff_score == pytest.approx(0.12)
    assert s.upper_bound == s.total_expected_profit


def test_a_customer_exactly_at_break_even_is_not_contacted() -> None:
    s = choose([0.25, 0.26, 0.24], cost=1, value=4)  # 0.25 × 4 − 1 = 0 exactly
    assert s.contacted.tolist() == [False, True, False]
    assert s.break_even == 0.25


def test_a_capacity_takes_exactly_the_highest_expected_profits() -> None:
    s = choose(SCORES, cost=5, value=60, capacity=3)
    assert s.method == "top-k"
    assert np.flatnonzero(s.contacted).tolist() == [1, 3, 7]  # 0.50, 0.90, 0.60
    assert s.n_contacted == 3
    assert s.total_expected_profit == pytest.approx(25 + 49 + 31)


def test_a_capacity_above_the_profitable_count_contacts_only_the_profitable() -> None:
    s = choose(SCORES, cost=5, value=60, capacity=100)
    assert s.n_contacted == 6
    assert not s.contacted[[0, 4]].any()


def test_ties_go_to_the_earlier_customer() -> None:
    s = choose([0.3, 0.5, 0.5, 0.5, 0.4], cost=1, value=10, capacity=2)
    assert np.flatnonzero(s.contacted).tolist() == [1, 2]
    budgeted = choose([0.5, 0.5, 0.5], cost=2, value=10, budget=5)
    assert budgeted.contacted.tolist() == [True, True, False]


def test_a_budget_with_one_cost_buys_exactly_floor_budget_over_cost_contacts() -> None:
    s = choose(SCORES, cost=5, value=60, budget=17)
    assert s.method == "top-k"
    assert np.flatnonzero(s.contacted).tolist() == [1, 3, 7]
    assert s.total_cost == 15.0 <= 17
    # Float budgets: ten contacts at 0.1 fit a budget of 1.0 (10 × 0.1 is 0.9999… in floats).
    assert choose([0.9] * 20, cost=0.1, value=1, budget=1.0).n_contacted == 10


def test_a_zero_budget_or_capacity_contacts_nobody() -> None:
    for s in (
        choose(SCORES, cost=5, value=60, budget=0),
        choose(SCORES, cost=5, value=60, capacity=0),
        choose(SCORES, cost=[5, 1, 2, 3, 4, 5, 6, 7], value=60, budget=0),
    ):
        assert s.n_contacted == 0
        assert s.total_cost == 0.0 and s.total_expected_profit == 0.0
        assert s.cutoff_score is None
        assert s.summary()["contacted"] == 0


def test_a_budget_above_everyones_cost_contacts_every_profitable_customer() -> None:
    s = choose(SCORES, cost=5, value=60, budget=1_000_000)
    assert s.contacted.tolist() == choose(SCORES, cost=5, value=60).contacted.tolist()
    costs = [5, 1, 2, 3, 4, 5, 6, 7]
    s = choose(SCORES, cost=costs, value=60, budget=1_000)
    assert s.contacted.tolist() == (s.expected_profit > 0).tolist()
    assert s.total_cost == 1 + 2 + 3 + 4 + 5 + 6 + 7  # 0.08 × 60 − 4 > 0 too


def test_per_customer_values_change_whom_to_contact() -> None:
    s = choose([0.5, 0.1, 0.1], cost=5, value=[8, 100, 20], capacity=1)
    # Expected profits −1, 5, −3: the low-probability, high-value customer wins.
    assert s.contacted.tolist() == [False, True, False]
    assert s.break_even is None


def test_an_uplift_optimises_incremental_profit_and_skips_negative_effects() -> None:
    s = choose([0.2, -0.1, 0.05, 0.0], cost=2, value=30)
    assert s.expected_profit.tolist() == pytest.approx([4.0, -5.0, -0.5, -2.0])
    assert s.contacted.tolist() == [True, False, False, False]
    assert s.expected_conversions == pytest.approx(0.2)


def _best_by_enumeration(profit: np.ndarray, cost: np.ndarray, budget: float) -> float:
    best = 0.0
    for size in range(1, profit.size + 1):
        for subset in itertools.combinations(range(profit.size), size):
            picked = list(subset)
            if cost[picked].sum() <= budget + 1e-9:
                best = max(best, float(profit[picked].sum()))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_whole_number_costs_under_a_budget_are_solved_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.6, 10)
    cost = rng.integers(1, 12, 10).astype(float)
    budget = float(rng.integers(0, 40))
    s = choose(p, cost=cost, value=50, budget=budget)
    assert s.method == "knapsack-dp"
    assert s.total_cost <= budget
    assert s.total_expected_profit == pytest.approx(
        _best_by_enumeration(s.expected_profit, cost, budget)
    )
    assert (s.expected_profit[s.contacted] > 0).all()


@pytest.mark.parametrize("seed", range(12))
def test_fractional_costs_use_the_greedy_within_its_stated_guarantee(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    p = rng.uniform(0, 0.6, 10)
    cost = rng.uniform(0.5, 12, 10)
    budget = float(rng.uniform(0, 40))
    s = choose(p, cost=cost, value=50, budget=budget)
    assert s.method == "greedy-ratio"
    assert s.total_cost <= budget + 1e-9
    best = _best_by_enumeration(s.expected_profit, cost, budget)
    assert s.upper_bound >= best - 1e-9  # the LP bound bounds the optimum
    assert s.total_expected_profit >= best / 2 - 1e-9
    positive = s.expected_profit[(s.expected_profit > 0) & (cost <= budget)]
    largest = float(positive.max()) if positive.size else 0.0
    assert s.total_expected_profit >= s.upper_bound - largest - 1e-9


def test_the_greedy_falls_back_to_the_best_single_customer() -> None:
    # Ratio order takes the cheap customer first, and the valuable one no longer fits.
    s = choose([0.9, 0.9], cost=[0.5, 10.0], value=[1.0, 100.0], budget=10.2)
    assert s.method == "greedy-ratio"
    assert s.contacted.tolist() == [False, True]
    assert s.total_expected_profit == pytest.approx(80.0)


def test_the_summary_holds_the_totals() -> None:
    summary = choose(SCORES, cost=5, value=60, capacity=2).summary()
    assert set(summary) >= {
        "customers",
        "contacted",
        "expected_conversions",
        "cost",
        "expected_profit",
        "break_even_score",
        "cutoff_score",
        "method",
    }
    assert summary["contacted"] == 2 and summary["cost"] == 10.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cost": 0, "value": 60}, "cost per contact must be a positive number"),
        ({"cost": -5, "value": 60}, "cost per contact must be a positive number"),
        ({"cost": 5, "value": 0}, "value per conversion must be a positive number"),
        ({"cost": 5, "value": -60}, "value per conversion must be a positive number"),
        ({"cost": float("nan"), "value": 60}, "cost per contact must be a positive number"),
        ({"cost": [5, 0, 5], "value": 60}, "cost per contact of customer 1 is 0"),
        ({"cost": 5, "value": [60, -1, 60]}, "value per conversion of customer 1 is -1"),
        ({"cost": 5, "value": [0, 0, 0]}, "zero for every customer"),
        ({"cost": 5, "value": [60, 60]}, "2 values of the value per conversion for 3"),
        ({"cost": 5, "value": 60, "budget": 10, "capacity": 1}, "not both"),
        ({"cost": 5, "value": 60, "budget": -1}, "budget must be zero or more"),
        ({"cost": 5, "value": 60, "capacity": -1}, "capacity must be zero or more"),
    ],
)
def test_bad_economics_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        choose([0.1, 0.5, 0.2], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("scores", [[0.1, float("nan")], [0.1, 1.5], [-1.2, 0.3]])
def test_scores_outside_minus_one_to_one_are_refused(scores: list[float]) -> None:
    with pytest.raises(ConfigError, match="score of customer"):
        choose(scores, cost=5, value=60)


def test_no_customers_is_an_empty_selection() -> None:
    s = choose([], cost=5, value=60, budget=100)
    assert isinstance(s, Selection) and s.n_contacted == 0 and s.break_even is None
