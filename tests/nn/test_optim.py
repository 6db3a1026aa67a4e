"""Optimisers reach the least-squares solution; schedules move the learning rate."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from modelry.errors import ConfigError
from modelry.nn.optim import flat_parameters, make_optimizer, make_scheduler
from modelry.training.config import OptimConfig


def _least_squares(name: str, lr: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.3 + rng.normal(scale=0.1, size=200)
    A = np.hstack([X, np.ones((200, 1))])
    exact = np.linalg.lstsq(A, y, rcond=None)[0]
    Xt = torch.tensor(X, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = make_optimizer(model.parameters(), OptimConfig(optimizer=name, lr=lr))  # type: ignore[arg-type]
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(Xt).squeeze(1) - yt) ** 2).mean()
        loss.backward()
        opt.step()
    got = np.append(model.weight.detach().numpy().ravel(), model.bias.item())
    return got, exact


@pytest.mark.parametrize(
    ("name", "lr", "steps"),
    [("gd", 0.1, 400), ("momentum", 0.05, 400), ("nesterov", 0.05, 400), ("adam", 0.05, 800)],
)
def test_full_batch_optimisers_reach_the_closed_form(name: str, lr: float, steps: int) -> None:
    got, exact = _least_squares(name, lr, steps)
    np.testing.assert_allclose(got, exact, atol=1e-3)


def test_kinds_and_hyperparameters() -> None:
    params = [torch.nn.Parameter(torch.zeros(3))]
    opt = make_optimizer(params, OptimConfig(optimizer="momentum", momentum=0.8))
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.8
    opt = make_optimizer(params, OptimConfig(optimizer="nesterov"))
    assert opt.param_groups[0]["nesterov"] is True
    opt = make_optimizer(params, OptimConfig(optimizer="adamw", weight_decay=0.01))
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.01
    with pytest.raises(ConfigError):
        make_optimizer(params, OptimConfig(optimizer="nesterov", momentum=0.0))


def _lrs(schedule: str, epochs: int, metrics: list[float] | None = None) -> list[float]:
    params = [torch.nn.Parameter(torch.zeros(1))]
    cfg = OptimConfig(optimizer="sgd", lr=1.0, schedule=schedule)  # type: ignore[arg-type]
    opt = make_optimizer(params, cfg)
    sched = make_scheduler(opt, cfg, epochs)
    out = []
    for e in range(epochs):
        out.append(sched.lr)
        opt.step()
        sched.step(metrics[e] if metrics else 0.0)
    return out


def test_schedules() -> None:
    assert _lrs("none", 4) == [1.0] * 4
    assert _lrs("step", 8) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    cosine = _lrs("cosine", 10)
    assert cosine[0] == 1.0 and all(a > b for a, b in itertools.pairwise(cosine))
    # Plateau halves after more than 2 epochs without improvement.
    plateau = _lrs("plateau", 6, [1.0, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert plateau[:5] == [1.0] * 5 and plateau[5] == 0.5


def test_flat_parameters_share_one_buffer_then_release_it() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(5, 3)
    with flat_parameters(model) as flat:
        assert flat.flat.numel() == sum(p.numel() for p in model.parameters())
        torch.testing.assert_close(model.state_dict(), before)  # same values, new storage
        flat.zero_grad()
        model(x).sum().backward()
        assert flat.flat.grad is not None
        grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()])  # type: ignore[union-attr]
        torch.testing.assert_close(flat.flat.grad, grads)
        with torch.no_grad():
            flat.flat.add_(1.0)  # an optimiser step on the buffer moves the module's weights
        torch.testing.assert_close(model[0].bias, before["0.bias"] + 1.0)
    ptrs = [p.untyped_storage().data_ptr() for p in model.parameters()]
    assert len(set(ptrs)) == len(ptrs)
    assert all(p.grad is None for p in model.parameters())
