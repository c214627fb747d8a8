"""Data bindings: a function that declares `redis: {keyspace: K}` gets its own Redis ACL user,
limited to keys and channels `K:*` and to data commands; nothing else of Redis is open to it.

The user is (re)written with `ACL SETUSER ... reset ...` when the function is deployed and before
each of its containers starts (the cold path only), so a Redis that restarted without its ACL
users gets them back on the next start. Its password is generated once and kept in the platform
Redis (`keys.BINDING_PASSWORDS`), where no function's user can read it. Removing the function
removes its user.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlsplit, urlunsplit

import redis.asyncio as aioredis

from faas import keys
from faas.manifest.spec import FunctionSpec, RedisBinding
from faas.registry.redis_errors import translated

# Data commands only. -@admin -@dangerous take away FLUSHALL, CONFIG, ACL, KEYS, INFO, SORT, ...;
# the rest below would reveal or touch what lies outside the keyspace: key names of the whole
# database (SCAN, RANDOMKEY, DBSIZE), channel names (PUBSUB), other databases (SELECT, MOVE),
# the server's script and function caches. Scripts run with this user's rights (Redis 7 checks
# every key a script touches), so EVAL stays.
COMMAND_RULES = (
    "-@all",
    "+@read",
    "+@write",
    "+@transaction",
    "+@scripting",
    "+@pubsub",
    "+@connection",
    "-@admin",
    "-@dangerous",
    "-scan",
    "-randomkey",
    "-dbsize",
    "-pubsub",
    "-select",
    "-move",
    "-script|flush",
    "-script|kill",
    "-function",
    "-fcall",
    "-fcall_ro",
)
PASSWORD_BYTES = 32


def acl_rules(binding: RedisBinding, password: str) -> list[str]:
    """The complete `ACL SETUSER` rule list of a binding's user (`reset` first: nothing older
    survives a keyspace change)."""
    pattern = binding.prefix + "*"
    return ["reset", "on", f">{password}", f"~{pattern}", f"&{pattern}", *COMMAND_RULES]


def binding_url(function_redis_url: str, user: str, password: str) -> str:
    """`function_redis_url` (where functions reach Redis) with the binding's credentials."""
    parts = urlsplit(function_redis_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, path=parts.path or "/0"))


class DataBindings:
    """Creates, refreshes and removes the ACL users of bound functions."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def grant(self, spec: FunctionSpec) -> tuple[str, str] | None:
        """Write the ACL user of `spec`'s binding; (user, password), or None when it has no
        binding (then an older binding's user is removed)."""
        if spec.redis is None:
            await self.revoke(spec.name)
            return None
        user = keys.binding_user(spec.name)
        async with translated("grant the function's Redis binding"):
            fresh = secrets.token_urlsafe(PASSWORD_BYTES)
            await self._redis.hsetnx(keys.BINDING_PASSWORDS, spec.name, fresh)
            raw = await self._redis.hget(keys.BINDING_PASSWORDS, spec.name)
            password = raw.decode() if isinstance(raw, bytes) else str(raw)
            rules = acl_rules(spec.redis, password)
            await self._redis.execute_command(  # type: ignore[no-untyped-call]
                "ACL", "SETUSER", user, *rules
            )
        return user, password

    async def environment(self, spec: FunctionSpec, function_redis_url: str) -> dict[str, str]:
        """The variables a bound function's container gets: FAAS_REDIS_URL with its own
        credentials and FAAS_REDIS_PREFIX; {} without a binding or a function-reachable Redis."""
        if spec.redis is None or not function_redis_url:
            return {}
        granted = await self.grant(spec)
        assert granted is not None
        user, password = granted
        return {
            "FAAS_REDIS_URL": binding_url(function_redis_url, user, password),
            "FAAS_REDIS_PREFIX": spec.redis.prefix,
        }

    async def revoke(self, name: str) -> None:
        """Remove a function's binding user and its password (function removed or unbound)."""
        async with translated("remove the function's Redis binding"):
            # Only functions that had a binding: an unbound deploy sends no ACL command (a
            # Redis that refuses ACL commands to faas still serves functions without bindings).
            if await self._redis.hdel(keys.BINDING_PASSWORDS, name):
                await self._redis.execute_command(  # type: ignore[no-untyped-call]
                    "ACL", "DELUSER", keys.binding_user(name)
                )
