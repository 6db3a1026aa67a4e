"""The simple JSON API in process: predictions, listings, validation errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from servekit import INSTANCE, serving

from modelry.registry.store import Registry
from modelry.settings import Settings

pytestmark = pytest.mark.anyio


def instances(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"instances": list(rows) or [INSTANCE]}


async def test_binary_predict_has_label_score_and_probabilities(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/clients:predict", json=instances())
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "clients" and body["version"] == 2  # latest: no production alias
    [p] = body["predictions"]
    assert p["label"] in ("yes", "no")
    assert set(p["probabilities"]) == {"yes", "no"}
    assert p["probabilities"]["yes"] == pytest.approx(p["score"], abs=1e-6)
    assert sum(p["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert p["label"] == ("yes" if p["score"] >= 0.5 else "no")


async def test_multiclass_and_regression(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/models/tiers:predict", json=instances(INSTANCE, INSTANCE))
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert len(preds) == 2 and preds[0] == preds[1]
    assert set(preds[0]["probabilities"]) == {"low", "mid", "high"}
    assert preds[0]["score"] == max(preds[0]["probabilities"].values())
    assert preds[0]["probabilities"][preds[0]["label"]] == preds[0]["score"]
    r = await client.post("/v1/models/spend:predict", json=instances())
    assert r.status_code == 200
    [p] = r.json()["predictions"]
    assert set(p) == {"score"} and isinstance(p["score"], float)


async def test_version_and_alias_routes(client: httpx.AsyncClient, settings: Settings) -> None:
    Registry(settings).set_alias("clients", "staging", 1)
    for ref, expected in [("1", 1), ("2", 2), ("latest", 2), ("staging", 1)]:
        r = await client.post(f"/v1/models/clients/versions/{ref}:predict", json=instances())
        assert r.status_code == 200, r.text
        assert r.json()["version"] == expected


async def test_many_rows_keep_their_order(client: httpx.AsyncClient) -> None:
    rows = [
        {**INSTANCE, "age": age, "job": job}
        for age in (20, 50, 79)
        for job in ("student", "services")
    ]
    together = (await client.post("/v1/models/clients:predict", json=instances(*rows))).json()
    alone = [
        (await client.post("/v1/models/clients:predict", json=instances(row))).json()
        for row in rows
    ]
    assert [p["score"] for p in together["predictions"]] == pytest.approx(
        [a["predictions"][0]["score"] for a in alone], abs=1e-6
    )


async def test_null_is_a_missing_value(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/models/clients:predict", json=instances({**INSTANCE, "age": None, "job": None})
    )
    assert r.status_code == 200, r.text


async def test_listing_and_description(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/models")
    assert r.status_code == 200
    models = {m["name"]: m for m in r.json()["models"]}
    assert set(models) == {"clients", "tiers", "spend"}
    assert models["clients"]["latest_version"] == 2
    assert models["clients"]["served_version"] == 2
    assert models["clients"]["loaded_versions"] == [2]
    r = await client.get("/v1/models/clients")
    assert r.status_code == 200
    detail = r.json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert detail["inputs"] == {
        "age": "number",
        "job": "string",
        "balance": "number",
        "member": "string",
    }
    assert detail["task"] == "binary" and detail["classes"] == ["no", "yes"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (
            {"instances": [{**INSTANCE, "age": "abc"}]},
            422,
            "instances[0].age: expected a number, got 'abc'",
        ),
        (
            {"instances": [INSTANCE, INSTANCE, INSTANCE, {**INSTANCE, "age": "abc"}]},
            422,
            "instances[3].age: expected a number, got 'abc'",
        ),
        (
            {"instances": [{k: v for k, v in INSTANCE.items() if k != "job"}]},
            422,
            "instances[0].job: missing field",
        ),
        ({"instances": [{**INSTANCE, "extra": 1}]}, 422, "instances[0].extra: unknown field"),
        ({"instances": [{**INSTANCE, "job": ["x"]}]}, 422, "instances[0].job: expected a string"),
        (
            {"instances": [{**INSTANCE, "balance": {"a": 1}}]},
            422,
            "instances[0].balance: expected a number",
        ),
        ({"instances": []}, 422, "instances: expected at least one instance"),
        ({"instances": {"age": 1}}, 422, "instances: expected a list of objects"),
        ({"instances": [1]}, 422, "instances[0]: expected an object"),
        ({"rows": [INSTANCE]}, 422, "instances: missing field"),
        ({"instances": [INSTANCE], "x": 1}, 422, "x: unknown field"),
        ([INSTANCE], 422, "body: expected an object"),
    ],
)
async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, payload: Any, status: int, message: str
) -> None:
    r = await client.post("/v1/models/clients:predict", json=payload)
    assert r.status_code == status, r.text
    assert r.json()["error"].startswith(message), r.json()


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
async def test_non_finite_numbers_are_422(client: httpx.AsyncClient, token: bytes) -> None:
    body = b'{"instances": [{"age": %s, "job": "admin.", "balance": 1.0, "member": "no"}]}' % token
    r = await client.post("/v1/models/clients:predict", content=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith("instances[0].age: expected a finite number")


@pytest.mark.parametrize("body", [b"{", b"not json", b"", b'{"instances": [}', b"\xff\xfe"])
async def test_malformed_json_is_400(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post("/v1/models/clients:predict", content=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith("malformed JSON")


async def test_unknown_model_or_version_is_404_naming_what_exists(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/models/nope:predict", json=instances())
    assert r.status_code == 404
    assert "nope" in r.json()["error"] and "clients" in r.json()["error"]
    r = await client.post("/v1/models/clients/versions/9:predict", json=instances())
    assert r.status_code == 404
    assert "9" in r.json()["error"] and "1, 2" in r.json()["error"]
    r = await client.post("/v1/models/clients/versions/gold:predict", json=instances())
    assert r.status_code == 404 and "gold" in r.json()["error"]
    assert (await client.get("/v1/models/nope")).status_code == 404


async def test_an_encoder_refusal_names_the_instance(client: httpx.AsyncClient) -> None:
    # A value the codec accepts (a number for a string column) but may still be refused
    # downstream must come back as a 4xx naming instances[i], never a 500.
    r = await client.post(
        "/v1/models/clients:predict", json=instances(INSTANCE, {**INSTANCE, "job": 12})
    )
    assert r.status_code in (200, 422), r.text


async def test_body_limit_is_413(settings: Settings) -> None:

    small = settings.model_copy(update={"max_body_bytes": 2048})
    async with serving(small) as c:
        big = instances(*[INSTANCE] * 50)
        r = await c.post("/v1/models/clients:predict", json=big)
        assert r.status_code == 413 and "2048" in r.json()["error"]

        async def chunks() -> Any:  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b" " * 500

        r = await c.post("/v1/models/clients:predict", content=chunks())
        assert r.status_code == 413
        r = await c.post("/v1/models/clients:predict", json=instances())
        assert r.status_code == 200


async def test_served_subset(settings: Settings) -> None:

    async with serving(settings, models=["tiers"]) as c:
        assert (await c.post("/v1/models/tiers:predict", json=instances())).status_code == 200
        r = await c.post("/v1/models/clients:predict", json=instances())
        assert r.status_code == 404 and "served: tiers" in r.json()["error"]
        assert [m["name"] for m in (await c.get("/v1/models")).json()["models"]] == ["tiers"]


async def test_lazy_loading(settings: Settings) -> None:

    async with serving(settings, eager=False) as c:
        assert (await c.get("/v1/models")).json()["models"][0]["loaded_versions"] == []
        assert (await c.get("/v2/models/clients/ready")).status_code == 503
        assert (await c.post("/v1/models/clients:predict", json=instances())).status_code == 200
        assert (await c.get("/v2/models/clients/ready")).json() == {
            "name": "clients",
            "ready": True,
        }
