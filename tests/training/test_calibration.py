"""Calibration maps and their figures: a deliberately over-confident model is made honest,
the isotonic map is monotone, and the ECE is what it says on small hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from modelry.registry.layout import Calibration
from modelry.training.calibration import (
    brier,
    ece,
    fit_isotonic,
    fit_temperature,
    reliability_bins,
    sigmoid,
)


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from sigmoid(z), and a model that says sigmoid(3z): right order,
    three times too sure."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, n)
    y = (rng.random(n) < sigmoid(z)).astype(np.float64)
    return sigmoid(3 * z), y


def test_ece_of_hand_made_bins() -> None:
    # Bin [0.067, 0.133): p 0.1, rate 0.5, half the rows → 0.2; bin of 0.9: rate 1 → 0.05.
    p, y = np.array([0.1, 0.1, 0.9, 0.9]), np.array([0, 1, 1, 1])
    assert ece(y, p) == pytest.approx(0.25)
    assert ece(np.array([1]), np.array([1.0])) == 0.0  # p = 1 falls in the last bin
    assert brier(y, p) == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)
    bins = reliability_bins(y, p)
    assert [b["rows"] for b in bins] == [2, 2]
    assert bins[0]["observed_rate"] == 0.5


def test_temperature_scaling_makes_an_overconfident_model_honest() -> None:
    p_valid, y_valid = overconfident(4000, seed=0)
    p_test, y_test = overconfident(4000, seed=1)  # measured on rows it was not fitted on
    temperature = fit_temperature(p_valid, y_valid)
    assert temperature == pytest.approx(3.0, rel=0.1)
    calibrated = Calibration(method="temperature", temperature=temperature).apply(p_test)
    assert calibrated.dtype == np.float32
    assert ece(y_test, calibrated) < ece(y_test, p_test) / 3
    assert brier(y_test, calibrated) < brier(y_test, p_test)
    # Monotone: the ranking (and so ROC-AUC, gains and lift) is unchanged.
    order = np.argsort(p_test, kind="stable")
    assert np.all(np.diff(calibrated[order]) >= 0)


def test_isotonic_is_monotone_and_lowers_the_error_on_new_rows() -> None:
    p_valid, y_valid = overconfident(4000, seed=2)
    p_test, y_test = overconfident(4000, seed=3)
    x, y = fit_isotonic(p_valid, y_valid)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0)
    assert y[0] >= 0.0 and y[-1] <= 1.0
    calibration = Calibration(method="isotonic", x=x, y=y)
    grid = np.linspace(0, 1, 1001)
    mapped = calibration.apply(grid)
    assert np.all(np.diff(mapped) >= 0)  # monotone everywhere, outside the knots too
    assert ece(y_test, calibration.apply(p_test)) < ece(y_test, p_test) / 3


def test_a_calibrated_model_stays_nearly_as_it_was() -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(0.01, 0.99, 5000)
    y = (rng.random(5000) < p).astype(np.float64)
    assert fit_temperature(p, y) == pytest.approx(1.0, abs=0.1)
