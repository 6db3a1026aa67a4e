"""``modelry serve``: every registered model (or those named) over HTTP."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from modelry.settings import Settings


class Engine(StrEnum):
    embedded = "embedded"
    ray = "ray"


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    engine: Annotated[
        Engine,
        typer.Option(
            help="embedded: uvicorn in this process; ray: Ray Serve, a deployment per version."
        ),
    ] = Engine.embedded,
    address: Annotated[
        str | None,
        typer.Option(
            help="--engine ray: the cluster to join (auto, HOST:6379, ray://HOST:10001); "
            "default: start a local Ray instance."
        ),
    ] = None,
    num_cpus: Annotated[
        int | None, typer.Option(min=1, help="--engine ray: CPUs of the local Ray instance.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    models: Annotated[str | None, typer.Option(help="Only these models, comma-separated.")] = None,
    api_key: Annotated[
        list[str] | None, typer.Option("--api-key", help="Require this bearer key (repeatable).")
    ] = None,
    batching: Annotated[
        bool | None,
        typer.Option(
            "--batching/--no-batching",
            help="Adaptive batching: concurrent requests share one predict call (default on).",
        ),
    ] = None,
    max_batch_size: Annotated[
        int | None, typer.Option(min=1, help="Most rows per predict call (default 64).")
    ] = None,
    max_batch_wait_ms: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1000.0,
            help=(
                "How long a request may wait for company (default 0: no timer, a batch "
                "goes once requests stop arriving)."
            ),
        ),
    ] = None,
) -> None:
    """Serve models over HTTP: Open Inference Protocol v2 and a simple JSON API."""
    from modelry.api.server import serve

    updates: dict[str, object] = {}
    if api_key:
        updates["api_keys"] = list(api_key)
    if batching is not None:
        updates["batching"] = batching
    if max_batch_size is not None:
        updates["max_batch_size"] = max_batch_size
    if max_batch_wait_ms is not None:
        updates["max_batch_wait_ms"] = max_batch_wait_ms
    settings = Settings().model_copy(update=updates)
    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    if engine is Engine.ray:
        if workers > 1:
            from modelry.errors import ConfigError

            raise ConfigError(
                "--workers is the embedded engine's; on Ray each model scales on its own: "
                "modelry models scale NAME --replicas N"
            )
        _serve_on_ray(settings, address, host, port, names, num_cpus)
        return
    serve(settings, host=host, port=port, workers=workers, models=names)


def _serve_on_ray(
    settings: Settings,
    address: str | None,
    host: str,
    port: int,
    names: list[str] | None,
    num_cpus: int | None,
) -> None:
    from modelry.errors import MissingExtraError

    try:
        from modelry.rayserve.launch import check_address, serve_on_ray
    except ImportError as exc:
        raise MissingExtraError("ray", "ray") from exc
    check_address(address)
    where = address or "a local Ray instance"
    serve_on_ray(
        settings,
        address=address,
        host=host,
        port=port,
        models=names,
        num_cpus=num_cpus,
        announce=lambda url: print(f"serving on Ray ({where}) at {url}; Ctrl-C stops", flush=True),
    )
