"""The API-gateway features of a function (`faas.manifest.api`), in front of both call paths.

`gateway.call_paths` applies them to a call to `/function/NAME` or `/async-function/NAME` whose
function sets any (one that sets none costs nothing here: no Redis, no body read), in this order:

1. CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`): answered
   here, 204 or 403, before anything else; no key needed (browsers send none), no container.
2. `auth: api-key`: no `X-Api-Key`: 401; a value that cannot be a key: 403, without Redis.
3. Key, rate limits and quotas: one Redis script (`faas.registry.limits`): 403 for a key that
   is unknown, revoked or not for this function; 429 with `Retry-After` over a limit.
4. `request_schema`: the body is read (within FAAS_MAX_BODY) and checked: 400 naming the field.
5. The call goes on without the caller's `X-Api-Key` (the function never sees the secret, nor
   does the async queue store it) and with `X-Api-Key-Id: <id>` instead; CORS headers are
   added to its response, and to every error response above.

Errors never say more than an open route would: an unknown function is a 404 as always, and
the key's problem (unknown, revoked, other functions) is one message.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faas.errors import ApiKeyRefused, ApiKeyRequired, CorsRefused
from faas.manifest.api import ApiPolicy, Cors
from faas.registry.api_keys import presented
from faas.registry.limits import Limits
from gateway.asgi import Headers, error_response, header, read_body, respond

KEY_HEADER = b"x-api-key"
# What the function sees instead of the key (x-faas-* headers are the runtime's own, dropped).
KEY_ID_HEADER = b"x-api-key-id"
# What a page's script may read of a response: faas's own headers and when to retry.
EXPOSED = b"X-Call-Id, X-Faas-Start, Server-Timing, Retry-After"
LARGE_BODY = 64 * 1024  # checked against a request_schema on a thread, off the event loop


async def apply_policy(
    policy: ApiPolicy, name: str, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Apply `policy` of function `name`, then hand the call on to `app`."""
    cors = policy.cors
    origin = header(scope, b"origin") if cors is not None else None
    extra = _cors_headers(cors, origin) if cors is not None else []
    try:
        if cors is not None and origin is not None and _is_preflight(scope):
            await respond(send, 204, _preflight(cors, origin, scope, policy.needs_key), b"")
            return
        if policy.uses_redis:
            scope = await _admit(policy, name, scope)
        if policy.request_schema is not None:
            body = await read_body(scope, receive, scope["state"]["settings"].max_body)
            if len(body) > LARGE_BODY:  # seconds of parsing must not stall every other call
                await asyncio.to_thread(policy.request_schema.check, scope["method"], body)
            else:
                policy.request_schema.check(scope["method"], body)
            receive = _replay(body, receive)
    except Exception as exc:
        status, headers, body = error_response(scope, exc)
        await respond(send, status, headers + extra, body)
        return
    await app(scope, receive, _with_headers(send, extra) if extra else send)


async def _admit(policy: ApiPolicy, name: str, scope: Scope) -> Scope:
    """Check the key and the limits; the scope the call goes on with."""
    limits: Limits = scope["state"]["limits"]
    if not policy.needs_key:
        await limits.admit(name, rate_limit=policy.rate_limit)
        return scope
    value = header(scope, KEY_HEADER)
    if value is None:
        raise ApiKeyRequired("this function needs an API key in the X-Api-Key header")
    key = presented(value)
    if key is None:
        raise ApiKeyRefused("the X-Api-Key is not valid for this function")
    await limits.admit(
        name,
        key=key,
        rate_limit=policy.rate_limit,
        key_rate_limit=policy.key_rate_limit,
        quota=policy.quota,
    )
    headers = [(k, v) for k, v in scope["headers"] if k not in (KEY_HEADER, KEY_ID_HEADER)]
    headers.append((KEY_ID_HEADER, key.id.encode()))
    return {**scope, "headers": headers}


def _is_preflight(scope: Scope) -> bool:
    return scope["method"] == "OPTIONS" and (
        header(scope, b"access-control-request-method") is not None
    )


def _origin_allowed(cors: Cors, origin: bytes) -> bool:
    return cors.origins == ("*",) or origin.decode("latin-1").lower() in cors.origins


def _cors_headers(cors: Cors, origin: bytes | None) -> Headers:
    """What every response to `origin` carries (nothing for an origin not allowed: the
    browser then keeps the response from the page)."""
    headers: Headers = [] if cors.origins == ("*",) else [(b"vary", b"Origin")]
    if origin is None or not _origin_allowed(cors, origin):
        return headers
    headers.append((b"access-control-allow-origin", _allow_origin(cors, origin)))
    headers.append((b"access-control-expose-headers", EXPOSED))
    if cors.credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    return headers


def _allow_origin(cors: Cors, origin: bytes) -> bytes:
    return b"*" if cors.origins == ("*",) else origin


def _preflight(cors: Cors, origin: bytes, scope: Scope, needs_key: bool) -> Headers:
    """The 204's headers, or CorsRefused naming what is not allowed."""
    if not _origin_allowed(cors, origin):
        raise CorsRefused("this origin may not call this function (see its cors.origins)")
    method = (header(scope, b"access-control-request-method") or b"").decode("latin-1")
    if "*" not in cors.methods and method.upper() not in cors.methods:
        raise CorsRefused(f"method {method!r} is not in this function's cors.methods")
    requested = (header(scope, b"access-control-request-headers") or b"").decode("latin-1")
    asked = [h.strip() for h in requested.split(",") if h.strip()]
    allowed = {h.lower() for h in cors.headers} | ({"x-api-key"} if needs_key else set())
    if "*" not in cors.headers:
        refused = [h for h in asked if h.lower() not in allowed]
        if refused:
            raise CorsRefused(f"header {refused[0]!r} is not in this function's cors.headers")
    methods = method if "*" in cors.methods else ", ".join(cors.methods)
    names = ", ".join(asked) if "*" in cors.headers else ", ".join(sorted(allowed))
    headers = [
        (b"access-control-allow-origin", _allow_origin(cors, origin)),
        (b"access-control-allow-methods", methods.encode("latin-1")),
        (b"access-control-allow-headers", names.encode("latin-1")),
        (b"access-control-max-age", str(int(cors.max_age)).encode()),
    ]
    if cors.credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if cors.origins != ("*",):
        headers.append((b"vary", b"Origin"))
    return headers


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, for the call path to read again; then the client's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _with_headers(send: Send, extra: Headers) -> Send:
    """Our CORS headers on the response, in place of any the function set itself."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [
                (k, v)
                for k, v in message.get("headers", [])
                if not k.lower().startswith(b"access-control-")
            ]
            message = {**message, "headers": kept + extra}
        await send(message)

    return sending
