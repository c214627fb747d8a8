"""API keys for functions with `auth: api-key`: created, listed and revoked by the control plane.

A key reads `fk_<id>_<secret>`: the id (public, 12 hex digits) names the key's record, the
secret is 32 random bytes. Redis keeps the sha256 of the whole key, never the key: it is shown
once, at creation. A fast hash is enough here because the secret is random and 256 bits long:
slow hashes (bcrypt, scrypt, argon2) make guessing *low-entropy passwords* from a leaked digest
expensive, and there is nothing to guess in 2^256; a fast one lets every call be checked inside
the same Redis script as its limits (`faas.registry.limits`) in microseconds.

A key may be limited to some functions and carry its own plan (a rate limit and a quota over
every function it calls), on top of each function's own limits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from faas import keys
from faas.errors import NotFound
from faas.manifest.api import Quota, RateLimit, parse_quota, parse_rate
from faas.registry.redis_errors import translated

TOKEN_PREFIX = "fk_"
_TOKEN = re.compile(rb"fk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_ID = re.compile(r"[0-9a-f]{12}")
ALL_FUNCTIONS = "*"


class KeyNotFound(NotFound):
    """No live API key has that id."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key with id {key_id!r} (see `faas key list`)")


@dataclass(frozen=True)
class PresentedKey:
    """What a caller's X-Api-Key says: the id it claims and the digest to check."""

    id: str
    digest: str


def presented(value: bytes) -> PresentedKey | None:
    """The key in an X-Api-Key header; None when it cannot be one of ours (no Redis needed)."""
    match = _TOKEN.fullmatch(value.strip())
    if match is None:
        return None
    return PresentedKey(match.group(1).decode(), hashlib.sha256(value.strip()).hexdigest())


@dataclass(frozen=True)
class ApiKey:
    """A key's record: everything but the secret."""

    id: str
    name: str
    functions: tuple[str, ...]  # empty: every function with auth: api-key
    rate_limit: RateLimit | None
    quota: Quota | None
    created_at: float

    @property
    def prefix(self) -> str:
        """The start of the key itself, to tell which key one holds."""
        return f"{TOKEN_PREFIX}{self.id}_"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "functions": list(self.functions),
            "rate_limit": self.rate_limit.to_manifest() if self.rate_limit else None,
            "quota": self.quota.to_manifest() if self.quota else None,
            "created_at": self.created_at,
        }


class ApiKeys:
    """API key records in Redis (key names in `faas.keys`)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def create(
        self,
        name: str = "",
        functions: tuple[str, ...] = (),
        rate_limit: RateLimit | None = None,
        quota: Quota | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret value (returned this once, never stored)."""
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, name, functions, rate_limit, quota, time.time())
        fields: dict[Any, Any] = {  # redis-py wants Mapping[EncodableT, EncodableT]
            "digest": hashlib.sha256(token.encode()).hexdigest(),
            "name": name,
            "functions": ",".join(functions) or ALL_FUNCTIONS,
            # What the limits script reads: 0 means none.
            "interval": repr(rate_limit.interval_ms) if rate_limit else "0",
            "burst": str(rate_limit.burst) if rate_limit else "0",
            "quota": str(quota.limit) if quota else "0",
            "period": quota.period if quota else "",
            # What a listing shows.
            "rate": rate_limit.rate if rate_limit else "",
            "created_at": repr(record.created_at),
        }
        async with translated("create an API key"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.hset(keys.api_key(key_id), mapping=fields)
            pipe.sadd(keys.API_KEYS, key_id)
            await pipe.execute()
        return record, token

    async def list(self) -> list[ApiKey]:
        async with translated("list API keys"):
            ids = sorted(_text(x) for x in await self._redis.smembers(keys.API_KEYS))
            pipe = self._redis.pipeline(transaction=False)
            for key_id in ids:
                pipe.hgetall(keys.api_key(key_id))
            found = await pipe.execute()
        records = [_record(key_id, raw) for key_id, raw in zip(ids, found, strict=True) if raw]
        return sorted(records, key=lambda record: record.created_at)

    async def get(self, key_id: str) -> ApiKey:
        if not _ID.fullmatch(key_id):
            raise KeyNotFound(key_id)
        async with translated("read an API key"):
            raw = await self._redis.hgetall(keys.api_key(key_id))
        if not raw:
            raise KeyNotFound(key_id)
        return _record(key_id, raw)

    async def revoke(self, key_id: str) -> None:
        """Delete the key (its next call is refused, on every gateway) and its counters."""
        if not _ID.fullmatch(key_id):
            raise KeyNotFound(key_id)
        async with translated("revoke an API key"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(keys.api_key(key_id))
            pipe.srem(keys.API_KEYS, key_id)
            pipe.delete(keys.rate_bucket("", key_id), keys.quota_counter("", key_id))
            removed, _, _ = await pipe.execute()
        if not removed:
            raise KeyNotFound(key_id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _record(key_id: str, raw: dict[Any, Any]) -> ApiKey:
    data = {_text(k): _text(v) for k, v in raw.items()}
    rate_limit = None
    if data.get("rate"):
        text, per_second = parse_rate(data["rate"])
        rate_limit = RateLimit(text, per_second, int(data["burst"]))
    quota = None
    if data.get("period"):
        quota = parse_quota({"limit": int(data["quota"]), "period": data["period"]})
    functions = data.get("functions", ALL_FUNCTIONS)
    return ApiKey(
        id=key_id,
        name=data.get("name", ""),
        functions=() if functions == ALL_FUNCTIONS else tuple(functions.split(",")),
        rate_limit=rate_limit,
        quota=quota,
        created_at=float(data.get("created_at", 0)),
    )
