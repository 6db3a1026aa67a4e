"""What a version serves: the network, or the linear baseline when it is better beyond noise.

Two tables decide it both ways: one a linear model describes exactly, on which a barely
trained network must lose (small table: 5-fold out-of-fold comparison), and one with an
interaction no linear model can represent (validation comparison). The baseline, once served,
is a model like any other: V1, V2 and explanations whose attributions add up.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from modelry.api.app import create_app
from modelry.errors import ConfigError
from modelry.pipeline import train_model
from modelry.settings import Settings
from modelry.training.config import TrainConfig


def _table(path: Path, n: int, *, interaction: bool, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    if interaction:  # exclusive or: a linear model cannot do better than chance
        label = (x1 > 0) ^ (x2 > 0)
    else:
        label = x1 + x2 + (colour == "red") + rng.logistic(size=n) * 0.3 > 0.3
    target = np.where(label, "yes", "no")
    lines = ["x1,x2,colour,target"] + [
        f"{a:.4f},{b:.4f},{c},{t}" for a, b, c, t in zip(x1, x2, colour, target, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(name: str, **training: object) -> TrainConfig:
    return TrainConfig.from_dict(
        {"name": name, "data": {"target": "target"}, "training": {"seed": 0, **training}}
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("choice")


def test_the_baseline_is_served_when_the_network_is_worse(home: Path) -> None:
    table = _table(home / "linear.csv", 300, interaction=False)
    # One epoch at a tiny learning rate: a network that has learnt next to nothing.
    config = _config("linear", epochs=1, lr=1e-6)
    outcome = train_model(config, table, Settings(home=home))
    assert outcome.served == "baseline", outcome.selection
    selection = outcome.selection
    assert selection["method"] == "5-fold" and selection["rows"] == 255  # train + valid
    assert selection["baseline"] - selection["network"] > 2 * selection["noise"]
    assert outcome.metrics["test"] == outcome.baseline["test"]  # the served model's figures
    assert outcome.network["test"]["roc_auc"] < outcome.metrics["test"]["roc_auc"]
    manifest = json.loads((outcome.artifact / "manifest.json").read_text())
    assert manifest["kind"] == "linear"
    metrics = json.loads((outcome.artifact / "metrics.json").read_text())
    assert metrics["served"] == "baseline" and metrics["network"] == outcome.network
    card = (outcome.artifact / "card.md").read_text()
    assert "Served model: **the baseline**" in card and "beats the network" in card
    forced = train_model(config.model_copy(update={"serve": "network"}), table, Settings(home=home))
    assert forced.served == "network" and "as asked" in forced.selection["reason"]


@pytest.mark.anyio
async def test_the_served_baseline_answers_and_explains(home: Path) -> None:
    app = create_app(Settings(home=home), ["linear"])
    instance = {"x1": 1.2, "x2": -0.3, "colour": "red"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            meta = (await client.get("/v2/models/linear/versions/1")).json()
            assert meta["parameters"]["kind"] == "linear"
            v1 = await client.post(
                "/v1/models/linear/versions/1:predict", json={"instances": [instance]}
            )
            assert v1.status_code == 200 and v1.json()["predictions"][0]["label"] in ("yes", "no")
            v2 = await client.post(
                "/v2/models/linear/versions/1/infer",
                json={
                    "inputs": [
                        {"name": k, "datatype": "BYTES" if k == "colour" else "FP64",
                         "shape": [1], "data": [v]}
                        for k, v in instance.items()
                    ]
                },
            )  # fmt: skip
            assert v2.status_code == 200, v2.text
            probability = v2.json()["outputs"][1]["data"][0]
            assert probability == pytest.approx(v1.json()["predictions"][0]["score"], abs=1e-6)
            explained = await client.post(
                "/v1/models/linear/versions/1:explain", json={"instances": [instance]}
            )
            [e] = explained.json()["explanations"]
            gap = sum(e["attributions"].values()) - (e["score"] - e["baseline_score"])
            assert abs(gap) < 1e-3 and set(e["attributions"]) == set(instance)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_network_is_served_when_the_baseline_cannot_follow(home: Path) -> None:
    table = _table(home / "xor.csv", 2400, interaction=True)
    outcome = train_model(_config("xor", epochs=30), table, Settings(home=home))
    assert outcome.served == "network", outcome.selection
    assert outcome.selection["method"] == "validation"
    assert outcome.metrics == outcome.network
    assert outcome.network["test"]["roc_auc"] > outcome.baseline["test"]["roc_auc"] + 0.2
    manifest = json.loads((outcome.artifact / "manifest.json").read_text())
    assert manifest["kind"] == "tabular"


def test_the_baseline_cannot_be_forced_under_differential_privacy(home: Path) -> None:
    table = _table(home / "dp.csv", 300, interaction=False)
    config = _config("dp", epochs=1, dp_epsilon=1.0).model_copy(update={"serve": "baseline"})
    with pytest.raises(ConfigError, match="not trained with differential privacy"):
        train_model(config, table, Settings(home=home))


def test_a_chronological_drift_is_reported(home: Path) -> None:
    from modelry.data.drift import target_drift
    from modelry.data.schema import Task

    rng = np.random.default_rng(5)
    n = 1000
    x = rng.normal(size=n)
    rate = np.where(np.arange(n) < 700, 0.06, 0.3)  # the latest rows convert far more often
    target = np.where(rng.random(n) < rate, "yes", "no")
    table = home / "drift.csv"
    rows = "\n".join(f"{a:.4f},{t}" for a, t in zip(x, target, strict=True))
    table.write_text(f"x,target\n{rows}\n")
    data = {"target": "target", "time_order": True}
    config = TrainConfig.from_dict({"name": "drift", "data": data, "training": {"epochs": 2}})
    outcome = train_model(config, table, Settings(home=home))
    drift = outcome.target_drift
    assert drift is not None and drift["drifted"] and drift["statistic"] == "positive_rate"
    assert drift["by_split"]["test"] > 3 * drift["by_split"]["train"]
    message = next(w for w in outcome.warnings if "drifts over time" in w)
    assert "--recency-half-life" in message
    card = (outcome.artifact / "card.md").read_text()
    assert "Positive rate by split: train 0.0" in card and "(drifted)" in card
    # a random split of the same rows: no drift, no warning
    mixed = target_drift(
        Task.BINARY,
        (target == "yes").astype(int),
        {"train": np.arange(0, n, 2), "test": np.arange(1, n, 2)},
    )
    assert not mixed.drifted and mixed.message == ""
