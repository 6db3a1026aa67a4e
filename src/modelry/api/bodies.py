"""Reading request bodies, finding the model a path names, writing JSON responses.

Raw ASGI headers are scanned directly (uvicorn hands them over lower-cased),
which costs less than building Starlette's ``Headers`` for one or two look-ups.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from modelry.errors import PayloadTooLargeError, RequestError
from modelry.serving.dataplane import DataPlane
from modelry.serving.pool import Served

JSON = "application/json"
_DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def header(request: Request, name: bytes) -> str | None:
    """One request header by its lower-case name, or None."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def served_for(plane: DataPlane, request: Request, labels: list[str]) -> Served:
    """The model ``{name}[/versions/{version}]`` in the path names; fills the metrics labels."""
    params = request.path_params
    name: str = params["name"]
    ref = params.get("version")
    served = plane.lookup(name, ref)  # served and loaded: no await
    if served is None:
        served = await plane.model(name, ref)
    labels[0] = name
    labels[1] = str(served.version)
    return served


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes (413) by header and by count.

    The declared Content-Length is checked before anything is read; the bytes
    actually received are counted too (chunked bodies declare nothing).
    """
    declared = header(request, b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError as exc:
            raise RequestError(f"bad Content-Length {declared!r}") from exc
        if size > limit:
            raise PayloadTooLargeError(
                f"request body of {size} bytes exceeds the limit of {limit} bytes", limit=limit
            )
    # Straight from ASGI ``receive``: Starlette's ``stream()`` adds a generator per request.
    receive = request.receive
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        if chunk:
            received += len(chunk)
            if received > limit:
                raise PayloadTooLargeError(
                    f"request body exceeds the limit of {limit} bytes", limit=limit
                )
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


class JSONBody(Response):
    """An already encoded JSON body: Starlette's Response, its two headers made directly.

    (``Response.__init__`` renders the content and assembles headers generically; on
    a one-row prediction that was a tenth of the service's own time.)
    """

    media_type = JSON

    def __init__(self, body: bytes, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", _JSON_HEADER),
        ]


_JSON_HEADER = JSON.encode()


def json_response(content: Any, status_code: int = 200) -> Response:
    """orjson-encoded JSON (numpy arrays and scalars included)."""
    return JSONBody(orjson.dumps(content, option=_DUMP_OPTIONS), status_code)
