"""Fixtures shared by every test package."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_debug_tracebacks() -> Iterator[None]:
    """``modelry --debug`` run in process sets MODELRY_DEBUG in this process's environment;
    a later test's CLI subprocess would inherit it and print tracebacks, not one-line errors."""
    os.environ.pop("MODELRY_DEBUG", None)
    yield
    os.environ.pop("MODELRY_DEBUG", None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets in ``../shared/data``; tests that need them skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}: realdata tests skipped")
    return SHARED_DATA


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray instance with 2 CPUs (what CI has) for a module's ``ray`` tests, Ray
    Train and Ray Tune alike; they skip without the ray extra."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.train.torch")
    pytest.importorskip("ray.tune")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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


def _minimal_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF showing ``lines`` in Helvetica, its xref offsets computed."""
    text = " ".join(f"({line.replace('(', '[').replace(')', ']')}) Tj 0 -14 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
def minimal_pdf() -> Callable[[list[str]], bytes]:
    """Builds a real one-page PDF of text lines (by hand: no PDF writer is a dependency)."""
    return _minimal_pdf


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
