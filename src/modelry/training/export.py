"""The trained network as portable files: ONNX for serving, safetensors for the weights.

No pickle: ONNX is a protobuf graph, safetensors a flat tensor file. The exported
graph includes the output head (sigmoid or softmax), so the served model returns
probabilities directly.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from safetensors.torch import save as save_safetensors

from modelry.data.schema import Task
from modelry.errors import ArtifactError

OPSET = 17


class _Served(torch.nn.Module):
    """The network plus its output head, with the input signature the runtime feeds."""

    def __init__(self, net: torch.nn.Module, task: Task, uses_codes: bool) -> None:
        super().__init__()
        self.net = net
        self.task = task
        self.uses_codes = uses_codes

    def forward(self, dense: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        if codes is None:
            codes = torch.zeros((dense.shape[0], 0), dtype=torch.int64)
        out: torch.Tensor = self.net(dense, codes)
        if self.task is Task.BINARY:
            return torch.sigmoid(out)
        if self.task is Task.MULTICLASS:
            return torch.softmax(out, dim=1)
        return out


def to_onnx(net: torch.nn.Module, task: Task, n_dense: int, n_codes: int) -> bytes:
    """Export ``net`` with its head; inputs ``dense`` [n, d] (and ``codes`` [n, k] if k > 0)."""
    served = _Served(net, task, uses_codes=n_codes > 0).eval()
    dense = torch.zeros((2, n_dense), dtype=torch.float32)
    args: tuple[torch.Tensor, ...] = (dense,)
    names = ["dense"]
    axes: dict[str, dict[int, str]] = {"dense": {0: "n"}, "output": {0: "n"}}
    if n_codes:
        args = (dense, torch.zeros((2, n_codes), dtype=torch.int64))
        names.append("codes")
        axes["codes"] = {0: "n"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs
        # onnxscript; for a static MLP both produce the same graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            served,
            args,
            buffer,  # type: ignore[arg-type]  # a file object works; the stub says path
            input_names=names,
            output_names=["output"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def to_safetensors(net: torch.nn.Module) -> bytes:
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    data: bytes = save_safetensors(state)
    return data


def check_parity(expected: np.ndarray, actual: np.ndarray, tolerance: float = 1e-5) -> float:
    """Largest difference between torch and ONNX outputs, relative to the output's scale.

    Probabilities are compared absolutely; a regression target of 500 carries float32
    rounding of about 3e-5, so the gap is taken relative to ``max(1, |expected|)``.
    """
    reference = expected.astype(np.float64)
    gap = np.abs(reference - actual.astype(np.float64)) / np.maximum(1.0, np.abs(reference))
    worst = float(np.max(gap)) if gap.size else 0.0
    if not worst <= tolerance:
        raise ArtifactError(f"ONNX output differs from the trained network by {worst:.2e}")
    return worst
