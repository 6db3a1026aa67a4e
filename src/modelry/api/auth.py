"""Bearer-key access control, decided per route.

Each route in :mod:`modelry.api.routes` has an access level:

- ``PUBLIC``: no key ever (the health checks, so that orchestrators can probe,
  and the API description: ``/openapi.json`` and ``/docs`` hold no data).
- ``USER``: with ``api_keys`` (or ``admin_keys``) configured, a request needs
  ``Authorization: Bearer KEY`` with one of them, else 401. ``/metrics`` is a
  USER route: it names the models and their traffic (Prometheus sends the key
  with ``authorization: {credentials: KEY}`` in its scrape config).
- ``ADMIN``: loading, unloading and moving aliases need a key of ``admin_keys``:
  401 without a valid key, 403 for a valid non-admin key. With keys configured
  but no admin key, nobody may administer over HTTP; with no key configured at
  all (auth off), everything is open. With only ``admin_keys``, predictions are
  open and administration needs an admin key.

Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from enum import Enum

from modelry.errors import AuthError, ForbiddenError


class Access(Enum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"


def _matches(key: bytes, keys: tuple[bytes, ...]) -> bool:
    found = False
    for candidate in keys:
        found |= hmac.compare_digest(key, candidate)
    return found


class KeyCheck:
    """Decides whether a request's bearer key may use a route of a given access level."""

    def __init__(self, api_keys: list[str], admin_keys: list[str]) -> None:
        self.admin_keys = tuple(k.encode() for k in admin_keys if k)
        self.user_keys = tuple(k.encode() for k in api_keys if k) + self.admin_keys
        self.users_need_key = any(api_keys)
        self.admins_need_key = bool(self.user_keys)

    def check(self, headers: list[tuple[bytes, bytes]], access: Access) -> None:
        """Raise AuthError (401) or ForbiddenError (403) unless the key is good enough."""
        if access is Access.PUBLIC:
            return
        if not (self.users_need_key if access is Access.USER else self.admins_need_key):
            return
        key = bearer_key(headers)
        if key is None:
            raise AuthError("missing API key: send 'Authorization: Bearer KEY'")
        if access is Access.ADMIN and _matches(key, self.admin_keys):
            return
        if not _matches(key, self.user_keys):
            raise AuthError("invalid API key")
        if access is Access.ADMIN:
            raise ForbiddenError("this operation needs an admin key")


def bearer_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key of an ``Authorization: Bearer KEY`` header (raw ASGI headers), if any."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, key = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and key.strip():
                return key.strip()
            return None
    return None
