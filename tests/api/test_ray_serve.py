"""``modelry serve --engine ray``: the same HTTP service on Ray Serve, a deployment per version.

One local Ray instance (2 CPUs, no dashboard) and one Serve proxy serve the whole module;
each test deploys the ingress over its own registry. The tests compare the embedded server
and Ray over real HTTP on loopback, serve a head composed with the shared text encoder
through deployment handles, promote a version under load, and kill a replica under load.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from servekit import INSTANCE, binary_infer_request, free_port, live_server

import modelry
from modelry.registry.serving_config import ModelServing, read_serving, write_serving
from modelry.registry.store import Registry
from modelry.settings import Settings

ray = pytest.importorskip("ray", reason="needs the ray extra: modelry[ray]")
serve = pytest.importorskip("ray.serve")

from modelry.rayserve import launch  # noqa: E402  (after the skip: it imports ray)

pytestmark = [pytest.mark.ray, pytest.mark.slow]

PLUGIN = Path(__file__).resolve().parent / "rayplugin"
KEY = "k-ray-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray instance with Serve's proxy on a free loopback port; its URL."""
    # Ray's workers inherit this environment: they import this checkout and the test kind.
    source = str(Path(modelry.__file__).parents[1])
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (source, str(PLUGIN), saved) if p)
    launch.connect(None, num_cpus=2)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        launch.shutdown()
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def on_ray(url: str, settings: Settings, watch_interval: float = 1.0) -> None:
    """Replace whatever runs on the cluster by modelry over ``settings``; wait until ready."""
    for app in list(serve.status().applications):
        serve.delete(app)
    host, port = url.removeprefix("http://").split(":")
    launch.deploy(settings, host=host, port=int(port), watch_interval=watch_interval)
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/v2/health/ready", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the ingress did not become ready"
        time.sleep(0.2)


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[str, object], None]:
    """Note a measured figure in the test report (and print it, for ``-s``)."""

    def note(name: str, value: object) -> None:
        request.node.user_properties.append((name, value))
        print(f"\n{request.node.name}: {name} = {value}")

    return note


def served_version(url: str, name: str) -> int:
    meta = httpx.get(f"{url}/v2/models/{name}", headers=AUTH, timeout=30).json()
    return int(meta["parameters"]["version"])


# -- 1. the same protocol as the embedded server -------------------------------------------

V2_BODY = {
    "inputs": [
        {"name": "age", "datatype": "FP64", "shape": [2], "data": [41, 70]},
        {"name": "job", "datatype": "BYTES", "shape": [2], "data": ["admin.", "student"]},
        {"name": "balance", "datatype": "FP64", "shape": [2], "data": [1200.5, 80.0]},
        {"name": "member", "datatype": "BYTES", "shape": [2], "data": ["yes", "no"]},
    ]
}


def binary_request() -> tuple[bytes, dict[str, str]]:
    body, headers = binary_infer_request()
    return body, {**headers, **AUTH}


# (method, path, body: JSON, raw bytes with headers, or None, headers)
Request = tuple[str, str, Any, dict[str, str]]


def requests_table() -> list[Request]:
    raw, binary_headers = binary_request()
    bad = {"instances": [{**INSTANCE, "age": "old"}]}
    return [
        ("GET", "/v2/health/live", None, {}),
        ("GET", "/v2/health/ready", None, {}),
        ("GET", "/v2", None, AUTH),
        ("GET", "/v1/models", None, AUTH),
        ("GET", "/v1/models/clients", None, AUTH),
        ("GET", "/v2/models/clients", None, AUTH),
        ("GET", "/v2/models/clients/versions/1", None, AUTH),
        ("GET", "/v2/models/tiers/ready", None, AUTH),
        ("POST", "/v1/models/clients:predict", {"instances": [INSTANCE]}, AUTH),
        ("POST", "/v1/models/tiers:predict", {"instances": [INSTANCE, INSTANCE]}, AUTH),
        ("POST", "/v1/models/spend:predict", {"instances": [INSTANCE]}, AUTH),
        ("POST", "/v1/models/clients:predict", {"instances": [INSTANCE], "version": 1}, AUTH),
        ("POST", "/v1/models/clients:explain", {"instances": [INSTANCE]}, AUTH),
        ("POST", "/v2/models/clients/infer", V2_BODY, AUTH),
        ("POST", "/v2/models/tiers/versions/1/infer", V2_BODY, AUTH),
        ("POST", "/v2/models/clients/infer", (raw, binary_headers), AUTH),
        ("POST", "/v1/models/clients:predict", bad, AUTH),  # 422, names the field
        ("POST", "/v1/models/clients:predict", (b"{not json", {}), AUTH),  # 400
        ("POST", "/v1/models/nope:predict", {"instances": [INSTANCE]}, AUTH),  # 404
        ("GET", "/v2/models/clients/versions/9", None, AUTH),  # 404
        ("POST", "/v1/models/clients:predict", {"instances": [INSTANCE]}, {}),  # 401
        ("POST", "/v1/models/clients:predict", {"instances": [INSTANCE]}, {"Authorization": "x"}),
        ("GET", "/openapi.json", None, {}),
        ("GET", "/docs", None, {}),
        ("GET", "/metrics", None, AUTH),
    ]


def send(client: httpx.Client, request: Request) -> httpx.Response:
    method, path, body, headers = request
    if isinstance(body, tuple):
        content, extra = body
        return client.request(method, path, content=content, headers={**headers, **extra})
    return client.request(method, path, json=body, headers=headers)


def same(a: Any, b: Any) -> bool:
    """Equal JSON, floats within 1e-5 (explanations run torch in another process)."""
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-5, atol=1e-6))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def answer(response: httpx.Response, path: str) -> tuple[int, str, Any]:
    kind = response.headers.get("content-type", "").split(";")[0]
    if path == "/metrics":  # counts differ by what each server has served
        return response.status_code, kind, "modelry_requests_total" in response.text
    if kind == "application/json":
        return response.status_code, kind, response.json()
    return response.status_code, kind, response.content


def test_both_engines_answer_the_same_requests_alike(
    cluster: str, home: Path, record: Callable[[str, object], None]
) -> None:
    settings = Settings(home=home, api_keys=[KEY])
    started = time.perf_counter()
    on_ray(cluster, settings)
    record("ray_deploy_s", round(time.perf_counter() - started, 1))
    table = requests_table()
    with (
        live_server(home, MODELRY_API_KEYS=json.dumps([KEY])) as embedded_url,
        httpx.Client(base_url=embedded_url, timeout=60) as client,
    ):
        embedded = [answer(send(client, r), r[1]) for r in table]
    with httpx.Client(base_url=cluster, timeout=60) as client:
        on_ray_answers = [answer(send(client, r), r[1]) for r in table]
    statuses = Counter(a[0] for a in embedded)
    assert statuses[200] >= 15 and {400, 401, 404, 422} <= set(statuses)
    for request, here, there in zip(table, embedded, on_ray_answers, strict=True):
        label = f"{request[0]} {request[1]}"
        assert here[:2] == there[:2], f"{label}: embedded {here[:2]}, ray {there[:2]}"
        assert same(here[2], there[2]), f"{label}: embedded {here[2]!r}\nray {there[2]!r}"
    # every served version runs as a deployment of its own
    apps = set(serve.status().applications)
    assert {"modelry", "clients-v2", "clients-v1", "tiers-v1", "spend-v1"} <= apps


# -- 3. promotion under load -----------------------------------------------------------------


class Load:
    """Client threads posting predictions until stopped; counts answers by status."""

    def __init__(self, url: str, path: str, body: Any, threads: int = 2) -> None:
        self.url, self.path, self.body = url, path, body
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[int] = Counter()
        self.errors: list[str] = []
        self.transport_errors = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    r = client.post(self.path, json=self.body, headers=AUTH)
                except httpx.TransportError as exc:
                    self.transport_errors += 1
                    self.errors.append(repr(exc))
                    continue
                self.statuses[r.status_code] += 1
                if r.status_code == 200:
                    self.versions[r.json().get("version", 0)] += 1
                else:
                    self.errors.append(r.text[:200])

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != 200) + self.transport_errors


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_promotion_under_load_fails_no_request(
    cluster: str, home: Path, record: Callable[[str, object], None]
) -> None:
    on_ray(cluster, Settings(home=home, api_keys=[KEY]), watch_interval=0.2)
    body = {"instances": [INSTANCE]}
    with Load(cluster, "/v1/models/clients:predict", body) as load:
        wait_for(lambda: load.versions[2] >= 20, 30, "requests on version 2")
        Registry(Settings(home=home)).set_alias("clients", "production", 1)
        wait_for(lambda: load.versions[1] >= 50, 60, "requests on version 1")
        # the retired version's application goes once its requests are done
        wait_for(lambda: "clients-v2" not in serve.status().applications, 30, "clients-v2 gone")
        time.sleep(0.5)
    record("promotion_requests", sum(load.statuses.values()))
    assert load.statuses == Counter({200: sum(load.statuses.values())}), load.errors[:3]
    assert not load.errors, load.errors[:3]


# -- 4. a replica killed under load -------------------------------------------------------------


def replica_actors(app: str) -> set[str]:
    from ray.util import list_named_actors

    prefix = f"SERVE_REPLICA::{app}#"
    return {
        a["name"] for a in list_named_actors(all_namespaces=True) if a["name"].startswith(prefix)
    }


def test_a_killed_replica_is_replaced_under_load(
    cluster: str, home: Path, record: Callable[[str, object], None]
) -> None:
    write_serving(home, "clients", ModelServing(num_replicas=2, num_cpus=0.2))
    on_ray(cluster, Settings(home=home, api_keys=[KEY]))
    version = served_version(cluster, "clients")
    app = f"clients-v{version}"
    wait_for(lambda: len(replica_actors(app)) == 2, 60, f"two replicas of {app}")
    before = replica_actors(app)
    body = {"instances": [INSTANCE]}
    with Load(cluster, "/v1/models/clients:predict", body) as load:
        wait_for(lambda: load.statuses[200] >= 20, 30, "requests served")
        victim = sorted(before)[0]
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        killed_at = time.monotonic()
        wait_for(
            lambda: (
                len(replica_actors(app) - before) == 1
                and launch.replica_count("clients", version) == 2
            ),
            90,
            "a replacement replica",
        )
        replaced_s = time.monotonic() - killed_at
        served = load.statuses[200]
        wait_for(lambda: load.statuses[200] >= served + 20, 30, "requests after the replacement")
    failed = load.failed
    total = sum(load.statuses.values()) + load.transport_errors
    record("kill_failed_requests", failed)
    record("kill_total_requests", total)
    record("kill_replaced_s", round(replaced_s, 1))
    assert victim not in replica_actors(app)
    assert failed <= total // 10  # what failed was in flight on the killed replica


# -- scaling ------------------------------------------------------------------------------------


def test_models_scale_changes_a_running_deployment_and_persists(
    cluster: str, home: Path, run_cli: Any
) -> None:
    write_serving(home, "clients", ModelServing(num_cpus=0.2))
    on_ray(cluster, Settings(home=home, api_keys=[KEY]))
    version = served_version(cluster, "clients")
    app = f"clients-v{version}"
    assert len(replica_actors(app)) == 1
    done = run_cli("models", "scale", "clients", "--replicas", "2", "--address", "auto", "--json",
                   home=home)  # fmt: skip
    assert done.code == 0, done.err
    printed = json.loads(done.out)
    assert printed["applied_to_versions"] == [version] and printed["serving"]["num_replicas"] == 2
    wait_for(lambda: launch.replica_count("clients", version) == 2, 60, f"two replicas of {app}")
    with httpx.Client(base_url=cluster, timeout=30, headers=AUTH) as client:
        r = client.post("/v1/models/clients:predict", json={"instances": [INSTANCE]})
        assert r.status_code == 200, r.text
    stored = read_serving(home, "clients")
    assert stored.num_replicas == 2 and stored.num_cpus == 0.2  # merged, not replaced
    done = run_cli("models", "scale", "clients", "--min", "1", "--max", "3", home=home)
    assert done.code == 0, done.err
    assert read_serving(home, "clients").autoscaling
    bad = run_cli("models", "scale", "clients", "--min", "3", "--max", "1", home=home)
    assert bad.code == 1 and "min_replicas" in bad.err


# -- 2. composition through deployment handles --------------------------------------------------


def register_head(home: Path, name: str, seed: int) -> None:
    registry = Registry(Settings(home=home))
    direction = np.random.default_rng(seed).normal(size=384)
    with registry.new_artifact() as writer:
        writer.write_json(
            "head.json", {"direction": (direction / np.linalg.norm(direction)).tolist()}
        )
        staged = writer.finish({"name": name, "kind": "embedding-head"})
        registry.register(name, staged, task="embedding-head", metrics={}, lineage={})


def test_heads_reach_the_shared_encoder_deployment_by_handle(
    cluster: str, encoder_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    monkeypatch.syspath_prepend(str(PLUGIN))  # here; Ray's workers have it on PYTHONPATH
    importlib.invalidate_caches()
    home = tmp_path / "home"
    shutil.copytree(encoder_home, home, ignore=shutil.ignore_patterns("added.json"))
    register_head(home, "fit-a", 1)
    register_head(home, "fit-b", 2)
    write_serving(home, "text-encoder", ModelServing(num_replicas=2, num_cpus=0.3))
    write_serving(home, "fit-b", ModelServing(num_cpus=0.1, batcher="ray"))
    on_ray(cluster, Settings(home=home, api_keys=[KEY]))
    assert launch.replica_count("text-encoder", 1) == 2
    assert launch.replica_count("fit-a", 1) == launch.replica_count("fit-b", 1) == 1
    texts = ["Registered nurse, eight years in intensive care.", "python pandas sql airflow"]
    with httpx.Client(base_url=cluster, timeout=60, headers=AUTH) as client:
        vectors = client.post(
            "/v1/models/text-encoder:predict", json={"instances": [{"text": t} for t in texts]}
        )
        assert vectors.status_code == 200, vectors.text
        embedding = np.array([p["embedding"] for p in vectors.json()["predictions"]])
        for name, seed in (("fit-a", 1), ("fit-b", 2)):
            r = client.post(f"/v1/models/{name}:predict",
                            json={"instances": [{"resume": t} for t in texts]})  # fmt: skip
            assert r.status_code == 200, r.text
            direction = np.random.default_rng(seed).normal(size=384)
            expected = embedding @ (direction / np.linalg.norm(direction))
            scores = [p["score"] for p in r.json()["predictions"]]
            np.testing.assert_allclose(scores, expected, atol=1e-4)
        listed = {
            m["name"]: m["loaded_versions"] for m in client.get("/v1/models").json()["models"]
        }
    assert listed == {"text-encoder": [1], "fit-a": [1], "fit-b": [1]}
    # the heads' replicas hold no encoder: only the encoder's application runs one
    apps = serve.status().applications
    assert {"text-encoder-v1", "fit-a-v1", "fit-b-v1"} <= set(apps)
    handle = serve.get_deployment_handle("model", app_name="fit-a-v1")
    assert handle.stats.remote().result()["encoded"] is None


# -- a version that cannot be served ------------------------------------------------------------


def test_a_version_that_fails_to_deploy_is_refused_by_name_and_removed(
    cluster: str, home: Path
) -> None:
    registry = Registry(Settings(home=home))
    with registry.new_artifact() as writer:
        writer.write_json("x.json", {})
        staged = writer.finish({"name": "broken", "kind": "nope"})
        registry.register("broken", staged, task="nope", metrics={}, lineage={})
    on_ray(cluster, Settings(home=home, api_keys=[KEY]))  # ready: the others are served
    with httpx.Client(base_url=cluster, timeout=120, headers=AUTH) as client:
        r = client.post("/v1/models/broken:predict", json={"instances": [{"a": 1}]})
        assert r.status_code == 500
        assert "broken-v1" in r.json()["error"] and "unknown model kind 'nope'" in r.json()["error"]
        ok = client.post("/v1/models/clients:predict", json={"instances": [INSTANCE]})
        assert ok.status_code == 200, ok.text
    wait_for(lambda: "broken-v1" not in serve.status().applications, 30, "broken-v1 removed")
