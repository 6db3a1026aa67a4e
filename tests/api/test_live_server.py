"""A real uvicorn server on loopback, with plain httpx and with ``tritonclient.http``.

Also: the hot swap under concurrent load, and what a request imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from servekit import INSTANCE, live_server

from modelry.registry.store import Registry
from modelry.settings import Settings

ROWS = [INSTANCE, {**INSTANCE, "age": 70, "job": "student", "member": "no"}]
ADMIN = {"Authorization": "Bearer admin"}


@pytest.fixture(scope="module")
def server(models_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import shutil

    home = tmp_path_factory.mktemp("live") / "home"
    shutil.copytree(models_home, home, ignore=shutil.ignore_patterns("data", "trained"))
    with live_server(home, MODELRY_ADMIN_KEYS='["admin"]') as url:
        yield url


def v1_scores(url: str, model: str = "clients") -> list[float]:
    r = httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": ROWS})
    assert r.status_code == 200, r.text
    return [p["score"] for p in r.json()["predictions"]]


def triton_inputs(binary: bool) -> list[triton.InferInput]:
    inputs = []
    for name in INSTANCE:
        values = [row[name] for row in ROWS]
        if isinstance(values[0], str):
            array = np.array(values, dtype=np.object_)
            item = triton.InferInput(name, [len(values)], "BYTES")
        else:
            array = np.array(values, dtype=np.float64)
            item = triton.InferInput(name, [len(values)], "FP64")
        item.set_data_from_numpy(array, binary_data=binary)
        inputs.append(item)
    return inputs


def test_plain_http(server: str) -> None:
    assert httpx.get(f"{server}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{server}/v2/models/clients").json()["versions"] == ["1", "2"]
    assert len(v1_scores(server)) == 2
    r = httpx.post(f"{server}/v1/models/clients:predict", content=b"{oops")
    assert r.status_code == 400
    r = httpx.post(
        f"{server}/v1/models/clients:predict",
        content=b"x" * (11 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert "modelry_requests_total" in httpx.get(f"{server}/metrics").text
    assert httpx.get(f"{server}/openapi.json").status_code == 200


@pytest.mark.parametrize("binary_in", [False, True])
@pytest.mark.parametrize("binary_out", [False, True])
def test_tritonclient(server: str, binary_in: bool, binary_out: bool) -> None:
    client = triton.InferenceServerClient(server.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("clients")
    assert client.get_server_metadata()["name"] == "modelry"
    meta = client.get_model_metadata("clients")
    assert [i["name"] for i in meta["inputs"]] == list(INSTANCE)
    outputs = [
        triton.InferRequestedOutput("probability", binary_data=binary_out),
        triton.InferRequestedOutput("label", binary_data=binary_out),
    ]
    result = client.infer("clients", triton_inputs(binary_in), outputs=outputs, request_id="t-1")
    probability = result.as_numpy("probability")
    assert probability.shape == (2,) and probability.dtype == np.float32
    assert probability.tolist() == pytest.approx(v1_scores(server), abs=1e-6)
    labels = result.as_numpy("label")
    assert [x.decode() if isinstance(x, bytes) else x for x in labels] == [
        "yes" if p >= 0.5 else "no" for p in probability
    ]
    assert result.get_response()["id"] == "t-1"
    # no outputs named: tritonclient asks for every output in binary
    everything = client.infer("clients", triton_inputs(binary_in), model_version="2")
    assert everything.as_numpy("probability").tolist() == pytest.approx(probability.tolist())


@pytest.mark.parametrize("binary_out", [False, True])
def test_tritonclient_explain(server: str, binary_out: bool) -> None:
    client = triton.InferenceServerClient(server.removeprefix("http://"))
    plain = client.infer("clients", triton_inputs(True))  # a normal infer is unchanged
    assert plain.as_numpy("explanation") is None
    outputs = [
        triton.InferRequestedOutput("probability", binary_data=binary_out),
        triton.InferRequestedOutput("explanation", binary_data=binary_out),
    ]
    for kwargs in ({"parameters": {"explain": True}}, {"outputs": outputs}):
        result = client.infer("clients", triton_inputs(False), **kwargs)  # type: ignore[arg-type]
        probability = result.as_numpy("probability")
        assert probability.tolist() == pytest.approx(plain.as_numpy("probability").tolist())
        rows = [json.loads(x) for x in result.as_numpy("explanation")]
        assert len(rows) == len(ROWS)
        for row, p in zip(rows, probability, strict=True):
            assert set(row["attributions"]) == set(INSTANCE) and row["reasons"]
            assert row["score"] == pytest.approx(float(p), abs=1e-4)
            gap = sum(row["attributions"].values()) - (row["score"] - row["baseline_score"])
            assert abs(gap) < 1e-3


def test_tritonclient_multiclass_and_repository(server: str) -> None:
    client = triton.InferenceServerClient(server.removeprefix("http://"))
    result = client.infer("tiers", triton_inputs(True))
    assert result.as_numpy("probability").shape == (2, 3)
    names = {m["name"] for m in client.get_model_repository_index()}
    assert names == {"clients", "tiers", "spend"}
    with pytest.raises(triton.InferenceServerException):
        client.unload_model("spend")  # needs the admin key
    client.unload_model("spend", headers=ADMIN)
    assert not client.is_model_ready("spend")
    client.load_model("spend", headers=ADMIN)
    assert client.is_model_ready("spend")
    with pytest.raises(triton.InferenceServerException, match="nope"):
        client.infer("nope", triton_inputs(False))


def test_hot_swap_under_load_without_a_failed_request(models_home: Path, tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(models_home, home, ignore=shutil.ignore_patterns("data", "trained"))
    registry = Registry(Settings(home=home))
    registry.set_alias("clients", "production", 1)
    with live_server(home) as url:
        stop = threading.Event()
        seen: list[int] = []
        failures: list[str] = []

        def hammer() -> None:
            with httpx.Client(base_url=url, timeout=10) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/v1/models/clients:predict", json={"instances": [INSTANCE]})
                        if r.status_code != 200:
                            failures.append(f"{r.status_code} {r.text}")
                        else:
                            seen.append(r.json()["version"])
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))

        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            promote = [sys.executable, "-m", "modelry.cli.main", "models", "promote"]
            subprocess.run(
                [*promote, "clients", "2"],
                env={**os.environ, "MODELRY_HOME": str(home)},
                check=True,
                capture_output=True,
                timeout=60,
            )
            for version in (1, 2):
                time.sleep(0.8)
                registry.set_alias("clients", "production", version)  # what promote does
            time.sleep(0.8)
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert not failures, failures[:5]
    assert len(seen) > 100
    # the served version moved 1 → 2 → 1 → 2, in that order
    changes = [v for i, v in enumerate(seen) if i == 0 or v != seen[i - 1]]
    assert changes[0] == 1 and changes[-1] == 2 and len(changes) >= 4
    assert Counter(seen).keys() == {1, 2}


def test_a_request_imports_neither_pandas_nor_torch(models_home: Path) -> None:
    script = f"""
import asyncio, json, sys
import httpx
from modelry.api.app import create_app
from modelry.settings import Settings

async def main():
    app = create_app(Settings(home={str(models_home)!r}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
            r = await c.post("/v1/models/clients:predict", json={{"instances": [{INSTANCE!r}]}})
            assert r.status_code == 200, r.text
            r = await c.post("/v2/models/tiers/infer", json={{"inputs": [
                {{"name": k, "datatype": "BYTES" if isinstance(v, str) else "FP64",
                  "shape": [1], "data": [v]}} for k, v in {INSTANCE!r}.items()]}})
            assert r.status_code == 200, r.text
    print(json.dumps(sorted(m for m in ("pandas", "torch") if m in sys.modules)))

asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
