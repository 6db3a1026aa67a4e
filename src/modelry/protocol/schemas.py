"""JSON Schemas of the protocol messages, for the OpenAPI document.

The messages are ``TypedDict`` types; pydantic turns each into a JSON Schema
(only here, when the document is built: never on the request path).
"""

from __future__ import annotations

from typing import Any

from modelry.protocol import v1, v2


def json_schemas() -> dict[str, Any]:
    """``components.schemas`` of the OpenAPI document: every V1 and V2 message."""
    from pydantic import TypeAdapter

    schemas: dict[str, Any] = {}
    for name, kind in {**v2.SCHEMA_TYPES, **v1.SCHEMA_TYPES}.items():
        schema = TypeAdapter(kind).json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas
