"""The training loop: mini-batches, penalty, early stopping, scale folding, prediction.

:func:`train` fits a :class:`modelry.nn.modules.TabularNet` in place on preprocessed numpy
arrays and returns its history; :func:`predict_output` gives what would be served.

Why the loop looks the way it does (the founding config — 62 inputs, 64-32-1, batch 32,
33k rows — makes ~1,000 optimiser steps per epoch, so per-step overhead is what counts):

* no DataLoader: each epoch permutes the tensors once and slices contiguous batches;
* the parameters are flattened into one buffer for the duration of training, so
  ``zero_grad``, gradient clipping and the (fused) optimiser step are one op each rather
  than one per tensor; they are given their own storage back before :func:`train` returns;
* training runs on one intra-op thread unless batches are big and cores many (see
  ``SMALL_BATCH``): at batch 32 waking a second thread costs more than splitting a
  32×64 matmul saves. The process-wide setting is restored when :func:`train` returns.

Determinism: :func:`train` seeds torch's global generator (dropout, input noise) from
``config.seed`` inside :func:`torch.random.fork_rng`, so the caller's random state is left
as it was, and shuffles with its own :class:`torch.Generator`. Same seed, same net, same
data → identical weights.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from modelry.data.schema import Task
from modelry.errors import ConfigError, DataError
from modelry.nn.losses import Loss, make_loss, penalty
from modelry.nn.modules import TabularNet, fold_target_scale
from modelry.nn.optim import (
    FlatParameters,
    flat_parameters,
    make_optimizer,
    make_scheduler,
)
from modelry.training.config import OptimConfig
from modelry.training.monitor import EpochLog, Monitor, served_output
from modelry.training.sampling import (
    SplitTensors,
    TrainData,
    balance_weights,
    balanced_indices,
    to_tensors,
)

# Below this batch size training runs on one intra-op thread. Measured on 2 cores (a
# shared machine) one thread won at every batch size tried, 32 to 33,000 rows: 1.3-2× at
# batch 32-2048, and a second thread's spinning turned some epochs 10× slower whenever
# another process wanted the core. Above it, on more than 2 cores, torch's default
# thread count is kept (a guess, not measured: big matmuls are worth splitting there).
SMALL_BATCH = 4096


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes:
        history: One :class:`EpochLog` per epoch run.
        best_epoch: The epoch (1-based) with the best monitored metric.
        epochs_run: Epochs actually run.
        seconds: Wall time of the whole call.
        stopped_early: Whether patience ran out before ``config.epochs``.
        metric: Name of the monitored metric (the task's primary metric, or
            ``valid_loss`` when that is undefined on the validation set).
        higher_is_better: Direction of ``metric``.
        y_mean: Regression only: mean of the training target (folded into the net).
        y_std: Regression only: its standard deviation (folded into the net).
        threads: Intra-op threads used.
        dp_epsilon, dp_delta, dp_noise_multiplier: Set by
            :func:`modelry.training.private.train_private`: the ε spent, its δ, the noise σ.
        engine: Where the fit ran: ``local``, or ``ray`` (:mod:`modelry.training.ray_train`).
        workers: Data-parallel workers (1 locally).
    """

    history: list[EpochLog]
    best_epoch: int
    epochs_run: int
    seconds: float
    stopped_early: bool
    metric: str
    higher_is_better: bool
    y_mean: float | None = None
    y_std: float | None = None
    threads: int = field(default=1)
    dp_epsilon: float | None = None
    dp_delta: float | None = None
    dp_noise_multiplier: float | None = None
    engine: str = "local"
    workers: int = 1

    @property
    def best(self) -> EpochLog:
        """The log of the best epoch."""
        return self.history[self.best_epoch - 1]


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (e.g. before building a net)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _threads_for(batch_size: int) -> int:
    if batch_size < SMALL_BATCH or (os.cpu_count() or 1) <= 2:
        return 1
    return torch.get_num_threads()


@contextmanager
def _num_threads(n: int) -> Iterator[None]:
    # torch's thread count is process-wide: give it back so a caller's later work
    # (a big predict, an explanation) is not left on one thread.
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def batch_loss(
    model: nn.Module,
    net: TabularNet,
    loss_fn: Loss,
    cfg: OptimConfig,
    dense: Tensor,
    codes: Tensor,
    y: Tensor,
    weight: Tensor | None,
) -> Any:
    """One mini-batch's objective (a 0-d tensor): Gaussian ``noise`` on the dense inputs,
    the (weighted) loss of ``model``'s output, plus the L1/L2 penalty on ``net``'s weights.
    ``model`` is ``net`` itself, or its DDP wrapper on a Ray Train worker (the same steps)."""
    if cfg.noise > 0:
        dense = dense + cfg.noise * torch.randn_like(dense)
    loss = loss_fn(model(dense, codes), y, weight)
    if cfg.l1 > 0 or cfg.l2 > 0:
        loss = loss + penalty(net, cfg.l1, cfg.l2)
    return loss


def min_batch_rows(net: nn.Module) -> int:
    """The fewest rows a training step may take: BatchNorm1d refuses a batch of one row in
    training mode, so a trailing batch of one row is skipped."""
    return 2 if any(isinstance(m, nn.BatchNorm1d) for m in net.modules()) else 1


def epoch_order(
    config: OptimConfig, y: np.ndarray, batch: int, gen: torch.Generator
) -> Tensor | None:
    """One epoch's row order, drawn from ``gen``: class-balanced with replacement
    (``balance="oversample"``), else a shuffle, or None (as they are) when one batch holds
    every row. Every loop draws it here, so a Ray rank draws what the local loop draws."""
    n = len(y)
    if config.balance == "oversample":
        return balanced_indices(y, gen)
    return None if batch >= n else torch.randperm(n, generator=gen)


class _EpochLoop:
    """The fixed parts of an optimisation step, and one epoch of them."""

    def __init__(
        self,
        net: TabularNet,
        loss_fn: Loss,
        optimizer: torch.optim.Optimizer,
        flat: FlatParameters,
        config: OptimConfig,
    ) -> None:
        self.net, self.loss_fn, self.optimizer, self.flat = net, loss_fn, optimizer, flat
        self.config = config
        self.skip_single = min_batch_rows(net) > 1

    def run(
        self, data: SplitTensors, weight: Tensor | None, idx: Tensor | None, batch: int
    ) -> float:
        """One epoch over ``data`` in the order ``idx`` (as is when None); the mean loss."""
        net, cfg, flat = self.net, self.config, self.flat
        net.train()
        dense, codes, y, w = data.dense, data.codes, data.y, weight
        if idx is not None:
            # One gather per epoch; batches are then contiguous slices.
            dense, codes, y = dense[idx], codes[idx], y[idx]
            w = None if w is None else w[idx]
        n = len(y)
        losses: list[Tensor] = []
        sizes: list[int] = []
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            if self.skip_single and stop - start == 1 and start > 0:
                continue
            loss = batch_loss(
                net,
                net,
                self.loss_fn,
                cfg,
                dense[start:stop],
                codes[start:stop],
                y[start:stop],
                None if w is None else w[start:stop],
            )
            flat.zero_grad()
            loss.backward()
            if cfg.clip_norm is not None:
                nn.utils.clip_grad_norm_([flat.flat], cfg.clip_norm)
            self.optimizer.step()
            losses.append(loss.detach())
            sizes.append(stop - start)
        # Summed once at the end: no extra tensor ops inside the step.
        total = torch.stack(losses).double() @ torch.tensor(sizes, dtype=torch.float64)
        return float(total) / sum(sizes)


def train(
    net: TabularNet,
    task: Task,
    train: TrainData,
    valid: TrainData,
    config: OptimConfig,
    *,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> TrainResult:
    """Fit ``net`` in place and return the history.

    Each epoch shuffles, runs mini-batches (the whole set at once for ``gd``) of loss +
    penalty → backward → clip → step, with Gaussian ``noise`` on the dense inputs, then
    evaluates on ``valid`` in one batch. What early stopping watches is ``config.monitor``
    (:func:`modelry.training.monitor.monitored`): by default the validation loss on a
    validation split under 1,000 rows, else the task's primary metric
    (:func:`modelry.training.metrics.primary_metric`); always the loss where the metric is
    undefined (a binary validation set holding one class).

    With ``config.early_stopping``, training stops after ``patience`` epochs without
    improvement and the best epoch's weights are restored; without it, all epochs run and
    the last weights are kept (``best_epoch`` is still reported).

    Regression targets are standardised for training; afterwards the scale is folded into
    the last layer, so the net outputs target units. The net is assumed fresh (or to output
    standardised values): fine-tuning a folded net is not supported.

    Raises:
        ConfigError: ``balance`` on regression, a loss that does not fit the task, or a
            non-finite loss (with a hint to lower the learning rate).
        DataError: empty splits or inputs that do not fit the net.
    """
    started = time.perf_counter()
    check_inputs(net, task, train, valid, config)
    loss_fn = make_loss(config.loss, task)
    tr, va, (y_mean, y_std), weight = as_tensors(task, train, valid, config)
    n = len(train)
    batch = config.batch_for(n)
    monitor = Monitor(net, task, loss_fn, va, valid.y, (y_mean, y_std), config, on_epoch)
    higher = monitor.higher
    threads = _threads_for(batch)

    with (
        _num_threads(threads),
        torch.random.fork_rng(devices=[]),
        flat_parameters(net) as flat,
    ):
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        optimizer = make_optimizer([flat.flat], config)
        scheduler = make_scheduler(
            optimizer, config, config.epochs, mode="max" if higher else "min"
        )
        loop = _EpochLoop(net, loss_fn, optimizer, flat, config)
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            idx = epoch_order(config, train.y, batch, gen)
            train_loss = loop.run(tr, weight, idx, batch)
            if monitor.end_epoch(epoch, train_loss, t0, scheduler):
                break
    return finish(net, task, monitor, (y_mean, y_std), started, threads)


def check_inputs(
    net: TabularNet, task: Task, train: TrainData, valid: TrainData, config: OptimConfig
) -> None:
    """What every training loop refuses: empty splits, balancing a regression, misfit inputs."""
    if len(train) == 0 or len(valid) == 0:
        raise DataError("training and validation sets must not be empty")
    if config.balance != "none" and task is Task.REGRESSION:
        raise ConfigError(
            f"balance={config.balance!r} needs a classification task", field="balance"
        )
    for name, split in (("training", train), ("validation", valid)):
        split.check_fits(net.n_dense, net.n_codes, net.n_outputs, task, name)


def as_tensors(
    task: Task, train: TrainData, valid: TrainData, config: OptimConfig
) -> tuple[SplitTensors, SplitTensors, tuple[float, float], Tensor | None]:
    """Both splits as tensors, a regression target standardised on the training rows,
    and the per-row loss weights (class-balanced when ``balance="weights"``)."""
    y_mean, y_std = 0.0, 1.0
    if task is Task.REGRESSION:
        y_mean = float(np.mean(train.y))
        std = float(np.std(train.y))
        y_std = std if math.isfinite(std) and std > 1e-12 else 1.0
    tr = to_tensors(train, task, y_mean, y_std)
    va = to_tensors(valid, task, y_mean, y_std)
    weight = balance_weights(train.y, tr.weight) if config.balance == "weights" else tr.weight
    return tr, va, (y_mean, y_std), weight


def finish(
    net: TabularNet,
    task: Task,
    monitor: Monitor,
    y_scale: tuple[float, float],
    started: float,
    threads: int,
    *,
    dp_epsilon: float | None = None,
    dp_delta: float | None = None,
    dp_noise_multiplier: float | None = None,
) -> TrainResult:
    """Restore the best weights, fold a regression target's scale in, and report."""
    monitor.restore_best()
    regression = task is Task.REGRESSION
    if regression:
        fold_target_scale(net, *y_scale)
    net.eval()
    return TrainResult(
        history=monitor.history,
        best_epoch=monitor.best_epoch,
        epochs_run=len(monitor.history),
        seconds=time.perf_counter() - started,
        stopped_early=monitor.stopped,
        metric=monitor.metric,
        higher_is_better=monitor.higher,
        y_mean=y_scale[0] if regression else None,
        y_std=y_scale[1] if regression else None,
        threads=threads,
        dp_epsilon=dp_epsilon,
        dp_delta=dp_delta,
        dp_noise_multiplier=dp_noise_multiplier,
    )


def predict_output(
    net: TabularNet,
    task: Task,
    dense: np.ndarray,
    codes: np.ndarray,
    batch: int = 65536,
) -> np.ndarray:
    """What the served model returns, computed with torch (no grad, eval mode).

    Returns:
        Binary: probability of the positive class ``[n]``. Multiclass: ``[n, K]``.
        Regression: values ``[n]`` (in target units after :func:`train`).
    """
    was_training = net.training
    net.eval()
    d = torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32))
    c = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.int64))
    parts: list[np.ndarray] = []
    try:
        with torch.inference_mode():
            for start in range(0, len(d), batch):
                raw = net(d[start : start + batch], c[start : start + batch])
                parts.append(served_output(task, raw, 0.0, 1.0))
    finally:
        net.train(was_training)
    if not parts:
        width = net.n_outputs if task is Task.MULTICLASS else 0
        return np.zeros((0, width) if width else (0,), dtype=np.float32)
    return np.concatenate(parts)


__all__ = [
    "EpochLog",
    "TrainData",
    "TrainResult",
    "predict_output",
    "seed_everything",
    "train",
]
