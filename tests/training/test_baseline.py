"""Baselines: logistic regression, ridge and the constant model."""

from __future__ import annotations

import numpy as np
import pytest

from modelry.data.schema import Task
from modelry.errors import DataError
from modelry.training.baseline import LinearBaseline, fit_baseline
from modelry.training.trainer import TrainData


def _data(X: np.ndarray, y: np.ndarray, codes: np.ndarray | None = None) -> TrainData:
    c = np.zeros((len(X), 0), np.int64) if codes is None else codes.astype(np.int64)
    return TrainData(X.astype(np.float32), c, y)


def test_logistic_on_separable_data_is_perfect() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.float32)
    keep = np.abs(X[:, 0] + 0.5 * X[:, 1]) > 0.2  # a margin, so separation is clear
    data = _data(X[keep], y[keep])
    base = fit_baseline(Task.BINARY, data, seed=0)
    assert base.name == "logistic_regression"
    p = base.predict_output(data.dense, data.codes)
    assert p.shape == (len(data),)
    assert float(((p >= 0.5) == data.y).mean()) == 1.0


def test_codes_are_one_hot_encoded_and_unknown_codes_ignored() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(300, 1))
    y = np.isin(codes[:, 0], [1, 3]).astype(np.float32)  # not monotone in the code value
    data = _data(np.zeros((300, 0)), y, codes)
    base = fit_baseline(Task.BINARY, data)
    p = base.predict_output(data.dense, data.codes)
    assert float(((p >= 0.5) == y).mean()) == 1.0
    unseen = base.predict_output(np.zeros((1, 0)), np.array([[9]]))
    assert 0.0 < unseen[0] < 1.0


def test_multiclass_probabilities() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, size=300)
    X = np.eye(3)[labels] * 3 + rng.normal(scale=0.3, size=(300, 3))
    base = fit_baseline(Task.MULTICLASS, _data(X, labels), n_classes=4)
    proba = base.predict_output(X.astype(np.float32), np.zeros((300, 0), np.int64))
    assert proba.shape == (300, 4) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba[:, 3] == 0)  # a class never seen in training gets zero
    assert float((proba.argmax(axis=1) == labels).mean()) > 0.95


def test_ridge_regression() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2))
    y = (10 + 3 * X[:, 0] - X[:, 1]).astype(np.float32)
    base = fit_baseline(Task.REGRESSION, _data(X, y))
    assert base.name == "ridge"
    pred = base.predict_output(X.astype(np.float32), np.zeros((200, 0), np.int64))
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.05


def test_constant_baselines() -> None:
    X = np.zeros((4, 1))
    binary = fit_baseline(Task.BINARY, _data(X, np.array([0, 1, 1, 1.0])), kind="constant")
    assert binary.name == "majority"
    np.testing.assert_allclose(binary.predict_output(X, np.zeros((2, 0))), [0.75] * 4)
    multi = fit_baseline(Task.MULTICLASS, _data(X, np.array([0, 2, 2, 2])), kind="constant")
    np.testing.assert_allclose(multi.predict_output(X[:1], np.zeros((1, 0))), [[0.25, 0, 0.75]])
    mean = fit_baseline(Task.REGRESSION, _data(X, np.array([1, 2, 3, 6.0])), kind="constant")
    assert mean.name == "mean"
    np.testing.assert_allclose(mean.predict_output(X, np.zeros((4, 0))), [3.0] * 4)


def test_single_class_training_set_is_refused() -> None:
    with pytest.raises(DataError):
        fit_baseline(Task.BINARY, _data(np.zeros((3, 1)), np.ones(3, np.float32)))


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS, Task.REGRESSION])
def test_the_linear_baseline_as_a_network_predicts_the_same(task: Task) -> None:
    import torch

    from modelry.nn.modules import ServingNet

    rng = np.random.default_rng(3)
    n = 300
    dense = rng.normal(size=(n, 3)).astype(np.float32)
    codes = np.stack([rng.integers(0, 4, n), rng.integers(0, 6, n)], axis=1).astype(np.int64)
    logit = dense[:, 0] - dense[:, 1] + (codes[:, 0] == 2) * 1.5 - (codes[:, 1] == 5)
    if task is Task.BINARY:
        y = (logit + rng.normal(size=n) > 0).astype(np.float32)
    elif task is Task.MULTICLASS:
        y = np.digitize(logit, [-0.5, 0.5]).astype(np.float32)  # 3 classes, a 4th absent
    else:
        y = logit.astype(np.float32)
    baseline = LinearBaseline(task, n_classes=4 if task is Task.MULTICLASS else None)
    baseline.fit(TrainData(dense, codes, y))
    # cardinalities above the codes seen (an unseen code 4 in the second column's 7)
    net = baseline.as_network([5, 7])
    test_codes = codes.copy()
    test_codes[:5, 1] = 6  # a category the baseline never saw: one-hot ignores it
    served = ServingNet(net, task).eval()
    with torch.no_grad():
        out = served(torch.from_numpy(dense), torch.from_numpy(test_codes)).numpy()
    expected = baseline.predict_output(dense, test_codes)
    got = out if task is Task.MULTICLASS else out[:, 0]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    if task is Task.MULTICLASS:
        assert got.shape == (n, 4) and np.all(got[:, 3] == 0)
