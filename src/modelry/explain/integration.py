"""Integrated Gradients along a straight path, split where the network bends.

IG integrates the gradient along the line from a baseline to the input. A ReLU
network is piecewise affine: along that line its gradient jumps wherever a hidden
unit switches on or off, and a quadrature rule across a jump converges only as
``1/steps`` (about 200 Gauss–Legendre steps for a 1e-3 gap on a probability, over 1000
on a regression value). The line is therefore cut at every such switch, found exactly
layer by layer: between two cuts every pre-activation is affine in the path
parameter, so its zero is one division away. On each piece the integrand is smooth
(constant for a regression value, a sigmoid or softmax of an affine function
otherwise), and a few Gauss–Legendre nodes integrate it to near float64 precision.

IG is additive along a path, so Captum runs once over all pieces of all rows (each
piece a row with its own baseline: the piece's start) and the pieces' attributions
and convergence deltas are summed back per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor, nn

KINKED = frozenset({"ReLU", "LeakyReLU"})
"""Activations whose derivative jumps at zero (smooth ones need no cuts)."""


def kinks(mlp: nn.Sequential) -> list[int]:
    """Positions in ``mlp`` of the activations whose inputs must not cross zero within a piece."""
    return [i for i, module in enumerate(mlp) if type(module).__name__ in KINKED]


def cuts(mlp: nn.Sequential, start: Tensor, end: Tensor, positions: list[int]) -> Tensor:
    """Sorted path parameters in ``[0, 1]`` (ends included) where some unit switches.

    Args:
        mlp: The layers the path goes through.
        start: The baseline ``[W]``; ``end``: the input ``[W]``.
        positions: :func:`kinks` of ``mlp``.
    """
    import torch

    t = torch.tensor([0.0, 1.0], dtype=start.dtype)
    step = end - start
    for position in positions:
        z = mlp[:position](start + t[:, None] * step)  # pre-activations at the cuts so far
        before, after = z[:-1], z[1:]
        crossing = before * after < 0
        if not bool(crossing.any()):
            continue
        share = before / torch.where(crossing, before - after, torch.ones_like(before))
        width = (t[1:] - t[:-1])[:, None]
        t = torch.unique(torch.cat((t, (t[:-1, None] + share * width)[crossing])))
    return t


def integrate(
    forward: Callable[[Tensor], Tensor],
    mlp: nn.Sequential,
    inputs: Tensor,
    baseline: Tensor,
    targets: Tensor,
    *,
    steps: int,
    tolerance: float,
    max_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """IG of ``forward``'s ``targets`` output at ``inputs`` ``[n, W]`` from ``baseline`` ``[1, W]``.

    Args:
        forward: Served outputs of the network's input layer.
        mlp: The layers inside ``forward`` whose kinks cut the path.
        steps: Gauss–Legendre nodes per piece to start with.
        tolerance: Rows whose completeness gap exceeds it are redone with 4× the nodes.
        max_steps: Nodes per piece not to go beyond.

    Returns:
        Attributions ``[n, W]`` and Captum's convergence delta per row ``[n]``.
    """
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(forward)
    positions = kinks(mlp)
    pieces = [cuts(mlp, baseline[0], row, positions) for row in inputs]
    attributions, gaps = _attribute(
        ig, inputs, baseline[0], targets, pieces, range(len(inputs)), steps
    )
    while steps < max_steps:
        redo = np.flatnonzero(np.abs(gaps) > tolerance)
        if not len(redo):
            break
        steps = min(max_steps, steps * 4)
        again, again_gaps = _attribute(ig, inputs, baseline[0], targets, pieces, redo, steps)
        attributions[redo] = again
        gaps[redo] = again_gaps
    return attributions, gaps


def _attribute(
    ig: Any,
    inputs: Tensor,
    baseline: Tensor,
    targets: Tensor,
    pieces: list[Tensor],
    rows: Any,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One Captum call over every piece of ``rows``; results summed back per row."""
    import torch

    starts, ends, owners = [], [], []
    for k, row in enumerate(rows):
        t = pieces[row][:, None]
        points = baseline + t * (inputs[row] - baseline)
        starts.append(points[:-1])
        ends.append(points[1:])
        owners.append(torch.full((len(t) - 1,), k, dtype=torch.int64))
    owner = torch.cat(owners)
    attributions, delta = ig.attribute(
        torch.cat(ends),
        baselines=torch.cat(starts),
        target=targets[torch.as_tensor(np.asarray(rows), dtype=torch.int64)][owner],
        n_steps=steps,
        method="gausslegendre",
        return_convergence_delta=True,
    )
    n = len(owners)
    total = torch.zeros((n, inputs.shape[1]), dtype=inputs.dtype).index_add_(
        0, owner, attributions.detach()
    )
    gaps = torch.zeros(n, dtype=inputs.dtype).index_add_(0, owner, delta.detach().reshape(-1))
    return total.numpy(), gaps.numpy()
