"""Running the app under uvicorn (what ``modelry serve`` calls)."""

from __future__ import annotations

import os

from modelry.api.app import (
    EAGER_ENV,
    MODELS_ENV,
    SETTINGS_ENV,
    create_app,
    settings_to_json,
    tune_gc,
)
from modelry.settings import Settings


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    models: list[str] | None = None,
    *,
    eager: bool = True,
    log_level: str = "info",
) -> None:
    """Serve until interrupted: uvloop + httptools when installed, no access log.

    The process's cyclic GC runs less often (:func:`~modelry.api.app.tune_gc`);
    uvicorn's proxy-header rewriting is off (modelry reads no client address, and
    the middleware runs on every request), and so is its ``server: uvicorn`` header.

    With ``workers > 1`` uvicorn starts that many processes, each building its own
    app through :func:`modelry.api.app.app_from_env` from the environment set here;
    each watches the registry and hot-swaps on its own.
    """
    import uvicorn

    common = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": log_level,
        "proxy_headers": False,
        "server_header": False,
    }
    if workers <= 1:
        tune_gc()
        uvicorn.run(create_app(settings, models, eager=eager), **common)  # type: ignore[arg-type]
        return
    os.environ[SETTINGS_ENV] = settings_to_json(settings)
    os.environ[MODELS_ENV] = ",".join(models or [])
    os.environ[EAGER_ENV] = "1" if eager else "0"
    uvicorn.run(
        "modelry.api.app:app_from_env",
        factory=True,
        workers=workers,
        **common,  # type: ignore[arg-type]
    )
