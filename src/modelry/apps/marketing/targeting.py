"""Whom to contact: the selection of customers that maximises expected profit.

Customer ``i`` has a probability of the effect ``p_i`` (P(response) for a response model;
the uplift, i.e. the change in that probability the contact causes, for an uplift model),
a value ``v_i`` of one conversion and a cost ``c_i`` of one contact. Contacting ``i``
earns ``p_i·v_i − c_i`` in expectation (incremental profit when ``p_i`` is an uplift). The
selection maximises the sum over the contacted customers and never contacts one whose
expected profit is zero or less, even where the budget would allow it:

- no limit: everyone with a positive expected profit (exact);
- a capacity of ``k`` contacts: the ``k`` highest expected profits (exact: each contact
  uses one unit, so the best ``k`` items are the best set);
- a budget with one cost for everyone: the ``⌊budget / cost⌋`` highest (exact, likewise);
- a budget with per-customer costs: a 0/1 knapsack. When every cost is a whole number and
  ``candidates × (budget + 1)`` is at most :data:`DP_CELLS`, dynamic programming solves
  it exactly (``knapsack-dp``). Otherwise ``greedy-ratio``: customers by expected profit
  per unit of cost, each taken while it still fits, and replaced by the single most
  profitable customer if that alone earns more. Its profit is at least half the optimum
  and at least the LP bound minus the largest single expected profit;
  :attr:`Selection.upper_bound` reports that LP (Dantzig) bound, so the gap is visible
  (on campaign-sized files, where one customer is a tiny share of the budget, it is
  negligible).

Ties (equal expected profit, or equal ratio) go to the customer earlier in the input:
every sort here is stable, so the same file always gives the same selection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from modelry.errors import ConfigError

if TYPE_CHECKING:
    from modelry.serving.runtime import Runtime

DP_CELLS = 20_000_000
"""Largest knapsack table (customers × budget units) solved exactly (a bool each: 20 MB)."""

_SLACK = 1e-9
"""Relative tolerance on budget comparisons, so that 10 contacts at 0.1 fit a budget of 1."""

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Selection:
    """The customers chosen and what the choice is expected to cost and earn.

    Attributes:
        effect: Each customer's probability of the effect (the score ranked on).
        cost: Each customer's cost of one contact.
        value: Each customer's value of one conversion.
        expected_profit: ``effect × value − cost`` per customer.
        contacted: Whether each customer is chosen.
        method: ``all-positive``, ``top-k``, ``knapsack-dp`` or ``greedy-ratio`` (see the
            module's docstring).
        upper_bound: No selection within the limit earns more in expectation; equal to
            :attr:`total_expected_profit` for the exact methods.
    """

    effect: Floats
    cost: Floats
    value: Floats
    expected_profit: Floats
    contacted: NDArray[np.bool_]
    method: str
    upper_bound: float

    @property
    def n_contacted(self) -> int:
        return int(self.contacted.sum())

    @property
    def expected_conversions(self) -> float:
        """Expected conversions among the contacted (incremental ones for an uplift)."""
        return float(self.effect[self.contacted].sum())

    @property
    def total_cost(self) -> float:
        return float(self.cost[self.contacted].sum())

    @property
    def total_expected_profit(self) -> float:
        return float(self.expected_profit[self.contacted].sum())

    @property
    def break_even(self) -> float | None:
        """The score above which a contact pays (``cost / value``), when both are the same
        for every customer; None with per-customer economics (each has ``c_i / v_i``)."""
        if self.cost.size == 0 or not (_constant(self.cost) and _constant(self.value)):
            return None
        return float(self.cost[0] / self.value[0])

    @property
    def cutoff_score(self) -> float | None:
        """The lowest score among the contacted (None when nobody is)."""
        return float(self.effect[self.contacted].min()) if self.n_contacted else None

    def summary(self) -> dict[str, Any]:
        """The totals as JSON-ready numbers."""
        return {
            "customers": int(self.effect.size),
            "contacted": self.n_contacted,
            "expected_conversions": self.expected_conversions,
            "cost": self.total_cost,
            "expected_profit": self.total_expected_profit,
            "break_even_score": self.break_even,
            "cutoff_score": self.cutoff_score,
            "method": self.method,
            "upper_bound": self.upper_bound,
        }


def choose(
    effect: ArrayLike,
    *,
    cost: float | ArrayLike,
    value: float | ArrayLike,
    budget: float | None = None,
    capacity: int | None = None,
) -> Selection:
    """Choose whom to contact to maximise expected profit.

    Args:
        effect: Per customer, the probability of the effect the contact is paid for:
            P(conversion) from a response model, or the uplift (in ``[-1, 1]``) from an
            uplift model, which makes the profit incremental.
        cost: The cost of one contact, for everyone or per customer (positive).
        value: The value of one conversion, for everyone (positive) or per customer
            (zero or more).
        budget: The most the contacts may cost in total (zero or more), or None.
        capacity: The most customers to contact (zero or more), or None.

    Returns:
        The selection; see the module's docstring for the method used in each case.

    Raises:
        ConfigError: Both limits given, a negative limit, a cost that is not positive, a
            value that is negative (or zero for everyone), a score outside ``[-1, 1]``, NaN,
            or per-customer arrays of the wrong length.

    Example:
        >>> s = choose([0.5, 0.02, 0.3], cost=5, value=60, capacity=1)
        >>> s.contacted.tolist(), s.total_expected_profit, s.break_even
        ([True, False, False], 25.0, 0.08333333333333333)
    """
    p = _scores(effect)
    n = p.size
    c = _economics(cost, n, "cost per contact", zero_allowed=False)
    v = _economics(value, n, "value per conversion", zero_allowed=True)
    check_limits(budget, capacity)
    profit = p * v - c
    bound: float | None = None  # set by the methods that are not exact
    if capacity is not None:
        chosen, method = _top(profit, capacity), "top-k"
    elif budget is None:
        chosen, method = np.flatnonzero(profit > 0), "all-positive"
    elif _constant(c):
        affordable = math.floor(budget / c[0] + _SLACK) if n else 0
        chosen, method = _top(profit, affordable), "top-k"
    else:
        chosen, method, bound = _knapsack(profit, c, budget)
        if method != "greedy-ratio":
            bound = None
    contacted = np.zeros(n, dtype=bool)
    contacted[chosen] = True
    total = float(profit[contacted].sum())
    return Selection(
        effect=p,
        cost=c,
        value=v,
        expected_profit=profit,
        contacted=contacted,
        method=method,
        upper_bound=total if bound is None else bound,
    )


def check_economics(
    cost: float, value: float | None, budget: float | None, capacity: int | None
) -> None:
    """Refuse constant economics and limits :func:`choose` would refuse, before any work.

    Args:
        value: The value of a conversion, or None where it comes per customer later.

    Raises:
        ConfigError: As :func:`choose`.
    """
    _economics(cost, 0, "cost per contact", zero_allowed=False)
    if value is not None:
        _economics(value, 0, "value per conversion", zero_allowed=True)
    check_limits(budget, capacity)


def check_limits(budget: float | None, capacity: int | None) -> None:
    """Refuse both limits at once, or a negative one.

    Raises:
        ConfigError: Both given, or one below zero.
    """
    if budget is not None and capacity is not None:
        raise ConfigError("give a budget or a capacity, not both")
    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        raise ConfigError(f"the budget must be zero or more, got {budget}")
    if capacity is not None and capacity < 0:
        raise ConfigError(f"the capacity must be zero or more, got {capacity}")


def _scores(effect: ArrayLike) -> Floats:
    p = np.asarray(effect, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(p) | (p < -1) | (p > 1))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(
            f"score of customer {i} is {p[i]}: a probability (or an uplift) lies in [-1, 1]"
        )
    return p


def _economics(x: float | ArrayLike, n: int, name: str, *, zero_allowed: bool) -> Floats:
    """``x`` as one value per customer, after checking it makes economic sense."""
    values = np.asarray(x, dtype=np.float64)
    if values.ndim == 0:
        number = float(values)
        if not (math.isfinite(number) and number > 0):
            raise ConfigError(
                f"the {name} must be a positive number, got {number:g}: with it, expected "
                "profit cannot rank customers"
            )
        return np.full(n, number)
    values = values.reshape(-1)
    if values.size != n:
        raise ConfigError(f"{values.size} values of the {name} for {n} customers")
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0 if zero_allowed else values <= 0))
    if bad.size:
        i = int(bad[0])
        need = "zero or more" if zero_allowed else "positive"
        raise ConfigError(f"the {name} of customer {i} is {values[i]:g}; it must be {need}")
    if n and not values.any():
        raise ConfigError(f"the {name} is zero for every customer: nobody is worth contacting")
    return values


def _constant(x: Floats) -> bool:
    return bool(x.size == 0 or np.all(x == x[0]))


def _top(profit: Floats, k: int) -> NDArray[np.intp]:
    """The (at most) ``k`` customers of highest positive expected profit, ties by input
    order."""
    order = np.argsort(-profit, kind="stable")
    return order[profit[order] > 0][:k]


def _knapsack(profit: Floats, cost: Floats, budget: float) -> tuple[NDArray[np.intp], str, float]:
    """The 0/1 knapsack of positive-profit customers: (chosen, method, upper bound)."""
    candidates = np.flatnonzero((profit > 0) & (cost <= budget * (1 + _SLACK)))
    units = math.floor(budget + _SLACK)
    whole = bool(np.all(cost[candidates] == np.round(cost[candidates])))
    if whole and candidates.size * (units + 1) <= DP_CELLS:
        chosen = candidates[_knapsack_dp(profit[candidates], cost[candidates], units)]
        return chosen, "knapsack-dp", float(profit[chosen].sum())
    return _greedy_ratio(candidates, profit, cost, budget)


def _knapsack_dp(profit: Floats, cost: Floats, units: int) -> NDArray[np.intp]:
    """Exact 0/1 knapsack over whole-number costs: which items, by position."""
    weights = cost.astype(np.int64)
    best = np.zeros(units + 1)  # best[b]: the most profit within a spend of b
    take = np.zeros((profit.size, units + 1), dtype=bool)
    for j, (w, gain) in enumerate(zip(weights.tolist(), profit.tolist(), strict=True)):
        with_j = best[: units + 1 - w] + gain  # built from the table before item j
        better = with_j > best[w:]  # strict: an equal profit keeps the earlier customers
        take[j, w:] = better
        best[w:] = np.where(better, with_j, best[w:])
    chosen: list[int] = []
    b = units
    for j in range(profit.size - 1, -1, -1):
        if take[j, b]:
            chosen.append(j)
            b -= int(weights[j])
    return np.asarray(sorted(chosen), dtype=np.intp)


def _greedy_ratio(
    candidates: NDArray[np.intp], profit: Floats, cost: Floats, budget: float
) -> tuple[NDArray[np.intp], str, float]:
    """Greedy by profit per unit cost with fill-in, or the best single customer; with the
    LP relaxation's value as the upper bound."""
    if candidates.size == 0:
        return candidates, "greedy-ratio", 0.0
    ratio = profit[candidates] / cost[candidates]
    order = candidates[np.argsort(-ratio, kind="stable")]
    limit = budget * (1 + _SLACK)
    spent = 0.0
    chosen: list[int] = []
    for i, c in zip(order.tolist(), cost[order].tolist(), strict=True):
        if spent + c <= limit:
            chosen.append(i)
            spent += c
    # Dantzig's bound: the ratio-sorted prefix that fits, plus the fitting share of the next.
    spend = np.cumsum(cost[order])
    full = int(np.searchsorted(spend, limit, side="right"))
    bound = float(profit[order[:full]].sum())
    if full < order.size:
        left = budget - (float(spend[full - 1]) if full else 0.0)
        bound += float(profit[order[full]]) * max(left, 0.0) / float(cost[order[full]])
    single = int(candidates[np.argmax(profit[candidates])])
    picked = np.asarray(sorted(chosen), dtype=np.intp)
    if profit[single] > profit[picked].sum():
        picked = np.asarray([single], dtype=np.intp)
    return picked, "greedy-ratio", max(bound, float(profit[picked].sum()))


EFFECT_OUTPUTS = ("probability", "uplift")
"""Outputs holding one probability of the paid-for effect per row, in order of preference:
the tabular kind's binary ``probability`` = P(positive class), and the uplift kind's
``uplift`` (the best arm's change in that probability), which makes the optimised profit
and the expected conversions incremental."""


def effect_output(runtime: Runtime) -> str:
    """The name of ``runtime``'s output that is a per-customer probability of the effect.

    Raises:
        ConfigError: The model predicts no such output (a regression, a multi-class model).
    """
    specs = {spec.name: spec for spec in runtime.outputs}
    for name in EFFECT_OUTPUTS:
        spec = specs.get(name)
        if spec is not None and tuple(spec.shape) == (-1,) and spec.datatype != "BYTES":
            return name
    outputs = ", ".join(
        spec.name + ("" if tuple(spec.shape) == (-1,) else str(list(spec.shape)))
        for spec in runtime.outputs
    )
    raise ConfigError(
        f"model {runtime.name}:{runtime.version} is not a binary classifier (it predicts "
        f"{outputs}): targeting needs each customer's probability of converting",
        model=runtime.name,
    )
