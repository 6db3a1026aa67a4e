"""The OpenAPI document of the service, generated from the URL table.

Paths, methods, parameters and access come from :data:`modelry.api.routes.ROUTES`;
body schemas from the protocol types (:mod:`modelry.protocol.schemas`).
``/docs`` serves Swagger UI on it (:mod:`modelry.api.swagger`).
"""

from __future__ import annotations

import re
from typing import Any

from modelry import __version__
from modelry.api.auth import Access
from modelry.api.routes import ROUTES, Endpoint
from modelry.protocol.schemas import json_schemas

_PARAM = re.compile(r"{(\w+)}")
_PARAM_DOC = {
    "name": "Model name.",
    "version": "Version number or alias (e.g. `3`, `production`, `latest`).",
    "alias": "Alias to set (e.g. `production`, `staging`).",
    "file": "A file of Swagger UI (e.g. `swagger-ui.css`).",
}
_ERRORS = {
    "400": "Malformed body (not JSON)",
    "401": "Missing or invalid API key",
    "403": "The key may not do this",
    "404": "Unknown model, version or alias",
    "413": "Body over the size limit",
    "422": "A field is missing, extra, of the wrong type, or not finite",
}


def _ref(component: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component}"}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": re.sub(r"\W+", "_", f"{endpoint.method} {endpoint.path}").strip("_").lower(),
        "tags": [endpoint.tag],
        "parameters": [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": _PARAM_DOC.get(p, ""),
            }
            for p in _PARAM.findall(endpoint.path)
        ],
    }
    if endpoint.request:
        op["requestBody"] = {
            "required": endpoint.request != "RepositoryLoadRequest",
            "content": {"application/json": {"schema": _ref(endpoint.request)}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if endpoint.response:
        ok["content"] = {"application/json": {"schema": _ref(endpoint.response)}}
    elif endpoint.handler == "metrics":
        ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {"200": ok}
    if endpoint.access is not Access.PUBLIC:
        for code, text in _ERRORS.items():
            if code in ("400", "413", "422") and not endpoint.request:
                continue
            if code == "403" and endpoint.access is not Access.ADMIN:
                continue
            responses[code] = {
                "description": text,
                "content": {"application/json": {"schema": _ref("ErrorResponse")}},
            }
        op["security"] = [{"bearer": []}]
    else:
        op["security"] = []
    op["responses"] = responses
    return op


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ROUTES:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelry inference service",
            "version": __version__,
            "description": (
                "Open Inference Protocol v2 (REST, with the binary tensor and model "
                "repository extensions) and a simple JSON API (KServe v1 style). "
                "`POST /v1/models/{name}:explain` answers per-column attributions and "
                'reasons; on V2, `"parameters": {"explain": true}` adds an '
                "`explanation` BYTES output (one JSON document per row). With API "
                "keys configured, send `Authorization: Bearer KEY`; load, unload and alias "
                "changes need an admin key."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": json_schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "tags": [
            {"name": "v2", "description": "Open Inference Protocol v2"},
            {"name": "repository", "description": "V2 model repository extension (admin)"},
            {"name": "v1", "description": "Simple JSON API"},
            {"name": "service", "description": "Metrics and documentation"},
        ],
    }
