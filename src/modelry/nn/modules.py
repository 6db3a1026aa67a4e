"""The network modelry trains: embeddings for code columns, then a multilayer perceptron.

:class:`TabularNet` maps the preprocessed inputs (a float32 ``dense`` matrix and an int64
``codes`` matrix, one column per categorical feature with a learned embedding) to raw
outputs: logits for classification, values for regression. :func:`output_head` turns raw
outputs into what is served, and :class:`ServingNet` glues the two for ONNX export.

Export signature: a net with embeddings takes ``(dense, codes)``. A net without any
(``uses_codes`` is False) ignores ``codes`` entirely, so its ``forward`` accepts ``None``
for it, and the exporter should trace it with the one input ``(dense,)``. Tracing it
with a zero-width ``codes`` as well gains nothing: the legacy exporter drops an input
the graph never reads, so the ONNX model has the single ``dense`` input either way.

The model knobs arrive as a :class:`ModelSpec`, a structural type that
:class:`modelry.training.config.ModelConfig` satisfies: ``nn`` sits below ``training``
in the layer order and must not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor, nn

from modelry.data.schema import Task
from modelry.errors import ConfigError

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


class ModelSpec(Protocol):
    """The network's knobs; :class:`modelry.training.config.ModelConfig` is one."""

    @property
    def hidden(self) -> list[int]: ...

    @property
    def activation(self) -> str: ...

    @property
    def dropout(self) -> float: ...

    @property
    def batch_norm(self) -> bool: ...


def n_outputs_for(task: Task, n_classes: int = 2) -> int:
    """Width of the network's last layer for ``task``: one logit for binary, K for multiclass."""
    if task is Task.MULTICLASS:
        if n_classes < 2:
            raise ConfigError(f"a multiclass task needs at least 2 classes, got {n_classes}")
        return n_classes
    return 1


class TabularNet(nn.Module):
    """Embeddings for code columns, concatenated with the dense inputs, then an MLP.

    Each hidden width becomes ``Linear → [BatchNorm1d] → activation → [Dropout]``; a
    final ``Linear`` produces ``n_outputs`` raw values. ``hidden=[]`` is a linear model.

    Args:
        n_dense: Number of dense (float) input columns.
        embeddings: ``(cardinality, dim)`` per code column, in column order.
        config: The network's knobs.
        n_outputs: Width of the head (see :func:`n_outputs_for`).

    Example:
        >>> from modelry.training.config import ModelConfig
        >>> net = TabularNet(3, [(5, 2)], ModelConfig(hidden=[4]), 1)
        >>> net(torch.zeros(2, 3), torch.zeros(2, 1, dtype=torch.int64)).shape
        torch.Size([2, 1])
    """

    def __init__(
        self,
        n_dense: int,
        embeddings: Sequence[tuple[int, int]],
        config: ModelSpec,
        n_outputs: int,
    ) -> None:
        super().__init__()
        if n_dense < 0 or n_outputs < 1:
            raise ConfigError(f"bad network shape: n_dense={n_dense}, n_outputs={n_outputs}")
        if config.activation not in _ACTIVATIONS:
            raise ConfigError(f"unknown activation {config.activation!r}", field="activation")
        for cardinality, dim in embeddings:
            if cardinality < 1 or dim < 1:
                raise ConfigError(f"bad embedding (cardinality={cardinality}, dim={dim})")
        self.n_dense = n_dense
        self.n_codes = len(embeddings)
        self.n_outputs = n_outputs
        self.embeddings = nn.ModuleList(nn.Embedding(c, d) for c, d in embeddings)
        width = n_dense + sum(d for _, d in embeddings)
        if width == 0:
            raise ConfigError("the network has no inputs (no dense columns, no embeddings)")
        layers: list[nn.Module] = []
        for size in config.hidden:
            layers.append(nn.Linear(width, size))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(_ACTIVATIONS[config.activation]())
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.mlp = nn.Sequential(*layers)

    @property
    def uses_codes(self) -> bool:
        """Whether ``forward`` reads ``codes``; when False, export with ``dense`` alone."""
        return self.n_codes > 0

    @property
    def head(self) -> nn.Linear:
        """The last Linear layer (the one regression scale folding rewrites)."""
        last = self.mlp[-1]
        assert isinstance(last, nn.Linear)
        return last

    def forward(self, dense: Tensor, codes: Tensor | None = None) -> Tensor:
        """Raw outputs ``[n, n_outputs]``: logits for classification, values for regression.

        Args:
            dense: float32 ``[n, n_dense]``.
            codes: int64 ``[n, n_codes]``; may be ``None`` when ``uses_codes`` is False.
        """
        if self.n_codes == 0:
            return self.mlp(dense)  # type: ignore[no-any-return]
        if codes is None:
            raise ConfigError("this network has embeddings and needs the codes input")
        parts = [emb(codes[:, i]) for i, emb in enumerate(self.embeddings)]
        if self.n_dense:
            parts.insert(0, dense)
        return self.mlp(torch.cat(parts, dim=1))  # type: ignore[no-any-return]


def output_head(task: Task) -> nn.Module:
    """The module turning raw outputs into served values.

    Binary → sigmoid ``[n, 1]`` (probability of the positive class), multiclass →
    softmax ``[n, K]``, regression → identity (values, in target units once the trainer
    has folded the target scale into the last layer).
    """
    if task is Task.BINARY:
        return nn.Sigmoid()
    if task is Task.MULTICLASS:
        return nn.Softmax(dim=1)
    return nn.Identity()


class ServingNet(nn.Module):
    """A trained :class:`TabularNet` followed by its :func:`output_head`: what ONNX serves."""

    def __init__(self, net: TabularNet, task: Task) -> None:
        super().__init__()
        self.net = net
        self.out = output_head(task)

    @property
    def uses_codes(self) -> bool:
        """See :attr:`TabularNet.uses_codes`."""
        return self.net.uses_codes

    def forward(self, dense: Tensor, codes: Tensor | None = None) -> Tensor:
        """Served outputs: probabilities ``[n, 1]`` / ``[n, K]`` or values ``[n, 1]``."""
        return self.out(self.net(dense, codes))  # type: ignore[no-any-return]


@torch.no_grad()
def fold_target_scale(net: TabularNet, mean: float, std: float) -> None:
    """Rewrite the last layer so a net trained on ``(y - mean) / std`` outputs ``y``'s units.

    ``W' = W·std`` and ``b' = b·std + mean``: afterwards the exported graph needs no
    de-standardisation step, so serving stays a single ONNX call.
    """
    head = net.head
    head.weight.mul_(std)
    head.bias.mul_(std).add_(mean)
