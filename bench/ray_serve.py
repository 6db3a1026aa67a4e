"""The bank model on Ray Serve against the embedded server; the encoder on 1 and 2 replicas.

Same machine, same registry, same wrk settings, interleaved: every round measures the
embedded server (``modelry serve``, uvicorn), then Ray Serve with modelry's batcher in the
replicas, then Ray Serve with ``@serve.batch`` (the order reversed every other round),
each after a warm-up. Then the shared text encoder on Ray with 1 and with 2 replicas
(every request a new résumé-like text, so its cache never answers), interleaved the same
way. Ray runs locally (``ray.init(num_cpus=2)``, no dashboard) in this process; the
embedded server is a subprocess. The table (req/s, p50, p99, errors; median over rounds) is
printed and appended with the command to ``bench/history.md``.

    .venv/bin/python bench/ray_serve.py [--dur 15] [--warm 5] [--conns 8] [--rounds 2]
        [--home /tmp/modelry-bench-home] [--no-encoder] [--no-results]

    .venv/bin/python bench/ray_serve.py --dur 2 --warm 1 --rounds 1 --no-results  # a smoke

``--home`` must hold model ``bank`` (``bench/serve/run.sh`` trains it there, or
``modelry train bank-additional-full.csv --target y --drop duration --name bank``) and,
for the encoder rows, ``text-encoder`` (``modelry encoder add``); missing ones are made
first. Ray's per-request overhead (proxy → ingress → model replica: two extra hops, each a
process boundary) is the difference between the rows at the same concurrency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from context import (  # noqa: E402
    BANK,
    append_results,
    command_line,
    cpu_model,
    cpu_snapshot,
    foreign_cpu,
)

MODELRY = [sys.executable, "-m", "modelry.cli.main"]
POST_LUA = BENCH / "serve" / "post.lua"
ENCODER_LUA = BENCH / "serve" / "encoder.lua"


def ensure_models(home: Path, csv: Path, encoder: bool) -> None:
    env = {**os.environ, "MODELRY_HOME": str(home)}
    shown = subprocess.run([*MODELRY, "models", "show", "bank"], env=env, capture_output=True)
    if shown.returncode != 0:
        print(f"== training bank into {home}")
        train = [*MODELRY, "train", str(csv), "--target", "y", "--drop", "duration"]
        subprocess.run([*train, "--name", "bank"], env=env, check=True, capture_output=True)
    if encoder:
        shown = subprocess.run(
            [*MODELRY, "models", "show", "text-encoder"], env=env, capture_output=True
        )
        if shown.returncode != 0:
            print(f"== adding text-encoder to {home}")
            subprocess.run([*MODELRY, "encoder", "add"], env=env, check=True, capture_output=True)


def wait_ready(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become ready")
        time.sleep(0.2)


def settled(name: str, replicas: int, seconds: float = 180) -> None:
    """Wait until every running version of ``name`` has exactly ``replicas`` replicas
    running and its application is RUNNING: a redeploy replaces replicas one by one, and a
    row measured mid-update would time the update, not the settings."""
    from ray import serve

    from modelry.rayserve.launch import replica_count, running_versions
    from modelry.rayserve.replica import app_name

    deadline = time.monotonic() + seconds
    while True:
        versions = running_versions(name)
        apps = serve.status().applications
        if versions and all(
            replica_count(name, v) == replicas
            and str(apps[app_name(name, v)].status).endswith("RUNNING")
            for v in versions
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not settle on {replicas} running replicas")
        time.sleep(0.5)


def wrk(url: str, path: str, script: Path, body: Path | None, seconds: float, conns: int) -> dict:
    env = {**os.environ, "BODY_FILE": str(body or "")}
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds
    command = ["wrk", "-t1", f"-c{conns}", duration, "--timeout", "10s", "-s", str(script)]
    done = subprocess.run(
        [*command, url + path], env=env, capture_output=True, text=True, timeout=seconds + 60
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout}\n{done.stderr}")
    result: dict = json.loads(line.removeprefix("RESULT "))
    return result


def measure(url: str, path: str, script: Path, body: Path | None, args: argparse.Namespace) -> dict:
    wrk(url, path, script, body, args.warm, args.conns)
    return wrk(url, path, script, body, args.dur, args.conns)


def errors(r: dict) -> int:
    keys = ("err_connect", "err_read", "err_write", "err_timeout", "non2xx3xx")
    return int(sum(r[k] for k in keys))


def table(rows: dict[str, list[dict]], title: str) -> str:
    lines = [
        f"| {title} | req/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for system, results in rows.items():
        rps = statistics.median(r["rps"] for r in results)
        p50 = statistics.median(r["lat_p50_ms"] for r in results)
        p99 = statistics.median(r["lat_p99_ms"] for r in results)
        lines.append(
            f"| {system} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {sum(map(errors, results))} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/modelry-bench-home"))
    parser.add_argument("--csv", type=Path, default=BANK)
    parser.add_argument("--dur", type=float, default=15)
    parser.add_argument("--warm", type=float, default=5)
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--embedded-port", type=int, default=8091)
    parser.add_argument("--ray-port", type=int, default=8092)
    parser.add_argument("--no-encoder", action="store_true")
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    home = args.home.resolve()
    encoder = not args.no_encoder
    ensure_models(home, args.csv, encoder)
    os.environ["MODELRY_HOME"] = str(home)
    payloads = Path("/tmp/modelry-bench-ray-payloads")
    subprocess.run(
        [sys.executable, str(BENCH / "serve" / "payloads.py"), str(args.csv), str(payloads)],
        check=True,
    )
    body = payloads / "v1.json"

    from modelry.rayserve.launch import connect, deploy, scale_model, shutdown
    from modelry.registry.serving_config import read_serving, write_serving
    from modelry.settings import Settings

    settings = Settings(home=home)
    saved = {name: read_serving(home, name) for name in ("bank", "text-encoder")}
    embedded_url = f"http://127.0.0.1:{args.embedded_port}"
    ray_url = f"http://127.0.0.1:{args.ray_port}"
    serve_cmd = [*MODELRY, "serve", "--port", str(args.embedded_port), "--models", "bank"]
    embedded = subprocess.Popen(serve_cmd, stderr=subprocess.DEVNULL)
    started, wall = cpu_snapshot(), time.monotonic()
    bank_rows: dict[str, list[dict]] = {
        "embedded (uvicorn)": [],
        "Ray Serve, modelry batcher": [],
        "Ray Serve, @serve.batch": [],
    }
    encoder_rows: dict[str, list[dict]] = {"encoder, 1 replica": [], "encoder, 2 replicas": []}
    try:
        connect(None, num_cpus=2)
        models = ["bank", "text-encoder"] if encoder else ["bank"]
        deploy(settings, models, port=args.ray_port)
        wait_ready(embedded_url)
        wait_ready(ray_url)

        def on_ray(batcher: str) -> None:
            cfg = saved["bank"].model_copy(update={"batcher": batcher})
            scale_model(settings, "bank", cfg)
            settled("bank", cfg.num_replicas)
            wait_ready(ray_url)

        path = "/v1/models/bank:predict"
        for round_ in range(args.rounds):
            order = list(bank_rows)
            if round_ % 2:
                order.reverse()
            for system in order:
                if system == "embedded (uvicorn)":
                    bank_rows[system].append(measure(embedded_url, path, POST_LUA, body, args))
                    continue
                on_ray("ray" if "serve.batch" in system else "modelry")
                bank_rows[system].append(measure(ray_url, path, POST_LUA, body, args))
            print(table(bank_rows, f"bank, round {round_ + 1}"), flush=True)
        if encoder:
            path = "/v1/models/text-encoder:predict"
            for round_ in range(args.rounds):
                order = list(encoder_rows)
                if round_ % 2:
                    order.reverse()
                for system in order:
                    replicas = 2 if "2 replicas" in system else 1
                    cfg = saved["text-encoder"].model_copy(update={"num_replicas": replicas})
                    scale_model(settings, "text-encoder", cfg)
                    settled("text-encoder", replicas)
                    encoder_rows[system].append(measure(ray_url, path, ENCODER_LUA, None, args))
                print(table(encoder_rows, f"encoder, round {round_ + 1}"), flush=True)
    finally:
        embedded.terminate()
        embedded.wait(timeout=30)
        shutdown()
        for name, cfg in saved.items():  # the bench's changes do not outlive it
            write_serving(home, name, cfg)
    elapsed = time.monotonic() - wall
    section = "\n".join(
        [
            f"## Ray Serve vs embedded ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
            "",
            f"command: `{command_line()}`",
            f"CPU: {cpu_model()}, {os.cpu_count()} cores; other processes took "
            f"{foreign_cpu(started, cpu_snapshot(), elapsed)} meanwhile. wrk -t1 -c{args.conns}, "
            f"{args.warm:g} s warm-up + {args.dur:g} s per row, {args.rounds} rounds interleaved, "
            "medians. Ray: local, 2 CPUs, ingress + one replica of bank (0.25 CPU each by "
            "default); one bank row per request (V1).",
            "",
            table(bank_rows, "bank"),
            "",
            table(encoder_rows, "text-encoder (new text per request)") if encoder else "",
        ]
    )
    print(section)
    if not args.no_results:
        append_results(section)


if __name__ == "__main__":
    main()
