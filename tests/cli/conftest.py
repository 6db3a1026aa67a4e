"""Run the real ``modelry`` entry point in-process, as a user's shell would."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelry.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("MODELRY_HOME", str(path))
    monkeypatch.delenv("MODELRY_DEBUG", raising=False)
    monkeypatch.delenv("MODELRY_REGISTRY_URL", raising=False)
    return path


@pytest.fixture
def cli(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["modelry", *args])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
