"""Fixtures shared by every test package."""

from __future__ import annotations

import fcntl
import os
import subprocess
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


@pytest.fixture(scope="session")
def encoder_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding ``text-encoder`` version 1, added once per session by the CLI
    (``modelry encoder add``; xdist workers share it through a file lock; read-only)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    home = root / "encoder-home"
    with (root / "encoder-home.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "added.json").exists():
            env = {**os.environ, "MODELRY_HOME": str(home)}
            command = [sys.executable, "-m", "modelry.cli.main", "encoder", "add", "--json"]
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr
            (home / "added.json").write_text(done.stdout)
    return home


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
