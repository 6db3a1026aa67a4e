"""Open Inference Protocol v2 in process: health, metadata, inference, repository."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
from servekit import INSTANCE, binary_infer_request

pytestmark = pytest.mark.anyio


def tensors(
    rows: list[dict[str, Any]] | None = None, *, nested: bool = False
) -> list[dict[str, Any]]:
    rows = rows or [INSTANCE]
    out = []
    for name in INSTANCE:
        values = [r[name] for r in rows]
        datatype = "BYTES" if isinstance(values[0], str) else "FP64"
        shape = [len(values), 1] if nested else [len(values)]
        data = [[v] for v in values] if nested else values
        out.append({"name": name, "datatype": datatype, "shape": shape, "data": data})
    return out


async def v1_scores(client: httpx.AsyncClient, model: str, rows: list[dict[str, Any]]) -> list[Any]:
    r = await client.post(f"/v1/models/{model}:predict", json={"instances": rows})
    return [p["score"] for p in r.json()["predictions"]]


async def test_health_and_server_metadata(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/health/live")).json() == {"live": True}
    assert (await client.get("/v2/health/ready")).json() == {"ready": True}
    meta = (await client.get("/v2")).json()
    assert meta["name"] == "modelry" and "binary_tensor_data" in meta["extensions"]


async def test_model_metadata(client: httpx.AsyncClient) -> None:
    meta = (await client.get("/v2/models/clients")).json()
    assert meta["name"] == "clients" and meta["versions"] == ["1", "2"]
    assert meta["inputs"] == [
        {"name": "age", "datatype": "FP64", "shape": [-1]},
        {"name": "job", "datatype": "BYTES", "shape": [-1]},
        {"name": "balance", "datatype": "FP64", "shape": [-1]},
        {"name": "member", "datatype": "BYTES", "shape": [-1]},
    ]
    assert meta["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "probability", "datatype": "FP32", "shape": [-1]},
    ]
    assert meta["parameters"]["version"] == 2
    tiers = (await client.get("/v2/models/tiers/versions/latest")).json()
    assert tiers["outputs"][1] == {"name": "probability", "datatype": "FP32", "shape": [-1, 3]}
    spend = (await client.get("/v2/models/spend/versions/1")).json()
    assert spend["outputs"] == [{"name": "score", "datatype": "FP32", "shape": [-1]}]
    v1 = (await client.get("/v2/models/clients/versions/1")).json()
    assert v1["parameters"]["version"] == 1


async def test_model_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/models/clients/ready")).json() == {
        "name": "clients",
        "ready": True,
    }
    # version 1 exists but nothing has loaded it
    r = await client.get("/v2/models/clients/versions/1/ready")
    assert r.status_code == 503 and r.json()["ready"] is False
    assert (await client.get("/v2/models/nope/ready")).status_code == 404


async def test_infer_matches_v1(client: httpx.AsyncClient) -> None:
    rows = [INSTANCE, {**INSTANCE, "age": 70, "job": "student"}]
    body = {"id": "req-7", "inputs": tensors(rows)}
    r = await client.post("/v2/models/clients/infer", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_name"] == "clients" and out["model_version"] == "2" and out["id"] == "req-7"
    by_name = {o["name"]: o for o in out["outputs"]}
    assert by_name["label"]["datatype"] == "BYTES" and by_name["label"]["shape"] == [2]
    assert by_name["probability"]["datatype"] == "FP32" and by_name["probability"]["shape"] == [2]
    assert by_name["probability"]["data"] == pytest.approx(await v1_scores(client, "clients", rows))


async def test_infer_accepts_n_by_1_and_other_numeric_types(client: httpx.AsyncClient) -> None:
    nested = await client.post("/v2/models/clients/infer", json={"inputs": tensors(nested=True)})
    assert nested.status_code == 200, nested.text
    inputs = tensors()
    inputs[0] = {"name": "age", "datatype": "INT64", "shape": [1], "data": [41]}
    inputs[2] = {"name": "balance", "datatype": "FP32", "shape": [1], "data": [1200.5]}
    flat = await client.post("/v2/models/clients/infer", json={"inputs": list(reversed(inputs))})
    assert flat.status_code == 200, flat.text
    assert nested.json()["outputs"] == flat.json()["outputs"]


async def test_infer_multiclass_and_regression(client: httpx.AsyncClient) -> None:
    rows = [INSTANCE, {**INSTANCE, "age": 20}]
    out = (await client.post("/v2/models/tiers/infer", json={"inputs": tensors(rows)})).json()
    probability = next(o for o in out["outputs"] if o["name"] == "probability")
    assert probability["shape"] == [2, 3]
    assert np.asarray(probability["data"]).reshape(2, 3).sum(axis=1) == pytest.approx(1, abs=1e-5)
    out = (await client.post("/v2/models/spend/infer", json={"inputs": tensors(rows)})).json()
    [score] = out["outputs"]
    assert score["name"] == "score" and score["data"] == pytest.approx(
        await v1_scores(client, "spend", rows)
    )


async def test_output_selection(client: httpx.AsyncClient) -> None:
    body = {"inputs": tensors(), "outputs": [{"name": "probability"}]}
    out = (await client.post("/v2/models/clients/infer", json=body)).json()
    assert [o["name"] for o in out["outputs"]] == ["probability"]
    body = {"inputs": tensors(), "outputs": [{"name": "logits"}]}
    r = await client.post("/v2/models/clients/infer", json=body)
    assert r.status_code == 422 and "logits" in r.json()["error"]


async def test_binary_tensor_extension_both_ways(client: httpx.AsyncClient) -> None:
    body, headers = binary_infer_request()
    r = await client.post("/v2/models/clients/infer", content=body, headers=headers)
    assert r.status_code == 200, r.text
    size = int(r.headers["inference-header-content-length"])
    meta = json.loads(r.content[:size])
    probability, label = meta["outputs"]
    assert probability["parameters"]["binary_data_size"] == 8 and "data" not in probability
    assert len(label["data"]) == 2
    values = np.frombuffer(r.content[size:], dtype=np.float32)
    rows = [INSTANCE, {**INSTANCE, "job": "student", "age": 70}]
    assert values.tolist() == pytest.approx(await v1_scores(client, "clients", rows))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b["inputs"].pop(1), "inputs: missing input 'job'"),
        (
            lambda b: b["inputs"].append({**b["inputs"][0], "name": "x"}),
            "inputs[4].name: unknown input 'x'",
        ),
        (lambda b: b["inputs"].append(b["inputs"][0]), "inputs[4].name: duplicate input 'age'"),
        (lambda b: b["inputs"][1].update(datatype="FP64"), "job: expected datatype BYTES"),
        (lambda b: b["inputs"][0].update(datatype="BYTES"), "age: expected a numeric datatype"),
        (lambda b: b["inputs"][0].update(data=["abc"]), "age[0]: expected a number, got 'abc'"),
        (lambda b: b["inputs"][0].update(shape=[2]), "age: shape [2] needs 2 values, got 1"),
        (lambda b: b["inputs"][0].update(shape=[1, 2]), "age.shape: expected [n] or [n, 1]"),
        (
            lambda b: b["inputs"][0].pop("datatype"),
            "inputs[0].datatype: expected a datatype string",
        ),
        (lambda b: b["inputs"][0].pop("data"), "inputs[0].data: expected a list"),
        (lambda b: b.update(inputs={}), "inputs: expected a list of tensors"),
        (lambda b: b.update(id=5), "id: expected a string"),
    ],
)
async def test_infer_validation_errors(
    client: httpx.AsyncClient, mutate: Any, message: str
) -> None:
    body: dict[str, Any] = {"inputs": tensors()}
    mutate(body)
    r = await client.post("/v2/models/clients/infer", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(message), r.json()


async def test_infer_rows_must_agree_and_be_finite(client: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {"inputs": tensors()}
    body["inputs"][0] = {"name": "age", "datatype": "FP64", "shape": [2], "data": [1, 2]}
    r = await client.post("/v2/models/clients/infer", json=body)
    assert r.status_code == 422 and "rows" in r.json()["error"]
    raw = json.dumps({"inputs": tensors()}).replace("1200.5", "NaN").encode()
    r = await client.post("/v2/models/clients/infer", content=raw)
    assert r.status_code == 422 and r.json()["error"].startswith("balance[0]: expected a finite")
    nan = np.array([np.nan], dtype=np.float64).tobytes()
    inputs = tensors()
    inputs[2] = {
        "name": "balance",
        "datatype": "FP64",
        "shape": [1],
        "parameters": {"binary_data_size": 8},
    }
    head = json.dumps({"inputs": inputs}).encode()
    r = await client.post(
        "/v2/models/clients/infer",
        content=head + nan,
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
    assert r.status_code == 422 and r.json()["error"].startswith("balance[0]: expected a finite")


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{nope", {}, 400),
        (b'{"inputs": []}xx', {"Inference-Header-Content-Length": "14"}, 400),
        (b'{"inputs": []}', {"Inference-Header-Content-Length": "99"}, 400),
        (b'{"inputs": []}', {"Inference-Header-Content-Length": "x"}, 400),
        (b'{"inputs": []}', {}, 422),
    ],
)
async def test_infer_malformed_bodies(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], status: int
) -> None:
    r = await client.post("/v2/models/clients/infer", content=body, headers=headers)
    assert r.status_code == status, r.text


async def test_unknown_model_and_version(client: httpx.AsyncClient) -> None:
    r = await client.post("/v2/models/nope/infer", json={"inputs": tensors()})
    assert r.status_code == 404 and "clients" in r.json()["error"]
    r = await client.post("/v2/models/clients/versions/7/infer", json={"inputs": tensors()})
    assert r.status_code == 404
    assert (await client.get("/v2/models/nope")).status_code == 404


async def test_repository_index_load_unload(client: httpx.AsyncClient) -> None:
    index = (await client.post("/v2/repository/index")).json()
    assert {e["name"]: e["state"] for e in index} == {
        "clients": "READY",
        "spend": "READY",
        "tiers": "READY",
    }
    r = await client.post("/v2/repository/models/tiers/unload")
    assert r.status_code == 200 and r.json() == {"name": "tiers", "ready": False}
    r = await client.post("/v2/models/tiers/infer", json={"inputs": tensors()})
    assert r.status_code == 404 and "unloaded" in r.json()["error"]
    index = {e["name"]: e for e in (await client.post("/v2/repository/index")).json()}
    assert index["tiers"]["state"] == "UNAVAILABLE" and index["tiers"]["reason"] == "unloaded"
    r = await client.post("/v2/repository/models/tiers/load")
    assert r.status_code == 200 and r.json() == {"name": "tiers", "ready": True}
    r = await client.post("/v2/models/tiers/infer", json={"inputs": tensors()})
    assert r.status_code == 200
    assert (await client.post("/v2/repository/models/nope/load")).status_code == 404
