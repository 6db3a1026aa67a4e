"""Registry fixtures: a fresh registry per test on SQLite, and on PostgreSQL when asked.

PostgreSQL runs only where ``MODELRY_TEST_POSTGRES_URL`` names a server the
tests may create schemas in; each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from modelry.registry.db import engine_for
from modelry.registry.store import Registry
from modelry.settings import Settings

POSTGRES_ENV = "MODELRY_TEST_POSTGRES_URL"


def _postgres_schema_url(base: str, schema: str) -> str:
    # A per-test search_path isolates tests without a database per test.
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A registry URL nobody else uses: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(
            f"set {POSTGRES_ENV} (e.g. postgresql://modelry:modelry@127.0.0.1/modelry_test)"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = engine_for(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _postgres_schema_url(base, schema)
    yield url
    engine_for(url).dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def settings(registry_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("MODELRY_REGISTRY_URL", raising=False)
    return Settings.model_validate(
        {"home": tmp_path / "home", "MODELRY_REGISTRY_URL": registry_url}
    )


@pytest.fixture
def registry(settings: Settings) -> Registry:
    return Registry(settings)
