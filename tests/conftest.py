"""Fixtures shared by every test package."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets in ``../shared/data``; tests that need them skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}: realdata tests skipped")
    return SHARED_DATA


@dataclass
class CliResult:
    code: int
    out: str
    err: str


CliRunner = Callable[..., CliResult]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run the real ``modelry`` entry point in-process, as a shell would, against ``home``."""
    from modelry.cli.main import main

    monkeypatch.delenv("MODELRY_DEBUG", raising=False)
    monkeypatch.delenv("MODELRY_REGISTRY_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "120")

    def run(*args: str, home: Path) -> CliResult:
        monkeypatch.setenv("MODELRY_HOME", str(home))
        monkeypatch.setattr(sys, "argv", ["modelry", *args])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
