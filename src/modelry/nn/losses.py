"""Losses on the network's raw outputs, and the L1/L2 penalty added to them.

Every loss takes raw outputs (logits for classification) so the served head (sigmoid or
softmax) is never inside the gradient path twice, and takes optional per-sample weights
(class balancing, user weights) applied as a weighted mean.

Which loss fits which task:

=================  ==========================================================
``auto``           bce for binary, cross_entropy for multiclass, mse for regression
``bce``            binary only (``BCEWithLogits``)
``cross_entropy``  multiclass (softmax cross-entropy); for binary it *is* bce
``mse``            regression; binary too, as the squared error of the sigmoid
                   probability (the Brier score), which the founding document names
``huber``          regression only (δ = 1 on the standardised target)
=================  ==========================================================

Any other pair is a :class:`modelry.errors.ConfigError` naming both.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from modelry.data.schema import Task
from modelry.errors import ConfigError

Kind = Literal["bce", "cross_entropy", "mse", "brier", "huber"]

# (loss name, task) → the loss computed; a pair not listed is refused.
_RESOLVE: dict[tuple[str, Task], Kind] = {
    ("auto", Task.BINARY): "bce",
    ("auto", Task.MULTICLASS): "cross_entropy",
    ("auto", Task.REGRESSION): "mse",
    ("bce", Task.BINARY): "bce",
    # One logit: softmax cross-entropy over {0, 1} is exactly bce.
    ("cross_entropy", Task.BINARY): "bce",
    ("cross_entropy", Task.MULTICLASS): "cross_entropy",
    ("mse", Task.BINARY): "brier",
    ("mse", Task.REGRESSION): "mse",
    ("huber", Task.REGRESSION): "huber",
}


class Loss(nn.Module):
    """A loss on raw outputs ``[n, n_outputs]`` with optional per-sample weights.

    Targets: float 0/1 ``[n]`` for binary, int64 class index ``[n]`` for multiclass,
    float ``[n]`` for regression. ``kind`` is the resolved loss (``brier`` is mse on a
    binary task).
    """

    def __init__(self, kind: Kind) -> None:
        super().__init__()
        self.kind: Kind = kind

    def forward(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        """Mean loss (weighted mean when ``weight`` is given; weights should average 1)."""
        reduction = "mean" if weight is None else "none"
        if self.kind == "cross_entropy":
            per = F.cross_entropy(output, target, reduction=reduction)
        else:
            out = output.squeeze(1)
            if self.kind == "bce":
                per = F.binary_cross_entropy_with_logits(out, target, reduction=reduction)
            elif self.kind == "brier":
                per = F.mse_loss(torch.sigmoid(out), target, reduction=reduction)
            elif self.kind == "huber":
                per = F.huber_loss(out, target, reduction=reduction, delta=1.0)
            else:
                per = F.mse_loss(out, target, reduction=reduction)
        if weight is None:
            return per  # already reduced: one op fewer per step than mean() on "none"
        # A plain weighted mean rather than Σwl/Σw: weights are normalised to mean 1 once
        # over the training set, so a mini-batch's loss keeps the scale its lr expects.
        return (per * weight).mean()


def make_loss(name: str, task: Task) -> Loss:
    """The loss ``name`` (a :data:`modelry.training.config.LossName`) resolved for ``task``.

    Raises:
        ConfigError: the loss makes no sense for the task (e.g. cross_entropy for regression).
    """
    kind = _RESOLVE.get((name, task))
    if kind is not None:
        return Loss(kind)
    fits = [t.value for (n, t) in _RESOLVE if n == name]
    if not fits:
        raise ConfigError(f"unknown loss {name!r}", field="loss", loss=name)
    raise ConfigError(
        f"loss {name!r} does not fit a {task.value} task (it fits: {', '.join(fits)})",
        field="loss",
        loss=name,
        task=task.value,
    )


def penalised_weights(model: nn.Module) -> list[Tensor]:
    """The tensors the penalty covers: weight matrices of Linear layers only.

    Biases shift, batch-norm rescales and embeddings are lookups: penalising them would
    fight the model's calibration rather than its complexity.
    """
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def penalty(model: nn.Module, l1: float, l2: float) -> Tensor:
    """``l1·Σ|w| + l2·Σw²`` over the Linear weight matrices of ``model``.

    Returns a scalar tensor (zero, without a graph, when both coefficients are zero).
    """
    weights = penalised_weights(model)
    total = torch.zeros((), dtype=weights[0].dtype if weights else torch.float32)
    if l1 <= 0 and l2 <= 0:
        return total
    for w in weights:
        if l1 > 0:
            total = total + l1 * w.abs().sum()
        if l2 > 0:
            total = total + l2 * w.square().sum()
    return total
