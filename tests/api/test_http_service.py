"""Metrics, the OpenAPI document, the error handler, promotion over HTTP, batching."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from servekit import INSTANCE, JOBS, serving

from modelry.api.routes import ROUTES
from modelry.serving.batching import BatchPolicy
from modelry.settings import Settings

pytestmark = pytest.mark.anyio


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text, matching the given labels."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels}")


async def test_metrics_count_requests_latency_and_batches(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post("/v1/models/clients:predict", json={"instances": [INSTANCE, INSTANCE]})
    await client.post("/v1/models/clients:predict", json={"instances": []})
    await client.post("/v1/models/nope:predict", json={"instances": [INSTANCE]})
    text = (await client.get("/metrics")).text
    ok = {"model": "clients", "version": "2", "endpoint": "predict"}
    assert sample(text, "modelry_requests_total", **ok, status="200") == 3
    assert sample(text, "modelry_requests_total", **ok, status="422") == 1
    # an unknown model is counted without its made-up name
    assert sample(text, "modelry_requests_total", model="", endpoint="predict", status="404") == 1
    assert sample(text, "modelry_request_duration_seconds_count", **ok) == 4
    assert sample(text, "modelry_request_duration_seconds_bucket", **ok, le="+Inf") == 4
    batch = {"model": "clients", "version": "2"}
    assert sample(text, "modelry_batch_size_count", **batch) == 3
    assert sample(text, "modelry_batch_size_sum", **batch) == 6
    assert sample(text, "modelry_batch_size_bucket", **batch, le="2.0") == 3
    assert "process_cpu_seconds_total" in text


async def test_openapi_describes_every_route(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for endpoint in ROUTES:
        assert endpoint.method.lower() in doc["paths"][endpoint.path], endpoint.path
    schemas = doc["components"]["schemas"]
    for name in ("InferenceRequest", "InferenceResponse", "PredictRequest", "PredictResponse"):
        assert name in schemas
    refs = re.findall(r'"#/components/schemas/([^"]+)"', (await client.get("/openapi.json")).text)
    assert refs and all(ref in schemas for ref in refs)
    predict = doc["paths"]["/v1/models/{name}:predict"]["post"]
    assert {"401", "404", "413", "422"} <= set(predict["responses"])
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_routing_errors_are_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/nowhere")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = await client.get("/v1/models/clients:predict")
    assert r.status_code in (404, 405)
    r = await client.delete("/v2/models/clients/infer")
    assert r.status_code == 405 and "error" in r.json()


async def test_a_bug_is_a_logged_500(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.post("/v1/models/clients:predict", json={"instances": [INSTANCE]})
    app: Any = client._transport.app  # type: ignore[attr-defined]
    served = app.state.plane.pool.lookup("clients", None)

    def broken(columns: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(served.runtime, "predict", broken)
    r = await client.post("/v1/models/clients:predict", json={"instances": [INSTANCE]})
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
    assert "boom" in caplog.text


async def test_promote_over_http_swaps_at_once(client: httpx.AsyncClient) -> None:
    body = {"instances": [INSTANCE]}
    assert (await client.post("/v1/models/clients:predict", json=body)).json()["version"] == 2
    r = await client.post("/v1/models/clients/aliases/production", json={"version": 1})
    assert r.status_code == 200
    assert r.json() == {"name": "clients", "alias": "production", "version": 1, "previous": None}
    assert (await client.post("/v1/models/clients:predict", json=body)).json()["version"] == 1
    assert (await client.get("/v1/models")).json()["models"][0]["loaded_versions"] == [1]
    for bad in ({"version": "x"}, {"version": 0}, {}):
        r = await client.post("/v1/models/clients/aliases/production", json=bad)
        assert r.status_code == 422
    r = await client.post("/v1/models/clients/aliases/production", json={"version": 9})
    assert r.status_code == 404
    r = await client.post("/v1/models/clients/aliases/latest", json={"version": 1})
    assert r.status_code == 422  # reserved alias


@pytest.mark.parametrize("wait_ms", [0.0, 5.0])
async def test_batching_joins_requests_and_keeps_answers_apart(
    settings: Settings, wait_ms: float
) -> None:
    rows = [
        {**INSTANCE, "age": 18 + i, "job": JOBS[i % 4], "balance": 100.0 * i} for i in range(40)
    ]
    async with serving(settings) as plain:
        expected = [
            (await plain.post("/v1/models/clients:predict", json={"instances": [row]})).json()
            for row in rows
        ]
    policy = BatchPolicy(enabled=True, max_batch_size=16, max_wait_ms=wait_ms)
    async with serving(settings, batching={"clients": policy}) as batched:

        async def one(row: dict[str, Any]) -> Any:
            r = await batched.post("/v1/models/clients:predict", json={"instances": [row]})
            assert r.status_code == 200, r.text
            return r.json()

        # a mix of one-row and multi-row requests, all at once, twice
        for _ in range(2):
            got = await asyncio.gather(*(one(row) for row in rows))
            assert got == expected
        multi = await batched.post(
            "/v1/models/clients:predict", json={"instances": [*rows[:5], {**INSTANCE, "age": "x"}]}
        )
        assert multi.status_code == 422 and multi.json()["error"].startswith("instances[5].age")
        text = (await batched.get("/metrics")).text
    count = sample(text, "modelry_batch_size_count", model="clients", version="2")
    total = sample(text, "modelry_batch_size_sum", model="clients", version="2")
    assert total == 80 and count < 80  # some requests shared a predict call
    joined = sample(text, "modelry_batch_requests_sum", model="clients", version="2")
    assert joined == 80


async def test_without_batching_concurrent_requests_are_predicted_alone(
    settings: Settings,
) -> None:
    rows = [{**INSTANCE, "age": 18 + i, "job": JOBS[i % 4]} for i in range(12)]
    async with serving(settings) as batched:
        expected = [
            (await batched.post("/v1/models/clients:predict", json={"instances": [row]})).json()
            for row in rows
        ]
    async with serving(settings.model_copy(update={"batching": False})) as alone:
        got = await asyncio.gather(
            *(alone.post("/v1/models/clients:predict", json={"instances": [row]}) for row in rows)
        )
        text = (await alone.get("/metrics")).text
    assert [r.json() for r in got] == expected
    calls = sample(text, "modelry_batch_requests_count", model="clients", version="2")
    assert calls == sample(text, "modelry_batch_requests_sum", model="clients", version="2") == 12
