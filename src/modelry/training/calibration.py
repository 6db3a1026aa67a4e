"""Calibration of a binary model's probabilities, fitted on the validation split.

Expected profit is ``P(conversion) × value − cost``, so a model that ranks well but says
0.4 where 0.2 of customers convert contacts the wrong number of them. Two maps from the
served probability to a calibrated one are fitted here on held-out rows:

* **temperature scaling** (Guo et al. 2017): the logit divided by one number ``T``
  fitted by maximum likelihood; monotone, smooth, one parameter, so it cannot overfit a
  small validation split and leaves every ranking (ROC-AUC, gains, lift) as it was;
* **isotonic regression** (Zadrozny & Elkan 2002): the non-decreasing step function of
  least squared error, linearly interpolated between its steps (scikit-learn's
  ``IsotonicRegression``); it can bend any monotone miscalibration straight but needs
  more rows and ties the probabilities of customers within a step.

The figures that say whether it worked: the expected calibration error (:func:`ece`, 15
equal-width bins of P(positive), each bin's gap between the mean probability and the
observed rate weighed by its share of rows) and the Brier score (:func:`brier`). The
maps themselves are applied on the predict path by
:class:`modelry.registry.layout.Calibration`, from the numbers returned here.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15
EPS = 1e-7
"""Probabilities are clipped to [EPS, 1 - EPS] before taking a logit (float32 holds 1e-7)."""


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 − p))`` of probabilities clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.asarray(np.log(q) - np.log1p(-q))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^−z)``, without overflow for large negative ``z``."""
    z = np.asarray(z, dtype=np.float64)
    return np.asarray(np.exp(-np.logaddexp(0.0, -z)))


def fit_temperature(p: np.ndarray, y: np.ndarray) -> float:
    """The ``T`` minimising the log loss of ``sigmoid(logit(p) / T)`` on ``(p, y)``.

    Searched on ``log T`` (bounded to T in [0.05, 20]) by Brent's method: the loss is
    convex in ``1/T``, so the minimum is unique.

    Example:
        >>> y = np.array([0, 1] * 50)
        >>> p = np.where(y == 1, 0.99, 0.01)  # confident and right: T stays small
        >>> fit_temperature(p, y) < 1
        True
    """
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]

    z = logit(p)
    target = np.asarray(y, dtype=np.float64)

    def loss(log_t: float) -> float:
        s = z / np.exp(log_t)
        # log(1 + e^s) − y·s: the log loss of sigmoid(s), stable for any s.
        return float(np.mean(np.logaddexp(0.0, s) - target * s))

    found = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(found.x))


def fit_isotonic(p: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    """The isotonic map's knots ``(x, y)``: non-decreasing, applied by interpolation.

    Returns:
        ``x`` strictly increasing probabilities and ``y`` the calibrated probability at
        each, non-decreasing; below ``x[0]`` and above ``x[-1]`` the ends are kept.
    """
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    model.fit(np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return [float(v) for v in model.X_thresholds_], [float(v) for v in model.y_thresholds_]


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of P(positive): ``Σ_b (n_b / n) · |mean(y)_b − mean(p)_b|``
    over ``bins`` equal-width bins of ``p`` (the last bin includes 1).

    Example:
        >>> ece(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5]))
        0.0
    """
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if p.size == 0:
        return 0.0
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    gap = np.bincount(which, weights=y, minlength=bins) - np.bincount(
        which, weights=p, minlength=bins
    )
    return float(np.abs(gap).sum() / p.size)


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of P(positive) against the 0/1 outcome."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.mean((p - np.asarray(y, dtype=np.float64)) ** 2)) if p.size else 0.0


def reliability_bins(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> list[dict[str, float]]:
    """The non-empty bins of :func:`ece`: their mean probability, observed rate and rows."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    mean_p = np.bincount(which, weights=p, minlength=bins)
    rate = np.bincount(which, weights=y, minlength=bins)
    return [
        {"mean_probability": mean_p[b] / count[b], "observed_rate": rate[b] / count[b],
         "rows": int(count[b])}
        for b in range(bins)
        if count[b]
    ]  # fmt: skip


def reliability_png(y: np.ndarray, curves: dict[str, np.ndarray], bins: int = ECE_BINS) -> bytes:
    """The reliability chart: observed rate against mean probability per bin, one line per
    curve (e.g. before and after calibration), with each curve's ECE in its label."""
    from modelry.training.plots import _figure, _png

    fig, ax = _figure()
    for label, p in curves.items():
        points = reliability_bins(y, p, bins)
        ax.plot(
            [b["mean_probability"] for b in points],
            [b["observed_rate"] for b in points],
            marker="o",
            label=f"{label} (ECE {ece(y, p, bins):.4f})",
        )
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed rate",
        title=f"Reliability, test split ({bins} bins)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    return _png(fig)
