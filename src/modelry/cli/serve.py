"""``modelry serve``: every registered model (or those named) over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from modelry.settings import Settings


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    models: Annotated[str | None, typer.Option(help="Only these models, comma-separated.")] = None,
    api_key: Annotated[
        list[str] | None, typer.Option("--api-key", help="Require this bearer key (repeatable).")
    ] = None,
    batching: Annotated[
        bool | None, typer.Option("--batching/--no-batching", help="Adaptive batching.")
    ] = None,
) -> None:
    """Serve models over HTTP: Open Inference Protocol v2 and a simple JSON API."""
    from modelry.api.server import serve

    updates: dict[str, object] = {}
    if api_key:
        updates["api_keys"] = list(api_key)
    if batching is not None:
        updates["batching"] = batching
    settings = Settings().model_copy(update=updates)
    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    serve(settings, host=host, port=port, workers=workers, models=names)
