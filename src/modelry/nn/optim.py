"""Optimisers and learning-rate schedules, built from the optimisation knobs.

=============  ==============================================================
``gd``         plain SGD; the trainer feeds the whole training set as one batch
``sgd``        mini-batch SGD
``momentum``   SGD with heavy-ball momentum (``momentum``)
``nesterov``   SGD with Nesterov momentum
``adam``       Adam
``adamw``      Adam with decoupled weight decay
=============  ==============================================================

``weight_decay`` is passed to every optimiser: for the SGD family and Adam it is torch's
coupled L2 term, for AdamW the decoupled decay. The explicit ``l1``/``l2`` penalty of
:func:`modelry.nn.losses.penalty` is the knob that touches Linear weights only.

:class:`FlatParameters` lays a module's parameters out in one buffer for the optimiser.

Schedules step once per epoch through :class:`EpochScheduler`, which hides that
``ReduceLROnPlateau`` wants the validation metric and the others do not.

The knobs arrive as an :class:`OptimSpec`, a structural type that
:class:`modelry.training.config.OptimConfig` satisfies (``nn`` must not import ``training``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

import torch
from torch import Tensor, nn
from torch.optim import lr_scheduler

from modelry.errors import ConfigError

_FUSED_OK = {"adam", "adamw"}


class OptimSpec(Protocol):
    """The optimiser's knobs; :class:`modelry.training.config.OptimConfig` is one."""

    @property
    def optimizer(self) -> str: ...

    @property
    def lr(self) -> float: ...

    @property
    def momentum(self) -> float: ...

    @property
    def weight_decay(self) -> float: ...

    @property
    def schedule(self) -> str: ...


class FlatParameters:
    """A module's trainable parameters as views of one buffer, their grads of another.

    With every parameter a view, ``zero_grad``, gradient clipping and a fused optimiser
    step each touch one tensor instead of one per layer: at batch 32 that per-tensor
    overhead is a sizeable share of a CPU step. Optimise ``[flat]`` instead of the
    module's parameters; :meth:`release` undoes the sharing.
    """

    def __init__(self, module: nn.Module) -> None:
        self.params = [p for p in module.parameters() if p.requires_grad]
        if len({p.dtype for p in self.params}) > 1:
            raise ConfigError("cannot flatten parameters of mixed dtypes")
        self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in self.params]))
        self.flat.grad = torch.zeros_like(self.flat)
        offset = 0
        for p in self.params:
            k = p.numel()
            p.data = self.flat.data[offset : offset + k].view_as(p)
            # Autograd adds into an existing .grad in place, so backward writes straight
            # into the flat gradient.
            p.grad = self.flat.grad[offset : offset + k].view_as(p)
            offset += k

    def zero_grad(self) -> None:
        """Zero every parameter's gradient in one op."""
        assert self.flat.grad is not None
        self.flat.grad.zero_()

    def release(self) -> None:
        """Give every parameter its own storage again (safetensors refuses shared ones)."""
        for p in self.params:
            p.data = p.data.clone()
            p.grad = None


@contextmanager
def flat_parameters(module: nn.Module) -> Iterator[FlatParameters]:
    """Flatten ``module``'s parameters for the block's duration (see :class:`FlatParameters`)."""
    flat = FlatParameters(module)
    try:
        yield flat
    finally:
        flat.release()


def make_optimizer(params: Iterable[Tensor], config: OptimSpec) -> torch.optim.Optimizer:
    """The optimiser named by ``config.optimizer`` over ``params``.

    Raises:
        ConfigError: unknown optimiser name.
    """
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    plist = list(params)
    if name in ("gd", "sgd"):
        return torch.optim.SGD(plist, lr=lr, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(plist, lr=lr, momentum=config.momentum, weight_decay=wd)
    if name == "nesterov":
        if config.momentum <= 0:
            raise ConfigError("nesterov needs momentum > 0", field="momentum")
        return torch.optim.SGD(
            plist, lr=lr, momentum=config.momentum, nesterov=True, weight_decay=wd
        )
    if name in _FUSED_OK:
        # The fused kernel is one op per step instead of a dozen: with batch 32 the
        # optimiser's per-step overhead is a large share of the whole step on a CPU.
        fused = all(p.device.type == "cpu" and p.dtype == torch.float32 for p in plist)
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(plist, lr=lr, weight_decay=wd, fused=fused or None)
    raise ConfigError(f"unknown optimizer {name!r}", field="optimizer")


class EpochScheduler:
    """A learning-rate schedule stepped once per epoch with the monitored metric.

    Args:
        optimizer: The optimiser whose learning rate changes.
        schedule: ``none``, ``step``, ``cosine`` or ``plateau``.
        epochs: Planned number of epochs (sets the step interval and the cosine period).
        mode: Whether the monitored metric improves going down (``min``) or up (``max``);
            only ``plateau`` reads it.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: str,
        epochs: int,
        mode: Literal["min", "max"] = "min",
    ) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self._plateau: lr_scheduler.ReduceLROnPlateau | None = None
        self._epochwise: lr_scheduler.LRScheduler | None = None
        if schedule == "step":
            self._epochwise = lr_scheduler.StepLR(
                optimizer, step_size=max(1, epochs // 4), gamma=0.5
            )
        elif schedule == "cosine":
            self._epochwise = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
        elif schedule == "plateau":
            self._plateau = lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=mode, factor=0.5, patience=2
            )
        elif schedule != "none":
            raise ConfigError(f"unknown schedule {schedule!r}", field="schedule")

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group, now."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, metric: float) -> None:
        """Advance one epoch; ``metric`` is the validation value the epoch ended with."""
        if self._epochwise is not None:
            self._epochwise.step()
        elif self._plateau is not None:
            self._plateau.step(metric)


def make_scheduler(
    optimizer: torch.optim.Optimizer,
    config: OptimSpec,
    epochs: int,
    *,
    mode: Literal["min", "max"] = "min",
) -> EpochScheduler:
    """The schedule named by ``config.schedule`` (``step`` halves the rate every
    ``max(1, epochs // 4)`` epochs; ``cosine`` anneals over ``epochs``; ``plateau``
    halves it after 2 epochs without improvement of the metric, read in ``mode``)."""
    return EpochScheduler(optimizer, config.schedule, epochs, mode)
