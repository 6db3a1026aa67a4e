"""The ASGI application: one app for every transport that speaks HTTP.

Example:
    >>> app = create_app(Settings(home="/srv/modelry"), models=["bank"])  # doctest: +SKIP
    >>> uvicorn.run(app)  # doctest: +SKIP

``uvicorn --factory modelry.api.app:app_from_env`` builds the same app from the
environment (what ``modelry serve --workers N`` runs in each worker).
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from modelry.api.apps_endpoints import AppsAPI, RecruitmentAPI
from modelry.api.auth import KeyCheck
from modelry.api.error_responses import handle_exception
from modelry.api.explaining import build_explainer
from modelry.api.openapi import openapi_document
from modelry.api.routes import HotRoutes, build_routes
from modelry.api.service_metrics import CONTENT_TYPE, ServiceMetrics
from modelry.api.swagger import PAGE, SwaggerAssets
from modelry.api.v1_endpoints import V1API
from modelry.api.v2_endpoints import V2API
from modelry.errors import ConfigError
from modelry.registry.serving_config import read_serving, stored_names
from modelry.registry.store import Registry
from modelry.serving.batching import BatchPolicy, model_policy
from modelry.serving.dataplane import DataPlane, ExplainerFactory, RegistryView
from modelry.serving.pool import ModelPool, ServedLoader
from modelry.settings import Settings

log = logging.getLogger(__name__)

SETTINGS_ENV = "MODELRY_SERVE_SETTINGS"
MODELS_ENV = "MODELRY_SERVE_MODELS"
EAGER_ENV = "MODELRY_SERVE_EAGER"
WATCH_ENV = "MODELRY_SERVE_WATCH_INTERVAL"


class ServiceAPI:
    """``/metrics``, ``/openapi.json`` and ``/docs`` with its files."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.service_metrics = metrics
        self._openapi: bytes | None = None
        self._assets = SwaggerAssets()

    async def metrics(self, request: Request, labels: list[str]) -> Response:
        return Response(self.service_metrics.exposition(), media_type=CONTENT_TYPE)

    async def openapi(self, request: Request, labels: list[str]) -> Response:
        if self._openapi is None:
            self._openapi = orjson.dumps(openapi_document())
        return Response(self._openapi, media_type="application/json")

    async def docs(self, request: Request, labels: list[str]) -> Response:
        return HTMLResponse(PAGE)

    async def docs_file(self, request: Request, labels: list[str]) -> Response:
        body, media_type = self._assets.get(request.path_params["file"])
        # the files change only with the installed package: let browsers keep them a day
        return Response(body, media_type=media_type, headers={"Cache-Control": "max-age=86400"})


class Service(Starlette):
    """Starlette, with POSTs to the inference routes dispatched by :class:`HotRoutes`."""

    def __init__(self, routes: list[Route], **kwargs: Any) -> None:
        super().__init__(routes=routes, **kwargs)
        self.hot = HotRoutes(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None if self.user_middleware else self.hot.match(scope)
        if found is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await self.hot.handle(*found, scope, receive, send)


def batch_policy(settings: Settings) -> BatchPolicy:
    """The default batching policy the settings describe."""
    return BatchPolicy(
        enabled=settings.batching,
        max_batch_size=settings.max_batch_size,
        max_wait_ms=settings.max_batch_wait_ms,
    )


def stored_batching(settings: Settings) -> dict[str, BatchPolicy]:
    """Per-model batching from the models' serving settings (``MODELRY_HOME/serving``):
    the fields a model's record sets override the service's default policy."""
    default = batch_policy(settings)
    policies: dict[str, BatchPolicy] = {}
    for name in stored_names(settings.home):
        try:
            policies[name] = model_policy(read_serving(settings.home, name), default)
        except ConfigError as exc:  # one bad record must not stop the service
            log.warning("ignoring the serving settings of %s: %s", name, exc.message)
    return policies


def create_app(
    settings: Settings,
    models: list[str] | None = None,
    *,
    eager: bool = True,
    batching: Mapping[str, BatchPolicy] | None = None,
    registry: RegistryView | None = None,
    watch_interval: float = 1.0,
    loader: ServedLoader | None = None,
    explainers: ExplainerFactory | None = build_explainer,
) -> Starlette:
    """The HTTP service over the registry's models.

    Args:
        settings: Registry location, API keys, body limit, batching defaults.
        models: Serve only these model names (None: every registered model).
        eager: Load the served models at start-up (else on their first request).
        batching: Per-model batching policies overriding the settings' default (default:
            those the models' stored serving settings give, :func:`stored_batching`).
        registry: The registry to serve from (default: ``Registry(settings)``).
        watch_interval: Seconds between checks for promoted versions (hot swap).
        loader: Builds each served version (default: loaded in this process); the Ray
            engine's ingress passes one whose versions run in deployments of their own.
        explainers: Builds a version's explainer (default: in this process).
    """
    source: RegistryView = registry if registry is not None else Registry(settings)
    metrics = ServiceMetrics()
    if batching is None:
        batching = stored_batching(settings)
    pool = ModelPool(
        source,
        names=models,
        policy=batch_policy(settings),
        policies=batching,
        observer=metrics,
        loader=loader,
    )
    plane = DataPlane(pool, source, watch_interval=watch_interval, explainers=explainers)
    handlers: dict[str, object] = {
        "v2": V2API(plane, settings.max_body_bytes),
        "v1": V1API(plane, settings.max_body_bytes),
        "service": ServiceAPI(metrics),
        "apps": AppsAPI(plane, settings.max_body_bytes),
        "recruitment": RecruitmentAPI(plane, settings),
    }
    keys = KeyCheck(settings.api_keys, settings.admin_keys)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await plane.start(eager=eager)
        try:
            yield
        finally:
            await plane.stop()

    app = Service(
        build_routes(handlers, keys, metrics),
        lifespan=lifespan,
        exception_handlers={HTTPException: handle_exception, Exception: handle_exception},
    )
    app.state.plane = plane
    app.state.metrics = metrics
    return app


def settings_to_json(settings: Settings) -> str:
    """Settings as JSON for worker processes (secrets included: keep it in the env only)."""
    data = settings.model_dump(mode="json")
    data["pseudonymise_key"] = settings.pseudonymise_key.get_secret_value()
    return orjson.dumps(data).decode()


def settings_from_json(text: str) -> Settings:
    data = orjson.loads(text)
    kwargs = {}
    for name, info in Settings.model_fields.items():
        if name in data:
            alias = info.validation_alias
            kwargs[alias if isinstance(alias, str) else name] = data[name]
    return Settings(**kwargs)


GC_THRESHOLDS = (20_000, 20, 20)
"""The serving process's cyclic-GC thresholds (CPython's defaults: 700, 10, 10)."""


def tune_gc() -> None:
    """Collect young objects every 20,000 allocations rather than every 700.

    A prediction request allocates a few hundred containers (the parsed body, its
    columns, the response), so at the default threshold a young-generation
    collection ran every few requests. Cyclic garbage is rare on the request path
    (reference counting frees it), and 20,000 young objects are a few MB at most;
    measured side by side, one-row predictions ran ~8 % faster (bench/history.md).
    Called by the serving processes only (``modelry serve`` and its workers).
    """
    gc.set_threshold(*GC_THRESHOLDS)


def app_from_env() -> Starlette:
    """An app configured by the environment.

    ``MODELRY_SERVE_SETTINGS`` (JSON; else the ``MODELRY_*`` variables),
    ``MODELRY_SERVE_MODELS`` (comma-separated names), ``MODELRY_SERVE_EAGER`` (0/1)
    and ``MODELRY_SERVE_WATCH_INTERVAL`` (seconds between registry checks).
    """
    text = os.environ.get(SETTINGS_ENV)
    settings = settings_from_json(text) if text else Settings()
    names = [n.strip() for n in os.environ.get(MODELS_ENV, "").split(",") if n.strip()]
    eager = os.environ.get(EAGER_ENV, "1") not in ("0", "false", "no")
    watch = float(os.environ.get(WATCH_ENV, "1.0"))
    tune_gc()  # a worker process of `modelry serve --workers N`
    return create_app(settings, names or None, eager=eager, watch_interval=watch)
