"""Helpers for the HTTP service tests: a sample instance, in-process and live servers."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from modelry.api.app import create_app
from modelry.settings import Settings

INSTANCE = {"age": 41, "job": "admin.", "balance": 1200.5, "member": "yes"}
JOBS = ["admin.", "technician", "services", "student"]


@asynccontextmanager
async def serving(settings: Settings, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client on ``create_app(settings, **options)``, lifespan included."""
    app = create_app(settings, **options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelry") as client:
            yield client


def write_tables(folder: Path) -> None:
    """``clients.csv`` (binary), ``tiers.csv`` (multi-class) and ``spend.csv`` (regression)
    in ``folder``: the same 400 rows, a known logistic rule, three targets."""
    rng = np.random.default_rng(7)
    n = 400
    age = rng.integers(18, 80, n)
    job = rng.choice(JOBS, n)
    balance = rng.normal(1000, 500, n).round(2)
    member = rng.choice(["yes", "no"], n)
    logit = (age - 45) / 10 + (job == "student") * 1.5 - (balance - 1000) / 800
    targets = {
        "clients": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no"),
        "tiers": np.where(logit > 0.7, "high", np.where(logit < -0.7, "low", "mid")),
        "spend": logit.round(3),  # small values: the ONNX parity check is absolute
    }
    for name, target in targets.items():
        with (folder / f"{name}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["age", "job", "balance", "member", "target"])
            writer.writerows(zip(age, job, balance, member, target, strict=True))


# -- a real server on loopback ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(home: Path, **env: str) -> Iterator[str]:
    """``uvicorn --factory modelry.api.app:app_from_env`` in a subprocess; yields its URL."""
    port = free_port()
    environ = {
        **os.environ,
        "MODELRY_HOME": str(home),
        "MODELRY_SERVE_WATCH_INTERVAL": "0.2",
        **env,
    }
    environ.pop("MODELRY_SERVE_SETTINGS", None)
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "modelry.api.app:app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=environ, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready in 30 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
