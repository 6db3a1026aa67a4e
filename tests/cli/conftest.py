"""The ``cli`` fixture: the real entry point against a fresh ``MODELRY_HOME``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("MODELRY_HOME", str(path))
    return path


@pytest.fixture
def cli(home: Path, run_cli: Any):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Any:
        return run_cli(*args, home=home)

    return run
