"""The whole URL table of the HTTP service, in one list.

Each :class:`Endpoint` names its method and path, the handler that serves it,
who may call it (:class:`~modelry.api.auth.Access`), and what the OpenAPI
document says of it. :func:`build_routes` wraps every handler the same way:
check the key, run, turn any exception into the one error response, count it.

Routes are plain Starlette routes, not FastAPI ones: FastAPI's dependency and
validation machinery measured ~40 % fewer requests/s on a constant endpoint
(3,100–4,000 vs 5,400 req/s on one core), and request bodies are validated by
hand in :mod:`modelry.protocol.codecs` anyway. The OpenAPI document is built
from this table (:mod:`modelry.api.openapi`).

POSTs to the inference routes skip Starlette's router and middleware layers
(:class:`HotRoutes`): the instrumented handler already does what those layers do
for it (errors become the one error response), and on a one-row prediction they
were a tenth of the service's own time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from modelry.api.auth import Access, KeyCheck
from modelry.api.error_responses import error_response
from modelry.api.service_metrics import ServiceMetrics

Handler = Callable[[Request, list[str]], Awaitable[Response]]

PUBLIC, USER, ADMIN = Access.PUBLIC, Access.USER, Access.ADMIN

HOT = ("infer", "predict")
"""The handlers on the request path of every prediction."""

SEEN_PATHS = 1024
"""Inference paths :class:`HotRoutes` remembers matching."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row of the URL table."""

    method: str
    path: str
    api: str  # which handler object: "v2", "v1" or "service"
    handler: str  # its method name; also the metrics ``endpoint`` label
    access: Access
    summary: str
    request: str | None = None  # OpenAPI component of the body
    response: str | None = None  # OpenAPI component of a 200 answer
    tag: str = "v2"


M = "/v2/models/{name}"
MV = "/v2/models/{name}/versions/{version}"

ROUTES: list[Endpoint] = [
    # Open Inference Protocol v2
    Endpoint("GET", "/v2/health/live", "v2", "live", PUBLIC, "Server liveness"),
    Endpoint("GET", "/v2/health/ready", "v2", "ready", PUBLIC, "Server readiness"),
    Endpoint("GET", "/v2", "v2", "server_metadata", USER, "Server metadata",
             response="ServerMetadataResponse"),
    Endpoint("GET", M, "v2", "model_metadata", USER, "Model metadata (served version)",
             response="ModelMetadataResponse"),
    Endpoint("GET", MV, "v2", "model_metadata", USER, "Model metadata (version or alias)",
             response="ModelMetadataResponse"),
    Endpoint("GET", M + "/ready", "v2", "model_ready", USER, "Model readiness",
             response="ModelReadyResponse"),
    Endpoint("GET", MV + "/ready", "v2", "model_ready", USER, "Model version readiness",
             response="ModelReadyResponse"),
    Endpoint("POST", M + "/infer", "v2", "infer", USER, "Inference (served version)",
             request="InferenceRequest", response="InferenceResponse"),
    Endpoint("POST", MV + "/infer", "v2", "infer", USER, "Inference (version or alias)",
             request="InferenceRequest", response="InferenceResponse"),
    # the model repository extension
    Endpoint("POST", "/v2/repository/index", "v2", "repository_index", USER,
             "Models and their state", tag="repository"),
    Endpoint("POST", "/v2/repository/models/{name}/load", "v2", "load", ADMIN,
             "Serve a model (its default version)", request="RepositoryLoadRequest",
             response="ModelReadyResponse", tag="repository"),
    Endpoint("POST", "/v2/repository/models/{name}/unload", "v2", "unload", ADMIN,
             "Stop serving a model", response="ModelReadyResponse", tag="repository"),
    # simple JSON (KServe v1 style)
    Endpoint("GET", "/v1/models", "v1", "list_models", USER, "Served models",
             response="ModelList", tag="v1"),
    Endpoint("GET", "/v1/models/{name}", "v1", "describe", USER,
             "A model: versions, aliases, inputs", response="ModelDetail", tag="v1"),
    Endpoint("POST", "/v1/models/{name}:predict", "v1", "predict", USER,
             "Predict records (served version)", request="PredictRequest",
             response="PredictResponse", tag="v1"),
    Endpoint("POST", "/v1/models/{name}/versions/{version}:predict", "v1", "predict", USER,
             "Predict records (version or alias)", request="PredictRequest",
             response="PredictResponse", tag="v1"),
    Endpoint("POST", "/v1/models/{name}:explain", "v1", "explain", USER,
             "Explain records: attributions per column and reasons (served version)",
             request="PredictRequest", response="ExplainResponse", tag="v1"),
    Endpoint("POST", "/v1/models/{name}/versions/{version}:explain", "v1", "explain", USER,
             "Explain records (version or alias)", request="PredictRequest",
             response="ExplainResponse", tag="v1"),
    Endpoint("POST", "/v1/models/{name}/aliases/{alias}", "v1", "set_alias", ADMIN,
             "Point an alias at a version (promote)", request="AliasRequest",
             response="AliasResponse", tag="v1"),
    # applications
    Endpoint("POST", "/v1/apps/marketing/{name}:target", "apps", "target", USER,
             "Whom to contact for the most expected profit (response model, served version)",
             request="TargetRequest", response="TargetResponse", tag="apps"),
    Endpoint("POST", "/v1/apps/marketing/{name}/versions/{version}:target", "apps", "target",
             USER, "Whom to contact (version or alias)", request="TargetRequest",
             response="TargetResponse", tag="apps"),
    Endpoint("POST", "/v1/apps/recruitment:match", "recruitment", "match", USER,
             "Rank an index's candidates for a job, with reasons (logged)",
             request="RecruitMatchRequest", response="RecruitResponse", tag="apps"),
    Endpoint("POST", "/v1/apps/recruitment:jobs", "recruitment", "jobs", USER,
             "Rank jobs for a candidate of an index, with reasons (logged)",
             request="RecruitJobsRequest", response="RecruitResponse", tag="apps"),
    # the service itself
    Endpoint("GET", "/metrics", "service", "metrics", USER, "Prometheus metrics",
             tag="service"),
    Endpoint("GET", "/openapi.json", "service", "openapi", PUBLIC, "This document",
             tag="service"),
    Endpoint("GET", "/docs", "service", "docs", PUBLIC, "Interactive API documentation",
             tag="service"),
    Endpoint("GET", "/docs/static/{file}", "service", "docs_file", PUBLIC,
             "The files of the documentation page (Swagger UI, served locally)", tag="service"),
]  # fmt: skip


def instrumented(
    endpoint: Endpoint, handler: Handler, keys: KeyCheck, metrics: ServiceMetrics
) -> Callable[[Request], Awaitable[Response]]:
    """The handler behind its key check, error handling and request metrics."""
    access, label = endpoint.access, endpoint.handler
    check = keys.check
    observe = metrics.observe_request

    async def serve(request: Request) -> Response:
        start = perf_counter()
        labels = ["", "", label]  # model, version, endpoint (a handler may refine it)
        try:
            check(request.scope["headers"], access)
            response = await handler(request, labels)
        except Exception as exc:
            response = error_response(exc)
        observe(labels[0], labels[1], labels[2], response.status_code, perf_counter() - start)
        return response

    serve.__name__ = label
    return serve


def build_routes(
    handlers: dict[str, object], keys: KeyCheck, metrics: ServiceMetrics
) -> list[Route]:
    """Starlette routes for :data:`ROUTES`, each handler taken from ``handlers[api]``.

    Starlette tries routes in order, one regular expression each, so the inference
    routes go first (the table's order is the documentation's).
    """
    routes: list[Route] = []
    for endpoint in sorted(ROUTES, key=lambda e: e.handler not in HOT):
        handler: Handler = getattr(handlers[endpoint.api], endpoint.handler)
        serve = instrumented(endpoint, handler, keys, metrics)
        routes.append(Route(endpoint.path, serve, methods=[endpoint.method]))
    return routes


class HotRoutes:
    """The POST inference routes of ``routes``, found by a dict lookup and one regex.

    Starlette reaches an endpoint through two middleware layers, its router (one
    regular expression per route, in order) and an exception wrapper. The handlers
    :func:`instrumented` builds need none of it: they turn every exception into the
    one error response themselves. So a POST whose path starts with the static
    prefix of an inference route (``/v2/models/``, ``/v1/models/``) is matched
    against those routes only and handed straight to its handler; anything else,
    including a path no inference route matches, goes through Starlette as before.
    """

    def __init__(self, routes: list[Route]) -> None:
        self._by_prefix: dict[str, list[Route]] = {}
        for route in routes:
            if route.name in HOT and route.methods == {"POST"}:
                prefix = route.path[: route.path.index("{")]
                self._by_prefix.setdefault(prefix, []).append(route)
        self._lengths = sorted({len(prefix) for prefix in self._by_prefix})
        # A service sees few distinct inference paths (one per model and version):
        # each is matched once, then found by one dict lookup. Parameters are shared
        # between the requests of a path, read-only.
        self._seen: dict[str, tuple[Route, dict[str, Any]]] = {}

    def match(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        """The inference route and path parameters of a POST, or None."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None  # under a root path, Starlette strips it first
        path: str = scope["path"]
        found = self._seen.get(path)
        if found is not None:
            return found
        for length in self._lengths:
            for route in self._by_prefix.get(path[:length], ()):
                matched = route.path_regex.match(path)
                if matched is not None:
                    convert = route.param_convertors
                    params = {k: convert[k].convert(v) for k, v in matched.groupdict().items()}
                    if len(self._seen) >= SEEN_PATHS:
                        self._seen.clear()  # many names (a scan?): start over
                    self._seen[path] = (route, params)
                    return route, params
        return None

    @staticmethod
    async def handle(
        route: Route, params: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve a request :meth:`match` matched, as Starlette's router would."""
        scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, params
        serve: Callable[[Request], Awaitable[Response]] = route.endpoint
        response = await serve(Request(scope, receive, send))
        await response(scope, receive, send)
