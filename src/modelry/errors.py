"""The one error tree of modelry.

Every error a user or a client can cause is a :class:`ModelryError` whose
``status_code`` says how HTTP reports it; the CLI prints its message on one
line and exits non-zero. Anything else that escapes is our bug (a 500).

::

    ModelryError (500)
    ├── ConfigError (422)            an option or config value is invalid
    ├── DataError (422)              the data cannot be used as asked
    │   ├── SourceError (422)        the file cannot be read (missing, empty, malformed)
    │   └── SchemaError (422)        a column is missing, of the wrong type, or unusable
    ├── RequestError (400)           a request body is malformed (not JSON, wrong shape)
    │   ├── PayloadTooLargeError (413)
    │   └── InvalidInputError (422)  a field is missing, extra, wrong-typed or NaN
    ├── AuthError (401)              no or wrong API key
    │   └── ForbiddenError (403)     the key may not do this
    ├── NotFoundError (404)          unknown model, version or alias
    ├── ConflictError (409)          the registry refuses a write (name taken, alias in use)
    ├── NotFittedError (409)         an estimator used before ``fit``
    ├── ArtifactError (500)          a stored model is corrupt or was tampered with
    └── MissingExtraError (500)      an optional dependency is not installed

Third-party exceptions are translated at the boundary with ``raise X(...) from exc``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ModelryError(Exception):
    """Root of every error modelry raises on purpose."""

    status_code: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON body an HTTP client receives."""
        return {"error": self.message, **self.details}


class ConfigError(ModelryError):
    status_code = 422


class DataError(ModelryError):
    status_code = 422


class SourceError(DataError):
    pass


class SchemaError(DataError):
    pass


class RequestError(ModelryError):
    status_code = 400


class PayloadTooLargeError(RequestError):
    status_code = 413


class InvalidInputError(RequestError):
    status_code = 422


class AuthError(ModelryError):
    status_code = 401


class ForbiddenError(AuthError):
    status_code = 403


class NotFoundError(ModelryError):
    status_code = 404


class ConflictError(ModelryError):
    status_code = 409


class NotFittedError(ModelryError):
    status_code = 409


class ArtifactError(ModelryError):
    status_code = 500


class MissingExtraError(ModelryError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is not installed: pip install 'modelry[{extra}]'", module=module, extra=extra
        )


__all__ = [
    "ArtifactError",
    "AuthError",
    "ConfigError",
    "ConflictError",
    "DataError",
    "ForbiddenError",
    "InvalidInputError",
    "MissingExtraError",
    "ModelryError",
    "NotFittedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RequestError",
    "SchemaError",
    "SourceError",
]
