"""The simple JSON API (KServe v1 style): parse, ask the data plane, serialise.

Each endpoint takes the request and ``labels``, the metrics labels (model,
version, endpoint); it fills in the model name and version once they are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from modelry.api.bodies import json_response, read_body, served_for
from modelry.api.explaining import explain_rows
from modelry.data.columns import InputColumn
from modelry.errors import InvalidInputError
from modelry.protocol import v1
from modelry.protocol.codecs import records_to_columns
from modelry.protocol.predictions import relabel_row_error
from modelry.protocol.v2_wire import loads
from modelry.serving.dataplane import DataPlane
from modelry.serving.pool import Served


class V1API:
    """``/v1/models``: list, describe, predict, explain, and move an alias."""

    def __init__(self, plane: DataPlane, max_body_bytes: int) -> None:
        self.plane = plane
        self.limit = max_body_bytes

    async def _instances(
        self, request: Request, labels: list[str]
    ) -> tuple[Served, Mapping[str, InputColumn], int]:
        """The served model and the body's ``instances`` as columns (validated)."""
        body = await read_body(request, self.limit)
        served = await served_for(self.plane, request, labels)
        doc, lenient = loads(body)
        if type(doc) is not dict:
            raise InvalidInputError("body: expected an object with 'instances'", field="body")
        if "instances" not in doc:
            raise InvalidInputError("instances: missing field", field="instances")
        if len(doc) > 1:
            extra = sorted(k for k in doc if k != "instances")
            raise InvalidInputError(f"{extra[0]}: unknown field", field=extra[0])
        columns, n_rows = records_to_columns(doc["instances"], served.spec, check_finite=lenient)
        return served, columns, n_rows

    async def predict(self, request: Request, labels: list[str]) -> Response:
        served, columns, n_rows = await self._instances(request, labels)
        try:
            records = await self.plane.predict(served, columns, n_rows, served.runtime.records)
        except InvalidInputError as exc:
            raise relabel_row_error(exc, "instances") from exc
        return json_response(
            v1.PredictResponse(predictions=records, model=labels[0], version=served.version)
        )

    async def explain(self, request: Request, labels: list[str]) -> Response:
        """Per-row attributions and reasons (see :mod:`modelry.api.explaining`)."""
        served, columns, _ = await self._instances(request, labels)
        explanations = await explain_rows(self.plane, served, columns, "instances")
        return json_response(
            v1.ExplainResponse(
                explanations=cast(list[v1.RowExplanation], explanations),
                model=labels[0],
                version=served.version,
            )
        )

    async def list_models(self, request: Request, labels: list[str]) -> Response:
        return json_response(await self.plane.list_models())

    async def describe(self, request: Request, labels: list[str]) -> Response:
        return json_response(await self.plane.describe_model(request.path_params["name"]))

    async def set_alias(self, request: Request, labels: list[str]) -> Response:
        name: str = request.path_params["name"]
        alias: str = request.path_params["alias"]
        doc, _ = loads(await read_body(request, self.limit))
        version = doc.get("version") if type(doc) is dict else None
        if type(version) is not int or version < 1:
            raise InvalidInputError(
                f"version: expected a version number, got {version!r}", field="version"
            )
        labels[0], labels[1] = name, str(version)
        return json_response(await self.plane.set_alias(name, alias, version))
