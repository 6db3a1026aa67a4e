"""Per-request cost of the ASGI apps without sockets: drives each app with a synthetic
ASGI scope/receive/send in a loop and reports µs per request (and a cProfile with --profile).

    python inproc.py MODELRY_HOME PAYLOAD_DIR [--model bank] [-n 5000] [--profile v1|v2]
        [--stub-model] [--concurrency 1] [--sort tottime|cumulative] [--top 25]

``--concurrency K`` sends the requests K at a time (``asyncio.gather``), as K connections
of a load generator would, so that adaptive batching joins them; the figure is still µs
per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


async def drive(app: Any, path: str, body: bytes, n: int, concurrency: int = 1) -> float:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope_base = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }  # fmt: skip
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    start = time.perf_counter()
    if concurrency == 1:
        for _ in range(n):
            await app(dict(scope_base), receive, send)
    else:
        for _ in range(n // concurrency):
            await asyncio.gather(
                *(app(dict(scope_base), receive, send) for _ in range(concurrency))
            )
        n = n // concurrency * concurrency
    elapsed = time.perf_counter() - start
    assert set(status) == {200}, set(status)
    return elapsed / n * 1e6


def _columns(served: Any) -> dict[str, Any]:
    import numpy as np

    return {
        name: np.array([1.0]) if kind == "number" else np.array(["x"], dtype=object)
        for name, kind in served.spec.kinds.items()
    }


async def main() -> None:
    from floor_starlette import app as floor

    from modelry.api.app import create_app, tune_gc
    from modelry.settings import Settings

    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("payloads", type=Path)
    parser.add_argument("--model", default="bank")
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--profile", choices=["v1", "v2"])
    parser.add_argument("--sort", default="tottime", help="profile order (pstats key)")
    parser.add_argument("--top", type=int, default=25, help="profile lines shown")
    parser.add_argument("--concurrency", type=int, default=1, help="requests sent at once")
    parser.add_argument(
        "--stub-model",
        action="store_true",
        help="replace the model's predict by a constant: the service's own cost",
    )
    args = parser.parse_args()
    tune_gc()  # as `modelry serve` does
    app = create_app(Settings(home=args.home), [args.model])
    v1 = (args.payloads / "v1.json").read_bytes()
    v2 = (args.payloads / "v2.json").read_bytes()
    cases = {
        "floor": (floor, "/predict", v1),
        "v1": (app, f"/v1/models/{args.model}:predict", v1),
        "v2": (app, f"/v2/models/{args.model}/infer", v2),
    }
    async with app.router.lifespan_context(app):
        if args.stub_model:
            served = app.state.plane.pool.lookup(args.model, None)
            constant = served.runtime.predict({k: v[:1] for k, v in _columns(served).items()})
            served.runtime.predict = lambda columns: constant
        if args.profile:  # after --stub-model: the service's own cost
            target, path, body = cases[args.profile]
            await drive(target, path, body, 200, args.concurrency)
            profiler = cProfile.Profile()
            profiler.enable()
            await drive(target, path, body, args.n, args.concurrency)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
            return
        for name, (target, path, body) in cases.items():
            await drive(target, path, body, 200, args.concurrency)
            cost = await drive(target, path, body, args.n, args.concurrency)
            print(f"{name:6s} {cost:8.1f} µs/request")


if __name__ == "__main__":
    asyncio.run(main())
