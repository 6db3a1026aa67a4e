"""TabularNet: layout, outputs, the served head, scale folding and ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from modelry.data.schema import Task
from modelry.errors import ConfigError
from modelry.nn.modules import (
    ServingNet,
    TabularNet,
    fold_target_scale,
    n_outputs_for,
    output_head,
)
from modelry.training.config import ModelConfig


def _net(embeddings: list[tuple[int, int]], n_out: int = 1, **kw: object) -> TabularNet:
    torch.manual_seed(0)
    return TabularNet(4, embeddings, ModelConfig(**kw), n_out)  # type: ignore[arg-type]


def test_layer_layout() -> None:
    net = _net([(10, 3)], hidden=[8, 5], batch_norm=True, dropout=0.2, activation="gelu")
    kinds = [type(m).__name__ for m in net.mlp]
    assert kinds == [
        "Linear", "BatchNorm1d", "GELU", "Dropout",
        "Linear", "BatchNorm1d", "GELU", "Dropout",
        "Linear",
    ]  # fmt: skip
    assert net.mlp[0].in_features == 4 + 3
    plain = _net([], hidden=[8], dropout=0.0)
    assert [type(m).__name__ for m in plain.mlp] == ["Linear", "ReLU", "Linear"]
    linear = _net([], hidden=[])
    assert [type(m).__name__ for m in linear.mlp] == ["Linear"]


def test_forward_shapes_and_codes() -> None:
    net = _net([(10, 3), (4, 2)], n_out=3).eval()
    assert net.uses_codes
    out = net(torch.randn(6, 4), torch.randint(0, 4, (6, 2)))
    assert out.shape == (6, 3)
    with pytest.raises(ConfigError):
        net(torch.randn(6, 4))
    plain = _net([]).eval()
    assert not plain.uses_codes
    x = torch.randn(6, 4)
    empty = torch.zeros(6, 0, dtype=torch.int64)
    torch.testing.assert_close(plain(x, empty), plain(x))


def test_codes_only_network() -> None:
    torch.manual_seed(0)
    net = TabularNet(0, [(5, 2)], ModelConfig(hidden=[3]), 1)
    assert net(torch.zeros(2, 0), torch.tensor([[1], [4]])).shape == (2, 1)
    with pytest.raises(ConfigError):
        TabularNet(0, [], ModelConfig(), 1)


def test_output_heads() -> None:
    raw = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    torch.testing.assert_close(output_head(Task.MULTICLASS)(raw), torch.softmax(raw, dim=1))
    torch.testing.assert_close(output_head(Task.BINARY)(raw[:, :1]), torch.sigmoid(raw[:, :1]))
    torch.testing.assert_close(output_head(Task.REGRESSION)(raw), raw)
    assert n_outputs_for(Task.BINARY) == 1 and n_outputs_for(Task.MULTICLASS, 4) == 4
    with pytest.raises(ConfigError):
        n_outputs_for(Task.MULTICLASS, 1)


def test_fold_target_scale() -> None:
    net = _net([(5, 2)], hidden=[6], dropout=0.0).eval()
    x, c = torch.randn(5, 4), torch.randint(0, 5, (5, 1))
    before = net(x, c).detach()
    fold_target_scale(net, mean=100.0, std=7.5)
    torch.testing.assert_close(net(x, c).detach(), before * 7.5 + 100.0)
    assert isinstance(net.head, nn.Linear)


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript")
@pytest.mark.parametrize("embeddings", [[(10, 3)], []])
def test_onnx_export_matches_torch(tmp_path: Path, embeddings: list[tuple[int, int]]) -> None:
    ort = pytest.importorskip("onnxruntime")
    net = _net(embeddings, n_out=3, hidden=[8], batch_norm=True).eval()
    served = ServingNet(net, Task.MULTICLASS).eval()
    dense = torch.randn(5, 4)
    codes = torch.randint(0, 10, (5, len(embeddings)))
    path = tmp_path / "net.onnx"
    # The documented choice: a net that reads no codes is exported with one input.
    args = (dense, codes) if served.uses_codes else (dense,)
    names = ["dense", "codes"] if served.uses_codes else ["dense"]
    torch.onnx.export(
        served,
        args,
        str(path),
        input_names=names,
        output_names=["output"],
        dynamic_axes={name: {0: "n"} for name in [*names, "output"]},
        dynamo=False,
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == names
    big_dense = np.random.default_rng(0).normal(size=(9, 4)).astype(np.float32)
    big_codes = np.random.default_rng(1).integers(0, 10, size=(9, len(embeddings)))
    feed = {"dense": big_dense}
    if served.uses_codes:
        feed["codes"] = big_codes.astype(np.int64)
    got = sess.run(None, feed)[0]
    want = served(torch.from_numpy(big_dense), torch.from_numpy(big_codes)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
