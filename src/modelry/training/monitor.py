"""The bookkeeping after each epoch: validate, keep the best weights, log, schedule, stop.

Shared by the plain loop (:mod:`modelry.training.trainer`) and the differentially private
one (:mod:`modelry.training.private`), so early stopping means the same in both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from modelry.data.schema import Task
from modelry.errors import ConfigError
from modelry.nn.losses import Loss
from modelry.nn.modules import TabularNet
from modelry.nn.optim import EpochScheduler
from modelry.training.config import OptimConfig
from modelry.training.metrics import primary_metric, score
from modelry.training.sampling import SplitTensors


@dataclass
class EpochLog:
    """What one epoch did.

    ``train_loss`` is the mean objective over the epoch's batches (loss + penalty, as
    optimised, on standardised targets for regression); ``valid_loss`` the loss alone on
    the validation set; ``valid_metric`` the value of the monitored metric ``metric_name``.
    """

    epoch: int
    train_loss: float
    valid_loss: float
    metric_name: str
    valid_metric: float
    lr: float
    seconds: float
    improved: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def state_copy(net: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def diverged(epoch: int, what: str, value: float, lr: float) -> ConfigError:
    return ConfigError(
        f"training diverged at epoch {epoch}: the {what} is {value}; "
        f"try a lower learning rate than {lr:g} (or set clip_norm)",
        field="lr",
        epoch=epoch,
    )


def served_output(task: Task, raw: Tensor, y_mean: float, y_std: float) -> np.ndarray:
    if task is Task.BINARY:
        return torch.sigmoid(raw[:, 0]).numpy()
    if task is Task.MULTICLASS:
        return torch.softmax(raw, dim=1).numpy()
    return (raw[:, 0] * y_std + y_mean).numpy()


# Below this many validation rows, ``monitor="auto"`` stops on the validation loss: every
# row moves it a little, whereas ROC-AUC on ~30 rows (campus placement) moves in steps of
# several points and picked epoch 1 on some seeds.
SMALL_VALID = 1000


def monitored(task: Task, y_true: np.ndarray, choice: str) -> tuple[str, bool]:
    """``(metric name, higher is better)`` that early stopping watches on ``y_true``."""
    metric, higher = primary_metric(task)
    if task is Task.BINARY and len(np.unique(y_true)) < 2:
        return "valid_loss", False  # AUC is undefined on one class
    if choice == "loss" or (choice == "auto" and len(y_true) < SMALL_VALID):
        return "valid_loss", False
    return metric, higher


class Monitor:
    """After each epoch: validate, keep the best weights, log, step the schedule, and say
    whether to stop. Shared by the plain and the differentially private loops."""

    def __init__(
        self,
        net: TabularNet,
        task: Task,
        loss_fn: Loss,
        va: SplitTensors,
        y_true: np.ndarray,
        y_scale: tuple[float, float],
        config: OptimConfig,
        on_epoch: Callable[[EpochLog], None] | None,
    ) -> None:
        metric, higher = monitored(task, y_true, config.monitor)
        self.net, self.task, self.loss_fn, self.va, self.y_true = net, task, loss_fn, va, y_true
        self.y_scale, self.config, self.on_epoch = y_scale, config, on_epoch
        self.metric, self.higher = metric, higher
        self.history: list[EpochLog] = []
        self.best_value = -math.inf if higher else math.inf
        self.best_epoch, self.best_state, self.stopped = 0, state_copy(net), False

    def end_epoch(
        self, epoch: int, train_loss: float, started: float, scheduler: EpochScheduler
    ) -> bool:
        """Record the epoch; True when training should stop."""
        if not math.isfinite(train_loss):
            raise diverged(epoch, "training loss", train_loss, scheduler.lr)
        valid_loss, score_value = _validate(
            self.net, self.task, self.loss_fn, self.va, self.y_true, *self.y_scale
        )
        if not math.isfinite(valid_loss):
            raise diverged(epoch, "validation loss", valid_loss, scheduler.lr)
        value = valid_loss if self.metric == "valid_loss" else score_value
        if value is None or not math.isfinite(value):
            raise diverged(epoch, f"validation {self.metric}", math.nan, scheduler.lr)
        if value > self.best_value if self.higher else value < self.best_value:
            self.best_value, self.best_epoch = value, epoch
            if self.config.early_stopping:
                self.best_state = state_copy(self.net)
        log = EpochLog(
            epoch=epoch,
            train_loss=train_loss,
            valid_loss=valid_loss,
            metric_name=self.metric,
            valid_metric=value,
            lr=scheduler.lr,
            seconds=time.perf_counter() - started,
            improved=epoch == self.best_epoch,
        )
        self.history.append(log)
        if self.on_epoch is not None:
            self.on_epoch(log)
        scheduler.step(value)
        if self.config.early_stopping and epoch - self.best_epoch >= self.config.patience:
            self.stopped = epoch < self.config.epochs
            return True
        return False

    def restore_best(self) -> None:
        if self.config.early_stopping:
            self.net.load_state_dict(self.best_state)


def _validate(
    net: TabularNet,
    task: Task,
    loss_fn: Loss,
    va: SplitTensors,
    y_true: np.ndarray,
    y_mean: float,
    y_std: float,
) -> tuple[float, float | None]:
    net.eval()
    with torch.inference_mode():
        raw = net(va.dense, va.codes)
        loss = float(loss_fn(raw, va.y, va.weight))
        served = served_output(task, raw, y_mean, y_std)
    return loss, score(task, y_true, served)
