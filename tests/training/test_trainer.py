"""The training loop against known answers: least squares, L1 sparsity, early stopping,
determinism, class balancing, scale folding and end-to-end learning per task."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from modelry.data.schema import Task
from modelry.errors import ConfigError, DataError
from modelry.nn.modules import TabularNet
from modelry.training.config import ModelConfig, OptimConfig
from modelry.training.metrics import score
from modelry.training.trainer import (
    EpochLog,
    TrainData,
    predict_output,
    seed_everything,
    train,
)

NO_CODES = np.zeros((0, 0), np.int64)


def _data(X: np.ndarray, y: np.ndarray, codes: np.ndarray | None = None) -> TrainData:
    c = np.zeros((len(X), 0), np.int64) if codes is None else codes
    return TrainData(X.astype(np.float32), c, y)


def _split(X: np.ndarray, y: np.ndarray, n_train: int) -> tuple[TrainData, TrainData]:
    return _data(X[:n_train], y[:n_train]), _data(X[n_train:], y[n_train:])


def _net(d: int, n_out: int = 1, seed: int = 0, **model: Any) -> TabularNet:
    seed_everything(seed)
    return TabularNet(d, [], ModelConfig(**model), n_out)


def _opt(**kw: Any) -> OptimConfig:
    return OptimConfig(**kw)


def _linear_problem(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 4.0 + rng.normal(scale=0.2, size=n)
    return X, y.astype(np.float32)


def test_gd_on_least_squares_reaches_the_closed_form() -> None:
    X, y = _linear_problem()
    tr, va = _split(X, y, 200)
    net = _net(3, hidden=[])
    cfg = _opt(optimizer="gd", lr=0.3, epochs=300, early_stopping=False)
    result = train(net, Task.REGRESSION, tr, va, cfg)
    A = np.hstack([tr.dense.astype(np.float64), np.ones((200, 1))])
    exact = np.linalg.lstsq(A, y[:200].astype(np.float64), rcond=None)[0]
    got = np.append(net.head.weight.detach().numpy().ravel(), net.head.bias.item())
    # Folding put the weights in target units: compare directly with lstsq.
    np.testing.assert_allclose(got, exact, atol=1e-3)
    assert result.epochs_run == 300 and not result.stopped_early
    assert result.y_mean == pytest.approx(float(np.mean(y[:200])))


@pytest.mark.parametrize(("name", "lr"), [("momentum", 0.1), ("adam", 0.02)])
def test_momentum_and_adam_converge_on_least_squares(name: str, lr: float) -> None:
    X, y = _linear_problem()
    tr, va = _split(X, y, 200)
    net = _net(3, hidden=[])
    cfg = _opt(optimizer=name, lr=lr, epochs=400, batch_size=200, early_stopping=False)
    train(net, Task.REGRESSION, tr, va, cfg)
    A = np.hstack([tr.dense.astype(np.float64), np.ones((200, 1))])
    exact = np.linalg.lstsq(A, y[:200].astype(np.float64), rcond=None)[0]
    got = np.append(net.head.weight.detach().numpy().ravel(), net.head.bias.item())
    np.testing.assert_allclose(got, exact, atol=1e-3)


def test_strong_l1_zeroes_irrelevant_inputs() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    y = (2.0 * X[:, 0] - 1.5 * X[:, 1] + rng.normal(scale=0.1, size=400)).astype(np.float32)
    tr, va = _split(X, y, 300)
    net = _net(6, hidden=[])
    cfg = _opt(optimizer="gd", lr=0.05, l1=0.05, epochs=400, early_stopping=False)
    train(net, Task.REGRESSION, tr, va, cfg)
    w = net.head.weight.detach().numpy().ravel()
    assert np.all(np.abs(w[2:]) < 0.02), w
    assert abs(w[0]) > 1.0 and abs(w[1]) > 0.8, w


def _noisy_binary(n: int, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    p = 1 / (1 + np.exp(-(X[:, 0] - 0.5 * X[:, 1])))
    return X, (rng.random(n) < p).astype(np.float32)


def test_early_stopping_restores_the_best_epoch() -> None:
    X, y = _noisy_binary(300)
    tr, va = _split(X, y, 150)
    net = _net(8, hidden=[64, 64], dropout=0.0)
    logs: list[EpochLog] = []
    cfg = _opt(optimizer="adam", lr=0.02, batch_size=16, epochs=60, patience=3, monitor="metric")
    result = train(net, Task.BINARY, tr, va, cfg, on_epoch=logs.append)
    assert result.stopped_early and result.epochs_run < 60
    assert result.epochs_run == result.best_epoch + 3
    assert logs == result.history and result.metric == "roc_auc" and result.higher_is_better
    best = result.best
    assert best.improved and best.valid_metric == max(e.valid_metric for e in result.history)
    final = score(Task.BINARY, va.y, predict_output(net, Task.BINARY, va.dense, va.codes))
    assert final == pytest.approx(best.valid_metric, abs=1e-6)


def _state(seed: int, net_seed: int = 0) -> dict[str, torch.Tensor]:
    X, y = _noisy_binary(200)
    tr, va = _split(X, y, 150)
    net = _net(8, seed=net_seed, hidden=[16], dropout=0.3)
    cfg = _opt(optimizer="sgd", lr=0.1, batch_size=8, epochs=3, noise=0.1, seed=seed)
    train(net, Task.BINARY, tr, va, cfg)
    return net.state_dict()


def test_same_seed_gives_identical_weights() -> None:
    a, b, c = _state(7), _state(7), _state(8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_train_leaves_the_callers_random_state_alone() -> None:
    X, y = _noisy_binary(100)
    tr, va = _split(X, y, 80)
    net = _net(8, hidden=[4], dropout=0.5)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(net, Task.BINARY, tr, va, _opt(epochs=2, batch_size=10, noise=0.1))
    torch.testing.assert_close(torch.rand(3), expected)


def test_parameters_own_their_storage_after_training() -> None:
    X, y = _noisy_binary(100)
    tr, va = _split(X, y, 80)
    net = _net(8, hidden=[4])
    threads = torch.get_num_threads()
    train(net, Task.BINARY, tr, va, _opt(epochs=2, batch_size=10))
    ptrs = [p.untyped_storage().data_ptr() for p in net.parameters()]
    assert len(set(ptrs)) == len(ptrs)
    assert all(p.grad is None for p in net.parameters())
    assert torch.get_num_threads() == threads


def _positive_rate(balance: str) -> float:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1200, 4))
    y = (X[:, 0] + rng.normal(scale=1.0, size=1200) > 2.3).astype(np.float32)
    assert 0.02 < y.mean() < 0.08
    tr, va = _split(X, y, 1000)
    net = _net(4, hidden=[8], dropout=0.0)
    cfg = _opt(lr=0.01, batch_size=64, epochs=15, early_stopping=False, balance=balance)
    train(net, Task.BINARY, tr, va, cfg)
    p = predict_output(net, Task.BINARY, va.dense, va.codes)
    return float((p >= 0.5).mean())


def test_balancing_raises_the_predicted_positive_rate() -> None:
    plain = _positive_rate("none")
    assert _positive_rate("weights") > plain + 0.1
    assert _positive_rate("oversample") > plain + 0.1


def test_balance_on_regression_is_refused() -> None:
    X, y = _linear_problem(40)
    tr, va = _split(X, y, 30)
    with pytest.raises(ConfigError, match="balance"):
        train(_net(3), Task.REGRESSION, tr, va, _opt(balance="weights"))


def test_regression_outputs_in_target_units() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 2))
    y = (5000.0 + 800.0 * np.tanh(X[:, 0]) + 300.0 * X[:, 1]).astype(np.float32)
    tr, va = _split(X, y, 500)
    net = _net(2, hidden=[16], dropout=0.0)
    cfg = _opt(lr=0.01, batch_size=32, epochs=40, monitor="metric")
    result = train(net, Task.REGRESSION, tr, va, cfg)
    pred = predict_output(net, Task.REGRESSION, va.dense, va.codes)
    assert abs(float(pred.mean()) - float(va.y.mean())) < 100
    rmse = float(np.sqrt(np.mean((pred - va.y) ** 2)))
    assert rmse < 0.2 * float(va.y.std())
    assert result.best.valid_metric == pytest.approx(rmse, rel=1e-4)


def test_divergence_is_a_config_error_naming_the_learning_rate() -> None:
    X, y = _linear_problem(100)
    y = y * 1e3
    tr, va = _split(X, y, 80)
    with pytest.raises(ConfigError, match="lower learning rate"):
        train(_net(3, hidden=[]), Task.REGRESSION, tr, va, _opt(optimizer="gd", lr=1e4))


def test_binary_trains_with_embeddings_and_batch_norm() -> None:
    rng = np.random.default_rng(5)
    n = 401  # the last batch of 32 holds a single row: BatchNorm must not see it alone
    codes = rng.integers(0, 6, size=(n, 1))
    X = rng.normal(size=(n, 3))
    y = ((codes[:, 0] >= 3) ^ (X[:, 0] > 1.0)).astype(np.float32)
    tr = _data(X[:320], y[:320], codes[:320])
    va = _data(X[320:], y[320:], codes[320:])
    seed_everything(0)
    net = TabularNet(3, [(6, 3)], ModelConfig(hidden=[16], batch_norm=True), 1)
    cfg = _opt(lr=0.02, batch_size=32, epochs=25, patience=8)
    train(net, Task.BINARY, tr, va, cfg)
    p = predict_output(net, Task.BINARY, va.dense, va.codes)
    assert p.shape == (81,)
    assert float(((p >= 0.5) == va.y).mean()) > 0.85


def test_multiclass_trains_above_chance() -> None:
    rng = np.random.default_rng(6)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, size=450)
    X = centers[labels] + rng.normal(size=(450, 2))
    tr, va = _split(X, labels.astype(np.int64), 360)
    net = _net(2, n_out=3, hidden=[16])
    cfg = _opt(lr=0.02, batch_size=32, epochs=20, monitor="metric")
    result = train(net, Task.MULTICLASS, tr, va, cfg)
    proba = predict_output(net, Task.MULTICLASS, va.dense, va.codes)
    assert proba.shape == (90, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert float((proba.argmax(axis=1) == va.y).mean()) > 0.8
    assert result.metric == "log_loss" and not result.higher_is_better
    assert result.best.valid_metric < np.log(3)


def test_single_class_validation_monitors_the_loss() -> None:
    X, y = _noisy_binary(120)
    tr = _data(X[:100], y[:100])
    va = _data(X[100:], np.zeros(20, np.float32))
    result = train(_net(8, hidden=[4]), Task.BINARY, tr, va, _opt(epochs=3, batch_size=20))
    assert result.metric == "valid_loss"
    assert all(e.valid_metric == e.valid_loss for e in result.history)


def test_small_validation_split_monitors_the_loss_by_default() -> None:
    # 150 validation rows: ROC-AUC there moves in steps too coarse to pick an epoch by.
    X, y = _noisy_binary(300)
    tr, va = _split(X, y, 150)
    result = train(_net(8, hidden=[8]), Task.BINARY, tr, va, _opt(epochs=6, batch_size=16))
    assert result.metric == "valid_loss" and not result.higher_is_better
    assert result.best.valid_loss == min(e.valid_loss for e in result.history)
    forced = train(
        _net(8, hidden=[8]), Task.BINARY, tr, va, _opt(epochs=2, batch_size=16, monitor="metric")
    )
    assert forced.metric == "roc_auc"


def test_large_validation_split_monitors_the_metric_by_default() -> None:
    X, y = _noisy_binary(2400)
    tr, va = _split(X, y, 1200)  # 1,200 validation rows, above SMALL_VALID
    result = train(_net(8, hidden=[8]), Task.BINARY, tr, va, _opt(epochs=2, batch_size=256))
    assert result.metric == "roc_auc"
    loss = train(
        _net(8, hidden=[8]), Task.BINARY, tr, va, _opt(epochs=2, batch_size=256, monitor="loss")
    )
    assert loss.metric == "valid_loss"


def test_bad_inputs() -> None:
    with pytest.raises(DataError):
        TrainData(np.zeros((3, 2), np.float32), NO_CODES, np.zeros(3, np.float32))
    X, y = _linear_problem(20)
    empty = _data(X[:0], y[:0])
    with pytest.raises(DataError):
        train(_net(3), Task.REGRESSION, empty, _data(X, y), _opt())
    with pytest.raises(DataError, match="network takes 4"):
        train(_net(4), Task.REGRESSION, _data(X, y), _data(X, y), _opt())
    labels = np.array([0, 1, 2, 3] * 5)
    with pytest.raises(DataError, match="class index 3"):
        train(_net(3, n_out=3), Task.MULTICLASS, _data(X, labels), _data(X, labels), _opt())


def test_predict_output_on_zero_rows() -> None:
    net = _net(3, n_out=3)
    assert predict_output(net, Task.MULTICLASS, np.zeros((0, 3)), NO_CODES).shape == (0, 3)
    assert predict_output(net, Task.BINARY, np.zeros((0, 3)), NO_CODES).shape == (0,)
