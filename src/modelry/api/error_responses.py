"""The one error handler: every exception becomes a JSON error response.

A :class:`~modelry.errors.ModelryError` becomes ``{"error": message, ...details}``
with its own ``status_code``, e-mail addresses, phone numbers and URLs masked;
anything else is our bug: a 500 with ``{"error": "internal error"}``, logged with
its traceback. Starlette's own HTTP errors (an unknown path, a wrong method) keep
their status.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from modelry.data.privacy import redact_text
from modelry.errors import AuthError, ForbiddenError, ModelryError

log = logging.getLogger("modelry.api")

JSON = "application/json"


def _redacted(doc: Any) -> Any:
    """Every string of an error body with contact data masked.

    Messages name the offending field and value; a client that put an e-mail address in
    the wrong field (or in a field's name) must not get it echoed back, nor see it logged
    by whatever records error bodies. Only error responses pay for this.
    """
    if isinstance(doc, str):
        return redact_text(doc)
    if isinstance(doc, dict):
        return {k: _redacted(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_redacted(v) for v in doc]
    return doc


def error_response(exc: BaseException) -> Response:
    """The response for ``exc``; the only place an exception turns into HTTP."""
    if isinstance(exc, ModelryError):
        body = orjson.dumps(_redacted(exc.to_dict()), default=str)
        headers = None
        if isinstance(exc, AuthError) and not isinstance(exc, ForbiddenError):
            headers = {"WWW-Authenticate": "Bearer"}
        return Response(body, status_code=exc.status_code, media_type=JSON, headers=headers)
    if isinstance(exc, ClientDisconnect):  # nobody is listening; nginx's "client closed"
        return Response(b'{"error":"client disconnected"}', status_code=499, media_type=JSON)
    if isinstance(exc, HTTPException):
        body = orjson.dumps({"error": str(exc.detail)})
        return Response(body, status_code=exc.status_code, media_type=JSON, headers=exc.headers)
    log.error("internal error", exc_info=exc)
    return Response(b'{"error":"internal error"}', status_code=500, media_type=JSON)


async def handle_exception(request: Request, exc: Exception) -> Response:
    """Starlette's hook for errors raised outside the instrumented endpoints."""
    return error_response(exc)
