"""How well a ranking finds the customers a campaign changes: Qini, AUUC, ATE.

Measured on randomised campaign data: ``outcome`` (1 = converted), ``treatment`` (1 =
contacted, 0 = control) and the ``uplift`` a model predicts. The definitions are
scikit-uplift's (``sklift.metrics``, version 0.5), re-implemented here because that
package is unmaintained since 2022; the tests check them against hand-computed cases.

Customers are ranked by predicted uplift, highest first; customers with equal predicted
uplift form one step of the curves (neither can be ranked before the other), so the
curves are evaluated at the last position of each distinct score. At such a position
``k``, with ``n_t, n_c`` treated and control customers among the top ``k`` and ``y_t,
y_c`` their conversions:

- uplift curve: ``(y_t / n_t − y_c / n_c) · k`` (a rate is 0 where its group is empty);
- Qini curve: ``y_t − y_c · n_t / n_c`` (0 where ``n_c = 0``).

Both start at (0, 0). Their areas (trapezoids) are normalised as scikit-uplift does:
``(area − random) / (perfect − random)``, where *random* is the straight line from the
origin to the curve's end and *perfect* the curve of an oracle ranking:

- :func:`qini_coefficient` (``qini_auc_score``): the oracle ranks treated converters first
  and control converters last (``negative_effect=True``);
- :func:`auuc` (``uplift_auc_score``): the oracle score ``2·[y = t] + (y if the control
  converters outnumber the treated non-converters else t)``.

1 is the oracle, 0 is no better than random, below 0 worse than random.

:func:`average_treatment_effect` is the difference of the two groups' mean outcomes with
a normal-approximation confidence interval (Neyman's variance: the sum of each group's
sample variance over its size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from modelry.errors import ConfigError

Floats = NDArray[np.float64]


def _inputs(outcome: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> tuple[Floats, ...]:
    y = np.asarray(outcome, dtype=np.float64).reshape(-1)
    u = np.asarray(uplift, dtype=np.float64).reshape(-1)
    t = np.asarray(treatment, dtype=np.float64).reshape(-1)
    if not y.size == u.size == t.size:
        raise ConfigError(f"{y.size} outcomes, {u.size} uplifts and {t.size} treatment flags")
    if not np.all(np.isfinite(u)):
        raise ConfigError("predicted uplifts must be numbers, not NaN")
    _binary(y, "outcome")
    _binary(t, "treatment")
    if t.all() or not t.any():
        raise ConfigError("uplift needs both treated (1) and control (0) customers")
    return y, u, t


def _binary(x: Floats, name: str) -> None:
    if not np.all((x == 0) | (x == 1)):
        raise ConfigError(f"the {name} must be 0 or 1 for every customer")


def uplift_curve(
    outcome: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[Floats, Floats]:
    """Points ``(k, (y_t / n_t − y_c / n_c) · k)`` of the uplift curve (see the module).

    Example:
        >>> uplift_curve([1, 0, 1, 0], [0.4, 0.3, 0.2, 0.1], [1, 0, 0, 1])[1].tolist()
        [0.0, 1.0, 2.0, 1.5, 0.0]
    """
    return _curve(*_inputs(outcome, uplift, treatment), qini=False)


def qini_curve(
    outcome: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[Floats, Floats]:
    """Points ``(k, y_t − y_c · n_t / n_c)`` of the Qini curve (see the module).

    Example:
        >>> qini_curve([1, 0, 1, 0], [0.4, 0.3, 0.2, 0.1], [1, 0, 0, 1])[1].tolist()
        [0.0, 1.0, 1.0, 0.5, 0.0]
    """
    return _curve(*_inputs(outcome, uplift, treatment), qini=True)


def _curve(y: Floats, u: Floats, t: Floats, *, qini: bool) -> tuple[Floats, Floats]:
    order = np.argsort(-u, kind="stable")
    y, u, t = y[order], u[order], t[order]
    ends = np.r_[np.flatnonzero(np.diff(u)), u.size - 1]  # last position of each score
    k = (ends + 1).astype(np.float64)
    n_t = np.cumsum(t)[ends]
    n_c = k - n_t
    y_t = np.cumsum(y * t)[ends]
    y_c = np.cumsum(y * (1 - t))[ends]
    if qini:
        ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
        values = y_t - y_c * ratio
    else:
        rate_t = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t != 0)
        rate_c = np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c != 0)
        values = (rate_t - rate_c) * k
    return np.r_[0.0, k], np.r_[0.0, values]


def _area(x: Floats, y: Floats) -> float:
    return float(np.trapezoid(y, x))


def _normalised(actual: tuple[Floats, Floats], perfect: tuple[Floats, Floats]) -> float:
    x_end, y_end = float(perfect[0][-1]), float(perfect[1][-1])
    random = x_end * y_end / 2
    best = _area(*perfect) - random
    if best == 0:
        raise ConfigError(
            "the perfect ranking is no better than random on these outcomes (no conversions "
            "to find?): the normalised area is undefined"
        )
    return (_area(*actual) - random) / best


def qini_coefficient(outcome: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> float:
    """The normalised area under the Qini curve (scikit-uplift's ``qini_auc_score``)."""
    y, u, t = _inputs(outcome, uplift, treatment)
    oracle = y * t - y * (1 - t)
    return _normalised(_curve(y, u, t, qini=True), _curve(y, oracle, t, qini=True))


def auuc(outcome: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> float:
    """The normalised area under the uplift curve (scikit-uplift's ``uplift_auc_score``)."""
    y, u, t = _inputs(outcome, uplift, treatment)
    control_converters = np.sum((y == 1) & (t == 0))
    treated_idle = np.sum((y == 0) & (t == 1))
    summand = y if control_converters > treated_idle else t
    oracle = 2.0 * (y == t) + summand
    return _normalised(_curve(y, u, t, qini=False), _curve(y, oracle, t, qini=False))


@dataclass(frozen=True)
class UpliftGroup:
    """One group of customers ranked by predicted uplift (the first is the top)."""

    treated: int
    control: int
    rate_treated: float
    rate_control: float
    mean_predicted: float

    @property
    def uplift(self) -> float:
        """The observed uplift: the treated rate minus the control rate (NaN if a group
        is empty)."""
        return self.rate_treated - self.rate_control

    def to_dict(self) -> dict[str, Any]:
        return {
            "treated": self.treated,
            "control": self.control,
            "rate_treated": _json_float(self.rate_treated),
            "rate_control": _json_float(self.rate_control),
            "uplift": _json_float(self.uplift),
            "mean_predicted": self.mean_predicted,
        }


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else x


def uplift_by_decile(
    outcome: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, bins: int = 10
) -> list[UpliftGroup]:
    """Observed uplift in each of ``bins`` groups of customers ranked by predicted uplift.

    The whole ranking is cut into groups as equal as possible (scikit-uplift's
    ``uplift_by_percentile``, ``strategy="overall"``); a group's rate is NaN where it has
    no treated (or no control) customer.
    """
    y, u, t = _inputs(outcome, uplift, treatment)
    if not 1 <= bins <= y.size:
        raise ConfigError(f"cannot cut {y.size} customers into {bins} groups")
    groups = []
    for part in np.array_split(np.argsort(-u, kind="stable"), bins):
        treated = part[t[part] == 1]
        control = part[t[part] == 0]
        groups.append(
            UpliftGroup(
                treated=int(treated.size),
                control=int(control.size),
                rate_treated=float(y[treated].mean()) if treated.size else math.nan,
                rate_control=float(y[control].mean()) if control.size else math.nan,
                mean_predicted=float(u[part].mean()),
            )
        )
    return groups


@dataclass(frozen=True)
class TreatmentEffect:
    """A difference in means with its normal-approximation confidence interval."""

    estimate: float
    stderr: float
    low: float
    high: float
    confidence: float
    treated: int
    control: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "stderr": self.stderr,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "treated": self.treated,
            "control": self.control,
        }


def average_treatment_effect(
    outcome: ArrayLike, treatment: ArrayLike, confidence: float = 0.95
) -> TreatmentEffect:
    """The ATE of a randomised campaign: mean outcome of the treated minus the control's.

    The standard error is ``sqrt(s_t² / n_t + s_c² / n_c)`` (sample variances, ``ddof=1``),
    the interval ``estimate ± z · stderr`` with ``z`` the normal quantile. The outcome may
    be binary or any number (e.g. spend).

    Raises:
        ConfigError: A group with fewer than two customers, NaN, or a confidence outside
            (0, 1).

    Example:
        >>> e = average_treatment_effect([1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0])
        >>> round(e.estimate, 4), round(e.stderr, 4)
        (0.3333, 0.4714)
    """
    y = np.asarray(outcome, dtype=np.float64).reshape(-1)
    t = np.asarray(treatment, dtype=np.float64).reshape(-1)
    if y.size != t.size:
        raise ConfigError(f"{y.size} outcomes for {t.size} treatment flags")
    if not np.all(np.isfinite(y)):
        raise ConfigError("outcomes must be numbers, not NaN")
    _binary(t, "treatment")
    if not 0 < confidence < 1:
        raise ConfigError(f"the confidence must lie in (0, 1), got {confidence}")
    treated, control = y[t == 1], y[t == 0]
    if treated.size < 2 or control.size < 2:
        raise ConfigError(
            f"{treated.size} treated and {control.size} control customers: each group needs "
            "at least two to estimate an effect"
        )
    estimate = float(treated.mean() - control.mean())
    stderr = math.sqrt(
        float(treated.var(ddof=1)) / treated.size + float(control.var(ddof=1)) / control.size
    )
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return TreatmentEffect(
        estimate=estimate,
        stderr=stderr,
        low=estimate - z * stderr,
        high=estimate + z * stderr,
        confidence=confidence,
        treated=int(treated.size),
        control=int(control.size),
    )
