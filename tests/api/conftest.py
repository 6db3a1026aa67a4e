"""Fixtures for the HTTP service: real models trained by modelry's own pipeline.

Three small synthetic tables are trained once per test session (xdist workers
share them through a file lock): ``clients`` (binary, two versions), ``tiers``
(multi-class) and ``spend`` (regression). Each test gets its own copy of that
registry, so tests may move aliases and unload models freely.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from servekit import serving, write_tables

from modelry.settings import Settings


def _train(home: Path) -> None:
    from modelry.pipeline import train_model
    from modelry.training.config import TrainConfig

    data = home / "data"
    data.mkdir(parents=True)
    write_tables(data)
    settings = Settings(home=home)
    runs = [("clients", 0), ("clients", 1), ("tiers", 0), ("spend", 0)]
    for name, seed in runs:
        config = {
            "name": name,
            "data": {"target": "target"},
            "training": {"epochs": 2, "seed": seed},
        }
        train_model(TrainConfig.from_dict(config), data / f"{name}.csv", settings)


@pytest.fixture(scope="session")
def models_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with the trained models (read-only: copy it to change it)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    home = root / "serving-models"
    with (root / "serving-models.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "trained").exists():
            shutil.rmtree(home, ignore_errors=True)
            _train(home)
            (home / "trained").touch()
    return home


@pytest.fixture
def home(models_home: Path, tmp_path: Path) -> Path:
    """This test's own copy of the trained registry."""
    target = tmp_path / "home"
    shutil.copytree(models_home, target, ignore=shutil.ignore_patterns("data", "trained"))
    return target


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings) as c:
        yield c
