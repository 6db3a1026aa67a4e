"""The app factory that `modelry serve --workers N` runs in each worker."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from modelry.api.app import GC_THRESHOLDS, app_from_env, settings_from_json, settings_to_json
from modelry.settings import Settings


def test_settings_survive_the_trip_through_the_environment(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        api_keys=["k1", "k2"],
        admin_keys=["a"],
        batching=True,
        max_batch_size=8,
        max_batch_wait_ms=0.5,
        MODELRY_REGISTRY_URL=f"sqlite:///{tmp_path}/other.db",
    )
    back = settings_from_json(settings_to_json(settings))
    assert back == settings
    assert back.registry_url == f"sqlite:///{tmp_path}/other.db"


def test_app_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=tmp_path, api_keys=["k"], batching=True)
    monkeypatch.setenv("MODELRY_SERVE_SETTINGS", settings_to_json(settings))
    monkeypatch.setenv("MODELRY_SERVE_MODELS", "a, b")
    monkeypatch.setenv("MODELRY_SERVE_WATCH_INTERVAL", "0.5")
    thresholds = gc.get_threshold()
    try:
        app = app_from_env()
        assert gc.get_threshold() == GC_THRESHOLDS  # a serving process collects less often
    finally:
        gc.set_threshold(*thresholds)
    plane = app.state.plane
    assert plane.pool.names == ["a", "b"] and plane.watch_interval == 0.5
    assert plane.pool.policy.enabled


@pytest.mark.anyio
async def test_the_app_starts_itself_without_lifespan_events(settings: Settings) -> None:
    import httpx
    from servekit import INSTANCE

    from modelry.api.app import create_app

    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)  # sends no lifespan events
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        r = await client.post("/v1/models/clients:predict", json={"instances": [INSTANCE]})
        assert r.status_code == 200
        assert (await client.get("/v2/health/ready")).json() == {"ready": True}
    await app.state.plane.stop()
