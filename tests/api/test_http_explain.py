"""Explanations over HTTP: ``/v1/models/{name}:explain`` and V2 ``parameters.explain``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from servekit import INSTANCE
from test_http_service import sample

from modelry.serving.pool import Served

pytestmark = pytest.mark.anyio

ROWS = [INSTANCE, {**INSTANCE, "age": 70, "job": "student", "member": "no"}]


def check_explanation(e: dict[str, Any]) -> None:
    assert list(e["attributions"]) and set(e["attributions"]) == set(INSTANCE)
    gap = sum(e["attributions"].values()) - (e["score"] - e["baseline_score"])
    assert abs(gap) < 1e-3, e
    assert e["reasons"], e
    for reason in e["reasons"]:
        assert {"column", "value", "effect", "text"} <= set(reason)
        assert reason["column"] in INSTANCE


def served(client: httpx.AsyncClient, name: str) -> Served:
    app = client._transport.app  # type: ignore[attr-defined]
    entry = app.state.plane.pool.lookup(name, None)
    assert entry is not None
    return entry  # type: ignore[no-any-return]


@pytest.mark.parametrize("model", ["clients", "tiers", "spend"])
async def test_explain_records(client: httpx.AsyncClient, model: str) -> None:
    r = await client.post(f"/v1/models/{model}:explain", json={"instances": ROWS})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model"] == model and isinstance(doc["version"], int)
    assert len(doc["explanations"]) == len(ROWS)
    for e in doc["explanations"]:
        check_explanation(e)
    predicted = await client.post(f"/v1/models/{model}:predict", json={"instances": ROWS})
    scores = [p["score"] for p in predicted.json()["predictions"]]
    assert [e["score"] for e in doc["explanations"]] == pytest.approx(scores, abs=1e-4)
    if model == "tiers":
        labels = [p["label"] for p in predicted.json()["predictions"]]
        assert [e["target"] for e in doc["explanations"]] == labels
    if model == "spend":
        assert all(e["target"] is None for e in doc["explanations"])


async def test_explainer_is_built_once_per_version_and_dropped_on_unload(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/models/clients/versions/1:explain", json={"instances": ROWS})
    assert r.status_code == 200 and r.json()["version"] == 1
    await client.post("/v1/models/clients:explain", json={"instances": ROWS})
    entry = served(client, "clients")
    first = entry.explainer
    assert first is not None
    await client.post("/v1/models/clients:explain", json={"instances": ROWS})
    assert entry.explainer is first
    assert (await client.post("/v2/repository/models/clients/unload")).status_code == 200
    assert entry.explainer is None and not entry.runtime.ready


async def test_hot_swap_gets_a_fresh_explainer(client: httpx.AsyncClient) -> None:
    await client.post("/v1/models/clients:explain", json={"instances": ROWS})
    old = served(client, "clients")
    assert old.version == 2 and old.explainer is not None
    r = await client.post("/v1/models/clients/aliases/production", json={"version": 1})
    assert r.status_code == 200
    r = await client.post("/v1/models/clients:explain", json={"instances": ROWS})
    assert r.json()["version"] == 1
    new = served(client, "clients")
    assert new is not old and new.explainer is not None and old.explainer is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"instances": []}, "instances"),
        ({"instances": [{**INSTANCE, "age": "old"}]}, "instances[0].age"),
        ({"instances": [{k: v for k, v in INSTANCE.items() if k != "job"}]}, "instances[0].job"),
        ({"instances": [{**INSTANCE, "extra": 1}]}, "instances[0].extra"),
        ({"rows": ROWS}, "instances"),
        ({"instances": ROWS, "x": 1}, "x"),
    ],
)
async def test_explain_validation_names_the_field(
    client: httpx.AsyncClient, payload: Any, field: str
) -> None:
    r = await client.post("/v1/models/clients:explain", json=payload)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


async def test_explain_unknown_model_or_version_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/nope:explain", json={"instances": ROWS})
    assert r.status_code == 404 and "nope" in r.json()["error"]
    r = await client.post("/v1/models/clients/versions/9:explain", json={"instances": ROWS})
    assert r.status_code == 404


async def test_explain_requests_are_counted(client: httpx.AsyncClient) -> None:
    await client.post("/v1/models/clients:explain", json={"instances": ROWS})
    await client.post("/v1/models/clients:explain", json={"instances": []})
    await client.post("/v2/models/clients/infer", json=v2_body(explain=True))
    await client.post("/v2/models/clients/infer", json=v2_body())
    text = (await client.get("/metrics")).text
    ok = {"model": "clients", "version": "2", "endpoint": "explain"}
    assert sample(text, "modelry_requests_total", **ok, status="200") == 2
    assert sample(text, "modelry_requests_total", **ok, status="422") == 1
    infer = {"model": "clients", "version": "2", "endpoint": "infer"}
    assert sample(text, "modelry_requests_total", **infer, status="200") == 1


async def test_openapi_lists_explain(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    op = doc["paths"]["/v1/models/{name}:explain"]["post"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExplainResponse"
    }
    assert {"404", "422"} <= set(op["responses"])
    assert "post" in doc["paths"]["/v1/models/{name}/versions/{version}:explain"]


# -- V2 -------------------------------------------------------------------------------------


def v2_body(**parameters: Any) -> dict[str, Any]:
    inputs = []
    for name in INSTANCE:
        values = [row[name] for row in ROWS]
        datatype = "BYTES" if isinstance(values[0], str) else "FP64"
        inputs.append({"name": name, "datatype": datatype, "shape": [len(ROWS)], "data": values})
    body: dict[str, Any] = {"inputs": inputs}
    if parameters:
        body["parameters"] = parameters
    return body


async def test_v2_explain_parameter_adds_an_explanation_output(client: httpx.AsyncClient) -> None:
    plain = (await client.post("/v2/models/clients/infer", json=v2_body())).json()
    assert [o["name"] for o in plain["outputs"]] == ["label", "probability"]
    r = await client.post("/v2/models/clients/infer", json=v2_body(explain=True))
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    assert list(outputs) == ["label", "probability", "explanation"]
    assert outputs["probability"] == plain["outputs"][1]
    explanation = outputs["explanation"]
    assert explanation["datatype"] == "BYTES" and explanation["shape"] == [len(ROWS)]
    docs = [json.loads(text) for text in explanation["data"]]
    for doc, p in zip(docs, outputs["probability"]["data"], strict=True):
        check_explanation(doc)
        assert doc["score"] == pytest.approx(p, abs=1e-4)
    # asking for the output by name works too, alone or beside the others
    body = {**v2_body(), "outputs": [{"name": "explanation"}]}
    r = await client.post("/v2/models/clients/infer", json=body)
    assert [o["name"] for o in r.json()["outputs"]] == ["explanation"]
    r = await client.post("/v2/models/clients/infer", json=v2_body(explain=False))
    assert [o["name"] for o in r.json()["outputs"]] == ["label", "probability"]


async def test_v2_explain_parameter_must_be_a_boolean(client: httpx.AsyncClient) -> None:
    r = await client.post("/v2/models/clients/infer", json=v2_body(explain="yes"))
    assert r.status_code == 422 and r.json()["field"] == "parameters.explain"
