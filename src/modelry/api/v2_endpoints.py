"""Open Inference Protocol v2 (REST) endpoints: parse, ask the data plane, serialise.

Each endpoint takes the request and ``labels``, the metrics labels it fills in:
the model name and version once they are known, and the endpoint name it may
override (an inference request with ``"parameters": {"explain": true}`` counts as
``explain``; its response carries an extra ``explanation`` BYTES output, one JSON
document per row).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelry.api.bodies import JSONBody, header, json_response, read_body, served_for
from modelry.api.explaining import explain_rows
from modelry.errors import InvalidInputError
from modelry.protocol import v2, v2_wire
from modelry.protocol.codecs import request_columns
from modelry.protocol.predictions import (
    EXPLANATION,
    explain_requested,
    explanation_tensor,
    relabel_row_error,
    rows_to_tensors,
)
from modelry.serving.dataplane import DataPlane

_BINARY = "application/octet-stream"
_HEADER_LENGTH = v2.HEADER_LENGTH.encode()


def _ref(request: Request) -> str | None:
    version: str | None = request.path_params.get("version")
    return version


class V2API:
    """Health, metadata, inference and the model repository extension."""

    def __init__(self, plane: DataPlane, max_body_bytes: int) -> None:
        self.plane = plane
        self.limit = max_body_bytes

    async def live(self, request: Request, labels: list[str]) -> Response:
        return json_response({"live": self.plane.live()})

    async def ready(self, request: Request, labels: list[str]) -> Response:
        ready = self.plane.ready()
        return json_response({"ready": ready}, 200 if ready else 503)

    async def server_metadata(self, request: Request, labels: list[str]) -> Response:
        return json_response(self.plane.server_metadata())

    async def model_metadata(self, request: Request, labels: list[str]) -> Response:
        name: str = request.path_params["name"]
        return json_response(await self.plane.model_metadata(name, _ref(request)))

    async def model_ready(self, request: Request, labels: list[str]) -> Response:
        name: str = request.path_params["name"]
        answer = await self.plane.model_ready(name, _ref(request))
        return json_response(answer, 200 if answer["ready"] else 503)

    async def infer(self, request: Request, labels: list[str]) -> Response:
        body = await read_body(request, self.limit)
        served = await served_for(self.plane, request, labels)
        name, version = labels[0], labels[1]
        parsed = v2_wire.parse_infer_request(body, header(request, _HEADER_LENGTH))
        columns, n_rows = request_columns(parsed, served.spec)
        wanted = parsed.outputs
        explain = explain_requested(parsed.parameters) or bool(wanted and EXPLANATION in wanted)
        if explain and wanted is not None:
            wanted = [w for w in wanted if w != EXPLANATION]
        try:
            rows = await self.plane.predict(served, columns, n_rows, served.output_rows)
        except InvalidInputError as exc:
            raise relabel_row_error(exc, "inputs") from exc
        outputs = rows_to_tensors(rows, served.runtime.outputs, wanted)
        if explain:
            labels[2] = "explain"  # counted apart: an explanation costs far more than a score
            explained = await explain_rows(self.plane, served, columns, "inputs")
            outputs.append(explanation_tensor(explained))
        content, header_length = v2_wire.render_infer_response(
            name, version, outputs, request_id=parsed.id, binary=parsed.binary
        )
        if header_length is None:
            return JSONBody(content)
        return Response(
            content,
            media_type=_BINARY,
            headers={"Inference-Header-Content-Length": str(header_length)},
        )

    async def repository_index(self, request: Request, labels: list[str]) -> Response:
        return json_response(await self.plane.repository_index())

    async def load(self, request: Request, labels: list[str]) -> Response:
        name: str = request.path_params["name"]
        await read_body(request, self.limit)  # parameters (e.g. a config) are not supported
        served = await self.plane.load(name)
        labels[0], labels[1] = name, str(served.version)
        return json_response(v2.model_ready(name, served.runtime.ready))

    async def unload(self, request: Request, labels: list[str]) -> Response:
        name: str = request.path_params["name"]
        await read_body(request, self.limit)
        await self.plane.unload(name)
        labels[0] = name
        return json_response(v2.model_ready(name, False))
