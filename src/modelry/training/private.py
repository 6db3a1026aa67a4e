"""Differentially private training: DP-SGD with Opacus, to a privacy budget ε.

:func:`train_private` is :func:`modelry.training.trainer.train` with each optimiser step
made (ε, δ)-differentially private with respect to the training rows: batches are drawn by
Poisson sampling (each row joins each step with probability batch/n), every row's gradient
is clipped to ``dp_max_grad_norm``, and Gaussian noise of standard deviation
σ·``dp_max_grad_norm`` is added to their sum before the configured optimiser sees it. σ is
chosen so that ``epochs`` epochs spend exactly ``dp_epsilon`` (RDP accountant: fast, and
its ε is an upper bound); the ε reported is what the steps actually run spent.

What the guarantee covers, and what it does not:

* It covers the network's weights. Early stopping selects an epoch on the *validation*
  rows, which are not protected but cost the training rows nothing; since that choice
  looks at every epoch run, the ε reported is that of all steps run, not of the best epoch.
* It does not cover what is computed from the training rows outside DP-SGD: the fitted
  preprocessing (numeric means and scales, category vocabularies), class-balancing weights,
  the regression target's mean and scale, and the baseline model's metrics.
* Noise comes from torch's pseudo-random generator (Opacus' ``secure_mode`` is off): fine
  for modelling, not a guarantee against an adversary who can exploit floating point.

The L1/L2 penalty does not read the data, so it costs no privacy: its gradient is added
after clipping and noise, and ``clip_norm`` (if set) clips the noised gradient. Batch
normalisation mixes rows within a batch and is refused, as is ``balance="oversample"``
(not uniform sampling). Opacus comes with the ``privacy`` extra and is imported here only.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from modelry.data.schema import Task
from modelry.errors import ConfigError, MissingExtraError
from modelry.nn.losses import make_loss, penalised_weights, penalty
from modelry.nn.modules import TabularNet
from modelry.nn.optim import make_optimizer, make_scheduler
from modelry.training.config import OptimConfig
from modelry.training.monitor import EpochLog, Monitor
from modelry.training.sampling import TrainData
from modelry.training.trainer import (
    TrainResult,
    _num_threads,
    _threads_for,
    as_tensors,
    check_inputs,
    finish,
)

MECHANISM = "DP-SGD (Opacus)"
ACCOUNTANT = "rdp"

# Opacus warns that secure_mode is off (see above), at large ε that its RDP orders could be
# widened, and torch that the per-row hooks fire on a layer whose inputs need no gradient
# (the first): none of it is news here. Filtered once, narrowly, rather than inside a
# catch_warnings block, which is process-wide state that the baseline fitting meanwhile on
# another thread (sklearn enters catch_warnings too) would restore under our feet.
for _message, _module in (
    ("Secure RNG turned off", r"opacus\."),
    ("Optimal order is the largest alpha", r"opacus\."),
    ("Full backward hook is firing", __name__),
):
    warnings.filterwarnings("ignore", message=_message, module=_module)


def default_delta(n_train: int) -> float:
    """δ when none is given: ``min(1e-5, 1/n²)``, far below the 1/n that would let one row leak."""
    return min(1e-5, 1.0 / max(n_train, 1) ** 2)


class _Rows(Dataset[tuple[Tensor, ...]]):
    """Tensors read a batch at a time (``__getitems__``): one gather per batch, not per row."""

    def __init__(self, *tensors: Tensor) -> None:
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i: int) -> tuple[Tensor, ...]:
        return tuple(t[i] for t in self.tensors)

    def __getitems__(self, rows: list[int]) -> tuple[Tensor, ...]:
        idx = torch.as_tensor(rows, dtype=torch.int64)
        return tuple(t[idx] for t in self.tensors)


def _as_batch(batch: Any) -> Any:
    return batch  # already a batch: _Rows.__getitems__ gathered it


def _opacus() -> Any:
    try:
        from opacus import PrivacyEngine
    except ImportError as exc:
        raise MissingExtraError("opacus", "privacy") from exc
    return PrivacyEngine


def _check(
    net: TabularNet, task: Task, train: TrainData, valid: TrainData, cfg: OptimConfig
) -> None:
    check_inputs(net, task, train, valid, cfg)
    if cfg.dp_epsilon is None:
        raise ConfigError("train_private needs dp_epsilon", field="dp_epsilon")
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
        raise ConfigError(
            "--batch-norm cannot be combined with --dp-epsilon", field="model.batch_norm"
        )
    if cfg.balance == "oversample":
        raise ConfigError(
            "--balance oversample cannot be combined with --dp-epsilon; use --balance weights",
            field="balance",
        )


def train_private(
    net: TabularNet,
    task: Task,
    train: TrainData,
    valid: TrainData,
    config: OptimConfig,
    *,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> TrainResult:
    """Fit ``net`` in place with DP-SGD to the budget ``config.dp_epsilon``; see the module.

    Same contract as :func:`modelry.training.trainer.train` (history, early stopping with
    the best weights restored, regression scale folded, deterministic for a seed); the
    result also carries ``dp_epsilon`` (spent), ``dp_delta`` and ``dp_noise_multiplier``.
    Afterwards ``net`` is a plain :class:`TabularNet` again, free of Opacus hooks.

    Raises:
        ConfigError: no ``dp_epsilon``, batch normalisation, ``balance="oversample"``, or
            the reasons :func:`~modelry.training.trainer.train` has.
        DataError: empty splits or inputs that do not fit the net.
        MissingExtraError: Opacus is not installed (``pip install 'modelry[privacy]'``).
    """
    started = time.perf_counter()
    _check(net, task, train, valid, config)
    assert config.dp_epsilon is not None
    privacy_engine_cls = _opacus()
    loss_fn = make_loss(config.loss, task)
    tr, va, (y_mean, y_std), weight = as_tensors(task, train, valid, config)
    n = len(train)
    tensors = (tr.dense, tr.codes, tr.y) if weight is None else (tr.dense, tr.codes, tr.y, weight)
    batch = config.batch_for(n)
    delta = config.dp_delta if config.dp_delta is not None else default_delta(n)
    monitor = Monitor(net, task, loss_fn, va, valid.y, (y_mean, y_std), config, on_epoch)
    higher = monitor.higher
    threads = _threads_for(batch)
    weights = penalised_weights(net)
    penalise = config.l1 > 0 or config.l2 > 0

    with _num_threads(threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # Poisson sampling, noise, dropout: all from here
        engine = privacy_engine_cls(accountant=ACCOUNTANT)
        loader = DataLoader(_Rows(*tensors), batch_size=batch, collate_fn=_as_batch)
        try:
            model, optimizer, loader = engine.make_private_with_epsilon(
                module=net,
                optimizer=make_optimizer(net.parameters(), config),
                data_loader=loader,
                target_epsilon=config.dp_epsilon,
                target_delta=delta,
                epochs=config.epochs,
                max_grad_norm=config.dp_max_grad_norm,
            )
        except ValueError as exc:  # e.g. no σ reaches so small an ε
            raise ConfigError(f"DP-SGD: {exc}", field="dp_epsilon") from exc
        base = optimizer.original_optimizer
        scheduler = make_scheduler(base, config, config.epochs, mode="max" if higher else "min")
        try:
            for epoch in range(1, config.epochs + 1):
                t0 = time.perf_counter()
                model.train()
                total, rows = 0.0, 0
                for xb, cb, yb, *wb in loader:
                    if config.noise > 0:
                        xb = xb + config.noise * torch.randn_like(xb)
                    optimizer.zero_grad(set_to_none=True)
                    # An empty Poisson batch still takes its (pure-noise) step: the
                    # accountant counts every step.
                    loss = loss_fn(model(xb, cb), yb, wb[0] if wb else None)
                    loss.backward()
                    if optimizer.pre_step():  # clip per row, add noise, count the step
                        _data_free_grads(net, weights, config, penalise)
                        base.step()
                    if len(yb):
                        total += float(loss.detach()) * len(yb)
                        rows += len(yb)
                train_loss = total / max(rows, 1)
                if penalise:
                    train_loss += float(penalty(net, config.l1, config.l2).detach())
                if monitor.end_epoch(epoch, train_loss, t0, scheduler):
                    break
        finally:
            model.to_standard_module()  # hooks and per-sample grads off the plain net
        spent = float(engine.get_epsilon(delta))
        sigma = float(optimizer.noise_multiplier)
    for p in net.parameters():
        p.grad = None
    return finish(
        net,
        task,
        monitor,
        (y_mean, y_std),
        started,
        threads,
        dp_epsilon=spent,
        dp_delta=delta,
        dp_noise_multiplier=sigma,
    )


def _data_free_grads(
    net: TabularNet, weights: list[Tensor], config: OptimConfig, penalise: bool
) -> None:
    """After noise: add the penalty's gradient, then clip; neither reads a row."""
    if penalise:
        grads = torch.autograd.grad(penalty(net, config.l1, config.l2), weights)
        for w, g in zip(weights, grads, strict=True):
            if w.grad is not None:
                w.grad.add_(g)
    if config.clip_norm is not None:
        nn.utils.clip_grad_norm_(
            [p for p in net.parameters() if p.grad is not None], config.clip_norm
        )


def privacy_record(result: TrainResult, config: OptimConfig) -> dict[str, Any] | None:
    """``metrics.json["privacy"]`` (and the card's): None unless trained with DP."""
    if config.dp_epsilon is None or result.dp_epsilon is None:
        return None
    return {
        "mechanism": MECHANISM,
        "accountant": ACCOUNTANT,
        "dp_epsilon_target": config.dp_epsilon,
        "dp_epsilon_spent": round(result.dp_epsilon, 4),
        "dp_delta": result.dp_delta,
        "max_grad_norm": config.dp_max_grad_norm,
        "noise_multiplier": result.dp_noise_multiplier,
        "epochs_run": result.epochs_run,
    }


__all__ = ["MECHANISM", "default_delta", "privacy_record", "train_private"]
