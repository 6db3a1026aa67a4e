"""Helpers for the HTTP service tests: a sample instance, in-process and live servers."""

from __future__ import annotations

import csv
import json
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


def binary_infer_request() -> tuple[bytes, dict[str, str]]:
    """A V2 request of two rows (INSTANCE, and a 70-year-old student) under the binary
    tensor extension, both ways: ``age`` and ``job`` in the binary part, ``probability``
    asked for in binary. The body and its ``Inference-Header-Content-Length`` header."""
    job = b"".join(len(s).to_bytes(4, "little") + s for s in [b"admin.", b"student"])
    age = np.array([41, 70], dtype=np.int32).tobytes()
    header = {
        "inputs": [
            {"name": "age", "datatype": "INT32", "shape": [2],
             "parameters": {"binary_data_size": len(age)}},
            {"name": "job", "datatype": "BYTES", "shape": [2],
             "parameters": {"binary_data_size": len(job)}},
            {"name": "balance", "datatype": "FP64", "shape": [2], "data": [1200.5, 1200.5]},
            {"name": "member", "datatype": "BYTES", "shape": [2], "data": ["yes", "yes"]},
        ],
        "outputs": [
            {"name": "probability", "parameters": {"binary_data": True}},
            {"name": "label"},
        ],
    }  # fmt: skip
    head = json.dumps(header).encode()
    return head + age + job, {"Inference-Header-Content-Length": str(len(head))}


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
