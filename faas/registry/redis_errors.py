"""Redis errors as faas errors: the one translation every module that talks to Redis uses.

A Redis that does not answer, or answers but will not serve us (auth, loading, read-only
replica), is `RedisUnavailable` (HTTP 503), never an internal error.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import redis.exceptions

from faas.errors import RedisUnavailable

# Replies of a Redis that answers but will not serve us (yet, or at all): unavailable, not a bug.
_REFUSALS = (
    "DENIED",
    "NOAUTH",
    "WRONGPASS",
    "NOPERM",
    "LOADING",
    "MASTERDOWN",
    "READONLY",
    "ERR AUTH",  # a password sent to a Redis that has none
)


@contextlib.asynccontextmanager
async def translated(action: str) -> AsyncIterator[None]:
    """Run a Redis command; a down or refusing Redis raises RedisUnavailable naming `action`."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise RedisUnavailable(
            f"Redis does not answer ({action}): start it (`faas up`) or check FAAS_REDIS_URL"
        ) from exc
    except redis.exceptions.InvalidResponse as exc:  # e.g. an HTTP server on Redis's port
        raise RedisUnavailable(
            f"what answers at FAAS_REDIS_URL is not Redis ({action}: {exc}): "
            "point FAAS_REDIS_URL at Redis, or free its port"
        ) from exc
    except redis.exceptions.ResponseError as exc:
        if str(exc).startswith("OOM"):  # maxmemory with noeviction: writes wait for room
            raise RedisUnavailable(
                f"Redis is full ({action}): raise FAAS_REDIS_MAXMEMORY, or keep fewer finished "
                "calls (FAAS_ASYNC_RESULT_MAX, FAAS_ASYNC_RESULT_TTL)"
            ) from exc
        if not str(exc).startswith(_REFUSALS):
            raise
        raise RedisUnavailable(
            f"Redis refuses ({action}): {str(exc).split('. ')[0]}; check FAAS_REDIS_URL "
            "(password, protected mode)"
        ) from exc
