"""How good a ranking is for a campaign: cumulative gains, lift by decile, profit curves.

Every function ranks customers by score, highest first, ties by input order (a stable
sort: the order in which :func:`~modelry.apps.marketing.targeting.choose` contacts them).
``outcome`` is what happened (1 = converted, 0 = not) on labelled data; passing the
scores themselves as the outcome gives the curves the model *expects*, which is what a
file of prospects without outcomes can show.

Definitions (``n`` customers, ``k`` contacted from the top, ``y`` the outcome):

- cumulative gains at ``k``: the share of all conversions found in the top ``k``,
  ``Σ_top-k y / Σ y``, against the share contacted ``k / n``;
- lift of a group: its conversion rate over the overall rate; by decile, the ranked
  customers are cut into ten groups as equal as possible (``numpy.array_split``: the
  first ``n mod 10`` groups hold one more), as scikit-uplift's ``uplift_by_percentile``
  with ``strategy="overall"`` does;
- profit at ``k``: ``Σ_top-k (y·value − cost)``, realised with outcomes, expected with
  scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from modelry.errors import ConfigError

Floats = NDArray[np.float64]


def ranking(score: ArrayLike) -> NDArray[np.intp]:
    """Customer positions from the highest score to the lowest, ties by input order."""
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    return np.argsort(-s, kind="stable")


def _pair(outcome: ArrayLike, score: ArrayLike) -> tuple[Floats, Floats]:
    y = np.asarray(outcome, dtype=np.float64).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.size != s.size:
        raise ConfigError(f"{y.size} outcomes for {s.size} scores")
    if y.size == 0:
        raise ConfigError("no customers to evaluate")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(s))):
        raise ConfigError("outcomes and scores must be numbers, not NaN")
    return y, s


@dataclass(frozen=True)
class Gains:
    """The cumulative gains curve, ``k = 0 … n``: ``share_contacted[k] = k / n`` and
    ``share_converted[k]`` the share of conversions among the top ``k``."""

    share_contacted: Floats
    share_converted: Floats

    def at(self, share: float) -> float:
        """The share of conversions found by contacting ``share`` of the customers."""
        return float(np.interp(share, self.share_contacted, self.share_converted))


def cumulative_gains(outcome: ArrayLike, score: ArrayLike) -> Gains:
    """Cumulative gains of ranking by ``score``.

    Raises:
        ConfigError: Lengths differ, nothing to evaluate, NaN, or no conversion at all.

    Example:
        >>> cumulative_gains([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.3]).share_converted.tolist()
        [0.0, 0.5, 1.0, 1.0, 1.0]
    """
    y, s = _pair(outcome, score)
    total = y.sum()
    if total <= 0:
        raise ConfigError("no conversions among the outcomes: gains are undefined")
    found = np.r_[0.0, np.cumsum(y[ranking(s)])]
    return Gains(share_contacted=np.arange(y.size + 1) / y.size, share_converted=found / total)


@dataclass(frozen=True)
class Decile:
    """One group of ranked customers (the first is the top-scored)."""

    customers: int
    conversions: float
    rate: float
    lift: float
    cumulative_lift: float
    mean_score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "conversions": self.conversions,
            "rate": self.rate,
            "lift": self.lift,
            "cumulative_lift": self.cumulative_lift,
            "mean_score": self.mean_score,
        }


def lift_by_decile(outcome: ArrayLike, score: ArrayLike, bins: int = 10) -> list[Decile]:
    """Conversion rate and lift of each of ``bins`` groups of ranked customers.

    ``lift`` is the group's rate over the overall rate; ``cumulative_lift`` the rate of
    this and every higher group together over the overall rate.

    Raises:
        ConfigError: As :func:`cumulative_gains`, or more groups than customers.

    Example:
        >>> [d.lift for d in lift_by_decile([1, 0, 0, 0], [0.9, 0.5, 0.2, 0.1], bins=2)]
        [2.0, 0.0]
    """
    y, s = _pair(outcome, score)
    if not 1 <= bins <= y.size:
        raise ConfigError(f"cannot cut {y.size} customers into {bins} groups")
    overall = float(y.mean())
    if overall <= 0:
        raise ConfigError("no conversions among the outcomes: lift is undefined")
    order = ranking(s)
    groups: list[Decile] = []
    seen, converted = 0, 0.0
    for part in np.array_split(order, bins):
        seen += part.size
        converted += float(y[part].sum())
        rate = float(y[part].mean())
        groups.append(
            Decile(
                customers=int(part.size),
                conversions=float(y[part].sum()),
                rate=rate,
                lift=rate / overall,
                cumulative_lift=converted / seen / overall,
                mean_score=float(s[part].mean()),
            )
        )
    return groups


@dataclass(frozen=True)
class ProfitCurve:
    """Profit of contacting the top ``k`` customers, ``k = 0 … n``.

    Attributes:
        contacted: ``k``.
        share_contacted: ``k / n``.
        profit: The cumulative profit (realised or expected).
    """

    contacted: NDArray[np.int64]
    share_contacted: Floats
    profit: Floats

    @property
    def best(self) -> int:
        """The ``k`` of highest profit (the smallest such ``k``)."""
        return int(np.argmax(self.profit))


def profit_curve(
    outcome: ArrayLike,
    score: ArrayLike,
    *,
    cost: float | ArrayLike,
    value: float | ArrayLike,
    order: ArrayLike | None = None,
) -> ProfitCurve:
    """Cumulative profit of contacting customers down the ranking.

    Args:
        outcome: Conversions (0/1) for the realised profit, or the scores themselves for
            the expected profit.
        score: What customers are ranked by (unless ``order`` is given).
        cost: The cost of a contact, for everyone or per customer.
        value: The value of a conversion, for everyone or per customer.
        order: The contact order, e.g. by expected profit when the value varies per
            customer; default: by ``score``.

    Example:
        >>> profit_curve([1, 0, 0], [0.9, 0.5, 0.1], cost=5, value=60).profit.tolist()
        [0.0, 55.0, 50.0, 45.0]
    """
    y, s = _pair(outcome, score)
    n = y.size
    c = np.broadcast_to(np.asarray(cost, dtype=np.float64), (n,))
    v = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))
    ranked = ranking(s) if order is None else np.asarray(order, dtype=np.intp)
    gain = y[ranked] * v[ranked] - c[ranked]
    return ProfitCurve(
        contacted=np.arange(n + 1, dtype=np.int64),
        share_contacted=np.arange(n + 1) / n,
        profit=np.r_[0.0, np.cumsum(gain)],
    )


def realised_profit(
    outcome: ArrayLike,
    contacted: ArrayLike,
    *,
    cost: float | ArrayLike,
    value: float | ArrayLike,
) -> float:
    """What a selection earned on labelled data: ``Σ_contacted (y·value − cost)``.

    Example:
        >>> realised_profit([1, 0, 1], [True, True, False], cost=5, value=60)
        50.0
    """
    y = np.asarray(outcome, dtype=np.float64).reshape(-1)
    chosen = np.asarray(contacted, dtype=bool).reshape(-1)
    if y.size != chosen.size:
        raise ConfigError(f"{y.size} outcomes for {chosen.size} contact decisions")
    c = np.broadcast_to(np.asarray(cost, dtype=np.float64), y.shape)
    v = np.broadcast_to(np.asarray(value, dtype=np.float64), y.shape)
    return float((y * v - c)[chosen].sum())
