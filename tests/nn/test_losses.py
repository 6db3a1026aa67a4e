"""Losses and the penalty against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from modelry.data.schema import Task
from modelry.errors import ConfigError
from modelry.nn.losses import make_loss, penalty
from modelry.nn.modules import TabularNet
from modelry.training.config import ModelConfig


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_softmax_cross_entropy_by_hand() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    y = torch.tensor([0, 2])
    expected = 0.0
    for row, cls in zip(logits.tolist(), y.tolist(), strict=True):
        z = sum(math.exp(v) for v in row)
        expected += -math.log(math.exp(row[cls]) / z)
    got = make_loss("cross_entropy", Task.MULTICLASS)(logits, y)
    assert got.item() == pytest.approx(expected / 2, rel=1e-6)
    assert make_loss("auto", Task.MULTICLASS).kind == "cross_entropy"


def test_bce_with_logits_by_hand_and_weighted() -> None:
    logits = torch.tensor([[0.3], [-1.2], [2.0]])
    y = torch.tensor([1.0, 0.0, 0.0])
    per = []
    for z, t in zip([0.3, -1.2, 2.0], [1.0, 0.0, 0.0], strict=True):
        s = _sigmoid(z)
        per.append(-(t * math.log(s) + (1 - t) * math.log(1 - s)))
    loss = make_loss("bce", Task.BINARY)
    assert loss(logits, y).item() == pytest.approx(sum(per) / 3, rel=1e-6)
    w = torch.tensor([0.5, 1.0, 1.5])
    expected = (0.5 * per[0] + per[1] + 1.5 * per[2]) / 3
    assert loss(logits, y, w).item() == pytest.approx(expected, rel=1e-6)
    # cross_entropy on a binary task is the same loss on its single logit.
    assert make_loss("cross_entropy", Task.BINARY)(logits, y).item() == pytest.approx(
        sum(per) / 3, rel=1e-6
    )


def test_mse_and_huber_by_hand() -> None:
    out = torch.tensor([[1.0], [2.0], [5.0]])
    y = torch.tensor([0.0, 2.5, 2.0])
    assert make_loss("mse", Task.REGRESSION)(out, y).item() == pytest.approx((1 + 0.25 + 9) / 3)
    # Huber, delta 1: 0.5·r² inside, |r| − 0.5 outside.
    huber = (0.5 + 0.5 * 0.25 + (3 - 0.5)) / 3
    assert make_loss("huber", Task.REGRESSION)(out, y).item() == pytest.approx(huber)


def test_mse_on_binary_is_the_brier_score_of_the_probability() -> None:
    logits = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([1.0, 0.0])
    expected = ((0.5 - 1) ** 2 + _sigmoid(1.0) ** 2) / 2
    assert make_loss("mse", Task.BINARY)(logits, y).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("cross_entropy", Task.REGRESSION),
        ("bce", Task.MULTICLASS),
        ("bce", Task.REGRESSION),
        ("huber", Task.BINARY),
        ("mse", Task.MULTICLASS),
    ],
)
def test_nonsensical_pairs_name_both(name: str, task: Task) -> None:
    with pytest.raises(ConfigError) as err:
        make_loss(name, task)
    assert name in err.value.message and task.value in err.value.message


def test_unknown_loss() -> None:
    with pytest.raises(ConfigError, match="unknown loss"):
        make_loss("hinge", Task.BINARY)


def test_penalty_covers_linear_weights_only() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=[4, 3], batch_norm=True, dropout=0.0)
    net = TabularNet(2, [(5, 2)], cfg, 1)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    l1 = sum(float(m.weight.detach().abs().sum()) for m in linears)
    l2 = sum(float((m.weight.detach() ** 2).sum()) for m in linears)
    got = penalty(net, 0.1, 0.01)
    assert got.item() == pytest.approx(0.1 * l1 + 0.01 * l2, rel=1e-5)
    assert penalty(net, 0.0, 0.0).item() == 0.0
    # Gradients reach weights but not biases, batch norm or embeddings.
    penalty(net, 0.1, 0.01).backward()  # type: ignore[no-untyped-call]
    assert linears[0].weight.grad is not None
    assert linears[0].bias.grad is None
    assert net.embeddings[0].weight.grad is None
