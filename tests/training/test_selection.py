"""The rule that picks the served model: the baseline only when better beyond noise."""

from __future__ import annotations

import numpy as np
import pytest

from modelry.data.schema import Task
from modelry.training.selection import paired_noise, select_model


def _binary(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (signal + rng.normal(size=n) * 0.5 > 0).astype(np.int64)
    return y, signal


def test_a_clearly_better_baseline_is_served_and_said_so() -> None:
    y, signal = _binary(400)
    baseline = 1 / (1 + np.exp(-signal))  # knows the signal
    network = np.random.default_rng(1).random(400)  # guesses
    chosen = select_model(Task.BINARY, y, network, baseline, method="validation")
    assert chosen.served == "baseline" and chosen.metric == "roc_auc"
    assert chosen.baseline is not None and chosen.network is not None
    assert chosen.baseline - chosen.network > 2 * chosen.noise > 0
    assert "beats the network beyond noise" in chosen.reason and "--model network" in chosen.reason


def test_a_tie_within_noise_keeps_the_network() -> None:
    y, signal = _binary(300)
    rng = np.random.default_rng(2)
    network = signal + rng.normal(size=300) * 0.30
    baseline = signal + rng.normal(size=300) * 0.32
    chosen = select_model(Task.BINARY, y, network, baseline, method="validation")
    assert chosen.served == "network" and "not better beyond noise" in chosen.reason


def test_the_user_can_force_either_model() -> None:
    y, signal = _binary(200)
    worse = np.random.default_rng(3).random(200)
    forced = select_model(Task.BINARY, y, worse, signal, method="5-fold", choice="network")
    assert forced.served == "network" and forced.forced and "as asked" in forced.reason
    assert select_model(Task.BINARY, y, signal, worse, method="v", choice="baseline").served == (
        "baseline"
    )


@pytest.mark.parametrize("task", [Task.REGRESSION, Task.MULTICLASS])
def test_lower_is_better_metrics_compare_the_right_way(task: Task) -> None:
    rng = np.random.default_rng(4)
    n = 300
    if task is Task.REGRESSION:
        y = rng.normal(size=n)
        good, poor = y + rng.normal(size=n) * 0.1, y + rng.normal(size=n) * 1.0
    else:
        y = rng.integers(0, 3, n)
        sharp = np.full((n, 3), 0.1)
        sharp[np.arange(n), y] = 0.8
        good, poor = sharp, np.full((n, 3), 1 / 3)
    assert select_model(task, y, poor, good, method="validation").served == "baseline"
    assert select_model(task, y, good, poor, method="validation").served == "network"


def test_noise_shrinks_with_more_rows() -> None:
    small = paired_noise(Task.BINARY, *_pair(60))
    large = paired_noise(Task.BINARY, *_pair(2000))
    assert large < small


def _pair(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, signal = _binary(n, seed=n)
    rng = np.random.default_rng(n)
    return y, signal + rng.normal(size=n), signal + rng.normal(size=n)


def test_the_rank_auc_is_sklearns() -> None:
    from sklearn.metrics import roc_auc_score

    from modelry.training.selection import _auc

    y, signal = _binary(500)
    p = np.round(signal, 1)  # ties
    assert _auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert _auc(np.zeros(5), p[:5]) is None


def test_the_fast_metrics_are_the_reported_ones() -> None:
    from modelry.training.metrics import score
    from modelry.training.selection import _log_loss, _rmse

    rng = np.random.default_rng(9)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet(np.ones(3), 200)
    assert _log_loss(y, proba) == pytest.approx(score(Task.MULTICLASS, y, proba), rel=1e-6)
    values = rng.normal(size=200)
    assert _rmse(values, values + 0.5) == pytest.approx(
        score(Task.REGRESSION, values, values + 0.5)
    )
