"""Credentials on the control plane: every route but the open ones needs them.

Open: function calls (`/function/`, `/async-function/`: served by the bare ASGI apps in front
of Starlette, so they never reach this middleware and pay nothing for it) and `/healthz`, which
then says only ok or unhealthy. Everything else (`/system/*`, `/metrics`, any route added
later) answers 401 before routing, so a caller without credentials learns nothing of what
exists: an unknown function's `/system` route is a 401 too, not a 404.

Accepted, compared in constant time (see `faas.credentials` for where the secret lives):
    Authorization: Basic base64(admin:PASSWORD)    what `faas` and `faas-cli login` send
    Authorization: Bearer PASSWORD
An empty `Bearer ` (faas-cli before a login) is missing credentials, not an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from faas import credentials
from faas.settings import Settings
from gateway.errors import error_body

log = logging.getLogger("gateway")

OPEN_PATHS = frozenset({"/healthz"})
OPEN_PREFIXES = ("/function/", "/async-function/")
AUTHENTICATED = "faas.authenticated"  # scope key: did this request carry valid credentials?

_CHALLENGE = (b"www-authenticate", b'Basic realm="faas"')
_UNAUTHORIZED = error_body(
    "unauthorized",
    "this route needs credentials: HTTP Basic (user admin) or a Bearer token; "
    "`faas` reads them from $FAAS_HOME/admin-password or FAAS_ADMIN_PASSWORD",
)


def control_plane_password(settings: Settings) -> str | None:
    """The secret the gateway checks (created on first start); None when FAAS_AUTH=off."""
    if not settings.auth:
        log.warning(
            "FAAS_AUTH=off: the control plane (/system/*, /metrics) answers anyone who can "
            "reach this gateway, including functions with network: true"
        )
        return None
    password = credentials.ensure(settings)
    source = "FAAS_ADMIN_PASSWORD" if settings.admin_password else settings.password_file
    log.info("control plane credentials: user %s, password from %s", credentials.ADMIN_USER, source)
    return password


def authenticated(scope: Mapping[str, Any]) -> bool:
    """Whether `RequireCredentials` accepted this request (False when it never saw it)."""
    return bool(scope.get(AUTHENTICATED, False))


class RequireCredentials:
    """ASGI middleware: 401 for requests without valid credentials, except open routes.

    `password=None` (FAAS_AUTH=off) lets everything through as authenticated."""

    def __init__(self, app: ASGIApp, password: str | None) -> None:
        self.app = app
        self._digest = None if password is None else _digest(password.encode())
        self._user = _digest(credentials.ADMIN_USER.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ok = self._digest is None or self._accepts(scope)
        scope[AUTHENTICATED] = ok
        path = scope["path"]
        if ok or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
        else:
            headers = [
                _CHALLENGE,
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_UNAUTHORIZED)).encode()),
            ]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": _UNAUTHORIZED})

    def _accepts(self, scope: Scope) -> bool:
        value = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if value is None:
            return False
        scheme, _, token = bytes(value).strip().partition(b" ")
        token = token.strip()
        if not token:
            return False
        scheme = scheme.lower()
        if scheme == b"bearer":
            return self._matches(token)
        if scheme != b"basic":
            return False
        try:
            pair = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return False
        user, colon, password = pair.partition(b":")
        # Both compared, whatever the first says: the time taken tells nothing about either.
        user_ok = hmac.compare_digest(_digest(user), self._user)
        return bool(colon) & user_ok & self._matches(password)

    def _matches(self, secret: bytes) -> bool:
        assert self._digest is not None
        # Digests first: equal lengths, so not even the secret's length leaks through timing.
        return hmac.compare_digest(_digest(secret), self._digest)


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()
