"""A calibrated response model over HTTP: V1, V2, explanations and the targeting route all
serve the calibrated probability, never the network's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from servekit import INSTANCE, JOBS, serving, write_tables

from modelry.settings import Settings

pytestmark = pytest.mark.anyio

ROWS = [
    {**INSTANCE, "age": 20 + 7 * i, "job": JOBS[i % len(JOBS)], "balance": 300.0 * i}
    for i in range(8)
]


@pytest.fixture(scope="module")
def calibrated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``clients`` trained long and fast on 400 rows (over-confident), then calibrated."""
    from modelry.pipeline import train_model
    from modelry.training.config import TrainConfig

    home = tmp_path_factory.mktemp("calibrated")
    (home / "data").mkdir()
    write_tables(home / "data")  # the clients table of this folder's conftest
    config = {
        "name": "clients",
        "data": {"target": "target"},
        "serve": "network",
        "calibration": "isotonic",
        "training": {"epochs": 30, "lr": 0.05, "early_stopping": False, "seed": 0},
    }
    train_model(TrainConfig.from_dict(config), home / "data" / "clients.csv", Settings(home=home))
    return home


@pytest.fixture
async def client(calibrated_home: Path) -> Any:
    async with serving(Settings(home=calibrated_home)) as c:
        yield c


def _expected(home: Path) -> np.ndarray:
    from modelry.serving.kinds import open_runtime

    runtime: Any = open_runtime(home / "models" / "clients" / "1", "clients", 1)
    columns = {k: np.asarray([row[k] for row in ROWS]) for k in INSTANCE}
    encoded = runtime.preprocessor.transform(columns)
    network = runtime.raw_output(encoded.dense, encoded.codes)[:, 0]
    calibrated = runtime.network.calibration.apply(network)
    assert not np.allclose(calibrated, network, atol=1e-3)  # the map does something
    return np.asarray(calibrated)


async def test_v1_v2_explain_and_target_serve_the_calibrated_probability(
    client: httpx.AsyncClient, calibrated_home: Path
) -> None:
    expected = _expected(calibrated_home)
    v1 = await client.post("/v1/models/clients:predict", json={"instances": ROWS})
    assert v1.status_code == 200, v1.text
    scores = [p["score"] for p in v1.json()["predictions"]]
    assert scores == pytest.approx(expected.tolist(), abs=1e-6)
    v2_inputs = [
        {"name": k, "datatype": "FP64" if isinstance(INSTANCE[k], int | float) else "BYTES",
         "shape": [len(ROWS)], "data": [row[k] for row in ROWS]}
        for k in INSTANCE
    ]  # fmt: skip
    v2 = await client.post("/v2/models/clients/infer", json={"inputs": v2_inputs})
    assert v2.status_code == 200, v2.text
    outputs = {o["name"]: o["data"] for o in v2.json()["outputs"]}
    assert outputs["probability"] == pytest.approx(expected.tolist(), abs=1e-6)
    explained = await client.post("/v1/models/clients:explain", json={"instances": ROWS})
    assert explained.status_code == 200, explained.text
    for row, p in zip(explained.json()["explanations"], expected, strict=True):
        assert row["score"] == pytest.approx(float(p), abs=1e-4)
        total = sum(row["attributions"].values())
        assert total == pytest.approx(row["score"] - row["baseline_score"], abs=5e-3)
    body = {"instances": ROWS, "cost_per_contact": 5, "value_per_conversion": 60}
    target = await client.post("/v1/apps/marketing/clients:target", json=body)
    assert target.status_code == 200, target.text
    ranked = target.json()["ranked"]
    assert [c["score"] for c in ranked] == pytest.approx(sorted(expected, reverse=True), abs=1e-6)
