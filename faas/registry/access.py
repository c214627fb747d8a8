"""How faas processes reach the platform Redis: its password, and its URL made safe to print.

The password, the first that applies: one in FAAS_REDIS_URL itself (`redis://:PW@host:port/0`),
the file FAAS_REDIS_PASSWORD_FILE names, or `$FAAS_HOME/redis-password` when it exists (`faas up`
creates it, mode 0600, for the Redis it starts). It never goes on a command line, into a log
line or an error message: `masked` hides it wherever a URL is shown.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis

from faas.errors import ConfigError
from faas.registry.store import connect
from faas.settings import Settings


def redis_password(settings: Settings) -> str | None:
    """The platform Redis's password, or None (no password, or it is in the URL)."""
    if urlsplit(settings.redis_url).password:
        return None
    path = settings.redis_password_path
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if settings.redis_password_file is not None:
            raise ConfigError(f"FAAS_REDIS_PASSWORD_FILE: {path} does not exist") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the Redis password from {path}: {exc}") from None
    if not text:
        raise ConfigError(f"{path} is empty: it should hold the platform Redis's password")
    return text


def platform_client(settings: Settings) -> aioredis.Redis:
    """A client of the platform Redis with its credentials (connects on first use)."""
    return connect(settings.redis_url, password=redis_password(settings))


def masked(url: str) -> str:
    """`url` with its password replaced by `***`, for logs, `faas status` and errors."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
