"""``POST /v1/apps/marketing/{name}:target`` in process: the selection, and every mistake named."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from servekit import INSTANCE, JOBS

pytestmark = pytest.mark.anyio


def customers(n: int) -> list[dict[str, Any]]:
    return [
        {**INSTANCE, "age": 20 + 3 * i, "job": JOBS[i % len(JOBS)], "balance": 100.0 * i}
        for i in range(n)
    ]


async def test_the_budget_buys_the_best_customers(client: httpx.AsyncClient) -> None:
    body = {"instances": customers(12), "cost_per_contact": 5, "value_per_conversion": 60}
    scored = await client.post("/v1/models/clients:predict", json={"instances": body["instances"]})
    scores = [p["score"] for p in scored.json()["predictions"]]
    r = await client.post("/v1/apps/marketing/clients:target", json={**body, "budget": 20})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["model"] == "clients" and answer["version"] == 2
    ranked = answer["ranked"]
    assert [c["index"] for c in ranked] == sorted(range(12), key=lambda i: -scores[i])
    assert [c["score"] for c in ranked] == pytest.approx(sorted(scores, reverse=True), abs=1e-6)
    chosen = [c for c in ranked if c["contacted"]]
    profitable = [c for c in ranked if c["score"] * 60 - 5 > 0]
    assert len(chosen) == min(4, len(profitable)) and answer["cost"] == 5 * len(chosen)
    assert chosen == ranked[: len(chosen)]  # the highest scores, within the budget exactly
    assert answer["break_even_score"] == pytest.approx(5 / 60)
    everyone = await client.post("/v1/apps/marketing/clients/versions/1:target", json=body)
    assert everyone.json()["version"] == 1 and everyone.json()["method"] == "all-positive"


async def test_per_customer_values_and_a_capacity(client: httpx.AsyncClient) -> None:
    values = [0] * 11 + [1000]  # only the last customer is worth anything
    body = {
        "instances": customers(12),
        "cost_per_contact": 5,
        "value_per_conversion": values,
        "capacity": 3,
    }
    r = await client.post("/v1/apps/marketing/clients:target", json=body)
    assert r.status_code == 200, r.text
    contacted = [c["index"] for c in r.json()["ranked"] if c["contacted"]]
    assert contacted == [11]  # the others would lose money whatever their score


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"cost_per_contact": 0}, 422, "cost per contact"),
        ({"value_per_conversion": -1}, 422, "value per conversion"),
        ({"value_per_conversion": [60, 60]}, 422, "a list of 3 numbers"),
        ({"budget": 10, "capacity": 2}, 422, "a budget or a capacity, not both"),
        ({"capacity": 1.5}, 422, "capacity: expected a whole number"),
        ({"discount": 3}, 422, "discount: unknown field"),
        ({"instances": [{"age": 30}] * 3}, 422, "instances[0]"),
    ],
)
async def test_mistakes_are_named(
    client: httpx.AsyncClient, change: dict[str, Any], status: int, message: str
) -> None:
    body = {"instances": customers(3), "cost_per_contact": 5, "value_per_conversion": 60, **change}
    r = await client.post("/v1/apps/marketing/clients:target", json=body)
    assert r.status_code == status and message in r.json()["error"], r.text


async def test_only_a_binary_classifier_can_target(client: httpx.AsyncClient) -> None:
    body = {"instances": customers(2), "cost_per_contact": 5, "value_per_conversion": 60}
    r = await client.post("/v1/apps/marketing/tiers:target", json=body)
    assert r.status_code == 422 and "is not a binary classifier" in r.json()["error"]
    missing = await client.post("/v1/apps/marketing/nobody:target", json=body)
    assert missing.status_code == 404
