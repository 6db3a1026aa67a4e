"""Differentially private training (DP-SGD, Opacus): the budget is kept and recorded in the
artifact, less ε means more noise, what cannot be private is refused, and the model serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_safetensors

from modelry.data.schema import Task
from modelry.errors import ConfigError, MissingExtraError
from modelry.nn.modules import TabularNet
from modelry.pipeline import TrainOutcome, train_model
from modelry.serving.tabular import TabularRuntime
from modelry.settings import Settings
from modelry.training.config import ModelConfig, OptimConfig, TrainConfig
from modelry.training.private import default_delta, train_private
from modelry.training.trainer import TrainData, seed_everything

pytest.importorskip("opacus")

EPSILON = 3.0


def _table(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    signal = 2.0 * x1 - 1.0 * x2 + 1.0 * (color == "red")
    target = np.where(signal + rng.logistic(size=n) * 0.5 > 0.3, "yes", "no")
    return {"x1": x1, "x2": x2, "color": color, "target": target}


def _write(table: dict[str, np.ndarray], path: Path) -> Path:
    rows = zip(*table.values(), strict=True)
    path.write_text("\n".join([",".join(table), *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> TrainOutcome:
    tmp = tmp_path_factory.mktemp("dp")
    raw = {
        "data": {"target": "target"},
        "model": {"hidden": [16]},
        "training": {
            "epochs": 6,
            "lr": 0.02,
            "batch_size": 64,
            "dp_epsilon": EPSILON,
            # Data-free additions: applied after the noise, they cost no privacy.
            "l2": 1e-4,
            "clip_norm": 5.0,
        },
    }
    data = _write(_table(1500, seed=0), tmp / "train.csv")
    return train_model(TrainConfig.from_dict(raw), data, Settings(home=tmp / "home"))


def test_a_private_run_learns_and_records_the_epsilon_it_spent(private: TrainOutcome) -> None:
    auc = private.metrics["test"]["roc_auc"]
    assert auc is not None and auc > 0.75
    metrics = json.loads((private.artifact / "metrics.json").read_text())
    doc, n_train = metrics["privacy"], metrics["rows"]["train"]
    assert doc["mechanism"] == "DP-SGD (Opacus)"
    assert doc["dp_epsilon_target"] == EPSILON
    assert 0 < doc["dp_epsilon_spent"] <= EPSILON * 1.01
    assert doc["dp_delta"] == default_delta(n_train) == 1 / n_train**2
    assert doc["max_grad_norm"] == 1.0 and doc["noise_multiplier"] > 0
    card = json.loads((private.artifact / "card.json").read_text())
    assert card["privacy"]["differential_privacy"]["dp_epsilon_spent"] == doc["dp_epsilon_spent"]
    markdown = (private.artifact / "card.md").read_text()
    assert f"ε = {doc['dp_epsilon_spent']:.4f} spent" in markdown


def test_the_private_artifact_serves_what_torch_computes(private: TrainOutcome) -> None:
    runtime = TabularRuntime(private.artifact, name=private.name, version=private.version)
    runtime.load()
    network = json.loads((private.artifact / "network.json").read_text())
    net = TabularNet(
        network["n_dense"],
        [tuple(e) for e in network["embeddings"]],
        ModelConfig.model_validate(network["model"]),
        network["n_outputs"],
    )
    net.load_state_dict(load_safetensors((private.artifact / "weights.safetensors").read_bytes()))
    net.eval()
    table = _table(200, seed=9)
    columns = {
        "x1": table["x1"].astype(float),
        "x2": table["x2"].astype(float),
        "color": table["color"].astype(object),
    }
    assert runtime.preprocessor is not None
    encoded = runtime.preprocessor.transform(columns)
    with torch.no_grad():
        raw = net(torch.from_numpy(encoded.dense), torch.from_numpy(encoded.codes))
    expected = torch.sigmoid(raw)[:, 0].numpy()
    np.testing.assert_allclose(runtime.scores(columns), expected, atol=1e-5, rtol=0)


def _arrays(n: int = 400) -> tuple[TrainData, TrainData]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    codes = np.zeros((n, 0), np.int64)
    return TrainData(X[:300], codes[:300], y[:300]), TrainData(X[300:], codes[300:], y[300:])


def test_a_smaller_epsilon_buys_more_noise_and_the_net_comes_back_plain() -> None:
    tr, va = _arrays()
    sigmas = {}
    for epsilon in (0.5, 4.0):
        seed_everything(0)
        net = TabularNet(3, [], ModelConfig(hidden=[8]), 1)
        cfg = OptimConfig(dp_epsilon=epsilon, epochs=2, batch_size=50, early_stopping=False)
        result = train_private(net, Task.BINARY, tr, va, cfg)
        assert result.dp_epsilon is not None and result.dp_epsilon <= epsilon * 1.01
        assert result.dp_noise_multiplier is not None
        sigmas[epsilon] = result.dp_noise_multiplier
        assert type(net) is TabularNet and not net.training
        assert all(not hasattr(p, "grad_sample") and p.grad is None for p in net.parameters())
        assert not net._forward_hooks and not any(m._forward_hooks for m in net.modules())
    assert sigmas[0.5] > 2 * sigmas[4.0]


def test_batch_norm_with_dp_is_a_one_line_cli_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "train", str(tmp_path / "never-read.csv"), "--target", "y", "--batch-norm",
        "--dp-epsilon", "1", home=tmp_path / "home",
    )  # fmt: skip
    assert result.code != 0
    assert result.err.strip() == (
        "error: --batch-norm cannot be combined with --dp-epsilon (batch statistics mix rows, "
        "which per-row gradient clipping cannot bound)"
    )


def test_what_dp_sgd_cannot_protect_is_refused() -> None:
    with pytest.raises(ConfigError, match="oversample"):
        TrainConfig.from_dict({"training": {"dp_epsilon": 1, "balance": "oversample"}})
    with pytest.raises(ConfigError, match="greater than 0"):
        TrainConfig.from_dict({"training": {"dp_epsilon": 0}})
    tr, va = _arrays()
    net = TabularNet(3, [], ModelConfig(hidden=[4], batch_norm=True), 1)
    with pytest.raises(ConfigError, match="--batch-norm"):
        train_private(net, Task.BINARY, tr, va, OptimConfig(dp_epsilon=1.0))


def test_without_opacus_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opacus", None)
    tr, va = _arrays()
    net = TabularNet(3, [], ModelConfig(hidden=[4]), 1)
    with pytest.raises(MissingExtraError, match=r"modelry\[privacy\]"):
        train_private(net, Task.BINARY, tr, va, OptimConfig(dp_epsilon=1.0))
