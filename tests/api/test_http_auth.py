"""Bearer keys: off, user keys, admin keys."""

from __future__ import annotations

import httpx
import pytest
from servekit import INSTANCE, serving

from modelry.settings import Settings

pytestmark = pytest.mark.anyio

PREDICT = ("POST", "/v1/models/clients:predict", {"instances": [INSTANCE]})
USER_ROUTES = [
    ("GET", "/v2", None),
    ("GET", "/v2/models/clients", None),
    ("GET", "/v2/models/clients/ready", None),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/clients", None),
    ("POST", "/v2/repository/index", None),
    ("GET", "/metrics", None),
    PREDICT,
]
ADMIN_ROUTES = [
    ("POST", "/v2/repository/models/clients/load", None),
    ("POST", "/v1/models/clients/aliases/production", {"version": 1}),
    ("POST", "/v2/repository/models/clients/unload", None),
]
PUBLIC_ROUTES = [
    "/v2/health/live",
    "/v2/health/ready",
    "/openapi.json",
    "/docs",
    "/docs/static/swagger-ui-bundle.js",
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def call(
    c: httpx.AsyncClient, route: tuple[str, str, object], key: str | None = None
) -> httpx.Response:
    method, url, body = route
    return await c.request(method, url, json=body, headers=bearer(key) if key else None)


async def test_auth_off_everything_open(client: httpx.AsyncClient) -> None:
    for route in USER_ROUTES + ADMIN_ROUTES:
        assert (await call(client, route)).status_code == 200, route


async def test_user_and_admin_keys(settings: Settings) -> None:
    keyed = settings.model_copy(update={"api_keys": ["u-key"], "admin_keys": ["a-key"]})
    async with serving(keyed) as c:
        for url in PUBLIC_ROUTES:
            assert (await c.get(url)).status_code == 200, url
        for route in USER_ROUTES:
            r = await call(c, route)
            assert r.status_code == 401, route
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.json()["error"].startswith("missing API key")
            assert (await call(c, route, "wrong")).status_code == 401, route
            assert (await call(c, route, "u-key")).status_code == 200, route
            assert (await call(c, route, "a-key")).status_code == 200, route
        for route in ADMIN_ROUTES:
            assert (await call(c, route)).status_code == 401, route
            assert (await call(c, route, "wrong")).status_code == 401, route
            r = await call(c, route, "u-key")
            assert r.status_code == 403 and "admin" in r.json()["error"], route
            assert (await call(c, route, "a-key")).status_code == 200, route
        r = await c.post(
            "/v1/models/clients:predict", json=PREDICT[2], headers={"Authorization": "Basic x"}
        )
        assert r.status_code == 401


async def test_keys_without_admin_keys_forbid_administration(settings: Settings) -> None:
    keyed = settings.model_copy(update={"api_keys": ["u-key"]})
    async with serving(keyed) as c:
        assert (await call(c, PREDICT, "u-key")).status_code == 200
        assert (await call(c, ADMIN_ROUTES[0], "u-key")).status_code == 403


async def test_only_admin_keys_leave_predictions_open(settings: Settings) -> None:
    keyed = settings.model_copy(update={"admin_keys": ["a-key"]})
    async with serving(keyed) as c:
        assert (await call(c, PREDICT)).status_code == 200
        assert (await call(c, ADMIN_ROUTES[0])).status_code == 401
        assert (await call(c, ADMIN_ROUTES[0], "a-key")).status_code == 200
