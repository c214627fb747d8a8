"""Settings: every FAAS_* variable, read once at an entry point into a frozen dataclass.

Deeper modules take a `Settings` (or the few values they need) and never read the
environment themselves; tests build `Settings(...)` directly. The README's configuration table
lists the same variables, with the same defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from faas.errors import ConfigError
from faas.units import parse_duration, parse_size

T = TypeVar("T")

DEFAULT_BASE_IMAGE = "python:3.12-slim"
DEFAULT_NODE_BASE_IMAGE = "node:18-bookworm-slim"  # `lang: node`; offline: faas-node:bookworm
DEFAULT_REDIS_PORT = 16379  # the embedded Redis; off 6379 so a user's own Redis is left alone


def _default_home() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(state) / "faas"


def _host_memory() -> int:
    """Total RAM in bytes (the memory budget's default is half of it)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 * 2**30


# Builds honour the host's CA bundle (corporate TLS proxies): the first of these that is set.
CA_BUNDLE_VARS = ("FAAS_BUILD_CA_BUNDLE", "PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class Settings:
    """Configuration of a faas process. Field metadata names the FAAS_* variable."""

    gateway_url: str = field(default="http://127.0.0.1:8080", metadata={"env": "FAAS_GATEWAY"})
    bind: tuple[str, ...] = field(default=("127.0.0.1",), metadata={"env": "FAAS_BIND"})
    port: int = field(default=8080, metadata={"env": "FAAS_PORT"})
    redis_url: str = field(
        default=f"redis://127.0.0.1:{DEFAULT_REDIS_PORT}/0", metadata={"env": "FAAS_REDIS_URL"}
    )
    home: Path = field(default_factory=_default_home, metadata={"env": "FAAS_HOME"})
    base_image: str = field(default=DEFAULT_BASE_IMAGE, metadata={"env": "FAAS_BASE_IMAGE"})
    node_base_image: str = field(
        default=DEFAULT_NODE_BASE_IMAGE, metadata={"env": "FAAS_NODE_BASE_IMAGE"}
    )
    transport: str = field(default="unix", metadata={"env": "FAAS_TRANSPORT"})
    socket_dir: Path | None = field(default=None, metadata={"env": "FAAS_SOCKET_DIR"})
    max_body: int = field(default=6 * 1024 * 1024, metadata={"env": "FAAS_MAX_BODY"})
    # A function's answer: past this it is cut (502), so one call cannot make the gateway
    # hold an unbounded body in memory.
    max_response: int = field(default=64 * 1024 * 1024, metadata={"env": "FAAS_MAX_RESPONSE"})
    ready_timeout: float = field(default=30.0, metadata={"env": "FAAS_READY_TIMEOUT"})
    # How long a deploy waits for every other live gateway to serve it (faas.registry.propagation).
    deploy_wait: float = field(default=10.0, metadata={"env": "FAAS_DEPLOY_WAIT"})
    # Slow clients (gateway.slow_clients): a request head must arrive within this; at most this
    # many connections and requests at once (uvicorn's limit_concurrency; 0: no cap).
    header_timeout: float = field(default=10.0, metadata={"env": "FAAS_HEADER_TIMEOUT"})
    max_connections: int = field(default=10_000, metadata={"env": "FAAS_MAX_CONNECTIONS"})
    # How long an idle keep-alive connection stays open: longer than the idle pools of common
    # clients (Go's, so faas-cli's, keeps them 90 s), so a client never sends a POST on a
    # connection the gateway is closing (uvicorn's 5 s default lost the certifier's calls).
    keep_alive_timeout: float = field(default=100.0, metadata={"env": "FAAS_KEEP_ALIVE_TIMEOUT"})
    # One page of `GET /system/logs/NAME`: at most this many lines and bytes of log text.
    logs_max_lines: int = field(default=10_000, metadata={"env": "FAAS_LOGS_MAX_LINES"})
    logs_max_bytes: int = field(default=4 * 1024 * 1024, metadata={"env": "FAAS_LOGS_MAX_BYTES"})
    function_network: str = field(default="faas", metadata={"env": "FAAS_FUNCTION_NETWORK"})
    function_gateway_url: str = field(default="", metadata={"env": "FAAS_FUNCTION_GATEWAY_URL"})
    # Where functions reach Redis (host and port only): bound functions get their own user there.
    function_redis_url: str = field(default="", metadata={"env": "FAAS_FUNCTION_REDIS_URL"})
    # The platform Redis's password when FAAS_REDIS_URL carries none (see faas.registry.access).
    redis_password_file: Path | None = field(
        default=None, metadata={"env": "FAAS_REDIS_PASSWORD_FILE"}
    )
    # The embedded Redis's memory limit (`faas up`); past it writes fail, nothing is evicted.
    redis_maxmemory: int = field(default=256 * 2**20, metadata={"env": "FAAS_REDIS_MAXMEMORY"})
    build_ca_bundle: str = field(default="", metadata={"env": "FAAS_BUILD_CA_BUNDLE"})
    log_level: str = field(default="info", metadata={"env": "FAAS_LOG_LEVEL"})
    # Credentials of the control plane (see faas.credentials); FAAS_AUTH=off for throwaway use.
    auth: bool = field(default=True, metadata={"env": "FAAS_AUTH"})
    admin_password: str = field(default="", repr=False, metadata={"env": "FAAS_ADMIN_PASSWORD"})
    admin_password_file: Path | None = field(
        default=None, metadata={"env": "FAAS_ADMIN_PASSWORD_FILE"}
    )
    # Secrets (faas.secret_box): the key their values are encrypted with in Redis, shared by
    # every gateway of a stack; and the host folder their files are mounted from.
    secrets_key_file: Path | None = field(default=None, metadata={"env": "FAAS_SECRETS_KEY_FILE"})
    secret_mount_dir: Path | None = field(default=None, metadata={"env": "FAAS_SECRET_MOUNT_DIR"})
    # The pool (see faas.pool and faas.invoker).
    queue_timeout: float = field(default=10.0, metadata={"env": "FAAS_QUEUE_TIMEOUT"})
    pause_after: float = field(default=30.0, metadata={"env": "FAAS_PAUSE_AFTER"})
    memory_budget: int = field(
        default_factory=lambda: _host_memory() // 2, metadata={"env": "FAAS_MEMORY_BUDGET"}
    )
    init_backoff: float = field(default=1.0, metadata={"env": "FAAS_INIT_BACKOFF"})
    recent_calls: int = field(default=10_000, metadata={"env": "FAAS_RECENT_CALLS"})
    # Generic runtime containers kept ready per container shape (faas.generic_pool); 0: none.
    generic_pool: int = field(default=2, metadata={"env": "FAAS_GENERIC_POOL"})
    # Function folders a gateway builds and registers at start (compose: no CLI, no socket).
    deploy: tuple[Path, ...] = field(default=(), metadata={"env": "FAAS_DEPLOY"})
    # Async calls, triggers and callbacks (see faas.queue).
    async_workers: int = field(default=64, metadata={"env": "FAAS_ASYNC_WORKERS"})
    async_per_function: int = field(default=0, metadata={"env": "FAAS_ASYNC_PER_FUNCTION"})
    async_max_attempts: int = field(default=3, metadata={"env": "FAAS_ASYNC_MAX_ATTEMPTS"})
    async_max_age: float = field(default=6 * 3600.0, metadata={"env": "FAAS_ASYNC_MAX_AGE"})
    async_retry_base: float = field(default=1.0, metadata={"env": "FAAS_ASYNC_RETRY_BASE"})
    async_retry_max: float = field(default=300.0, metadata={"env": "FAAS_ASYNC_RETRY_MAX"})
    async_visibility_timeout: float = field(
        default=30.0, metadata={"env": "FAAS_ASYNC_VISIBILITY_TIMEOUT"}
    )
    async_result_ttl: float = field(default=24 * 3600.0, metadata={"env": "FAAS_ASYNC_RESULT_TTL"})
    async_result_max: int = field(default=10_000, metadata={"env": "FAAS_ASYNC_RESULT_MAX"})
    async_max_backlog: int = field(default=1_000_000, metadata={"env": "FAAS_ASYNC_MAX_BACKLOG"})
    async_shutdown_grace: float = field(default=10.0, metadata={"env": "FAAS_ASYNC_SHUTDOWN_GRACE"})
    callback_allow_private: bool = field(
        default=False, metadata={"env": "FAAS_CALLBACK_ALLOW_PRIVATE"}
    )
    # Images deployed through OpenFaaS's API get a writable root filesystem unless they ask for
    # a read-only one, as in OpenFaaS (faas-cli cannot send `readOnlyRootFilesystem: false`).
    openfaas_writable_root: bool = field(
        default=False, metadata={"env": "FAAS_OPENFAAS_WRITABLE_ROOT"}
    )
    callback_max_attempts: int = field(default=5, metadata={"env": "FAAS_CALLBACK_MAX_ATTEMPTS"})

    def __post_init__(self) -> None:
        if self.transport not in ("unix", "tcp"):
            raise ConfigError(f"FAAS_TRANSPORT must be 'unix' or 'tcp', got {self.transport!r}")
        if not 0 < self.port < 65536:
            raise ConfigError(f"FAAS_PORT must be a TCP port (1-65535), got {self.port}")
        if self.ready_timeout <= 0:
            raise ConfigError("FAAS_READY_TIMEOUT must be positive")
        if self.header_timeout <= 0:
            raise ConfigError("FAAS_HEADER_TIMEOUT must be positive")
        if self.max_connections < 0:
            raise ConfigError("FAAS_MAX_CONNECTIONS must not be negative (0: no cap)")
        if self.logs_max_lines < 1 or self.logs_max_bytes < 1024:
            raise ConfigError("FAAS_LOGS_MAX_LINES must be >= 1 and FAAS_LOGS_MAX_BYTES >= 1Ki")
        if self.generic_pool < 0:
            raise ConfigError("FAAS_GENERIC_POOL must not be negative (0 turns it off)")
        if self.async_max_attempts < 1:
            raise ConfigError("FAAS_ASYNC_MAX_ATTEMPTS must be at least 1")
        if self.async_visibility_timeout < 1:
            raise ConfigError("FAAS_ASYNC_VISIBILITY_TIMEOUT must be at least 1s")
        if self.async_result_max < 1:
            raise ConfigError("FAAS_ASYNC_RESULT_MAX must be at least 1")
        if self.redis_maxmemory < 16 * 2**20:
            raise ConfigError("FAAS_REDIS_MAXMEMORY must be at least 16Mi")
        if self.async_workers < 0 or self.async_per_function < 0:
            raise ConfigError("FAAS_ASYNC_WORKERS and FAAS_ASYNC_PER_FUNCTION must not be negative")

    @property
    def sockets(self) -> Path:
        """Host directory holding one bind-mounted subdirectory (with a socket) per container."""
        return self.socket_dir or self.home / "sockets"

    @property
    def password_file(self) -> Path:
        """Where the control plane's password is kept (created when missing)."""
        return self.admin_password_file or self.home / "admin-password"

    @property
    def secrets_key_path(self) -> Path:
        """Where the key that encrypts secret values is kept (created when missing)."""
        return self.secrets_key_file or self.home / "secrets-key"

    @property
    def secret_mounts(self) -> Path:
        """Host directory (0700) holding one read-only mounted folder per instance with secrets."""
        return self.secret_mount_dir or self.home / "secret-mounts"

    @property
    def redis_password_path(self) -> Path:
        """Where the platform Redis's password is kept (`faas up` creates it)."""
        return self.redis_password_file or self.home / "redis-password"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from FAAS_* variables; a bad value raises ConfigError naming it."""
        env = os.environ if environ is None else environ
        parsers: dict[str, Callable[[str], Any]] = {
            "bind": lambda v: tuple(part.strip() for part in v.split(",") if part.strip()),
            "port": int,
            "home": lambda v: Path(v).expanduser(),
            "socket_dir": lambda v: Path(v).expanduser() if v else None,
            "auth": _boolean,
            "admin_password_file": lambda v: Path(v).expanduser(),
            "secrets_key_file": lambda v: Path(v).expanduser(),
            "secret_mount_dir": lambda v: Path(v).expanduser(),
            "redis_password_file": lambda v: Path(v).expanduser(),
            "redis_maxmemory": parse_size,
            "max_body": parse_size,
            "max_response": parse_size,
            "ready_timeout": parse_duration,
            "header_timeout": parse_duration,
            "keep_alive_timeout": parse_duration,
            "deploy_wait": parse_duration,
            "max_connections": int,
            "logs_max_lines": int,
            "logs_max_bytes": parse_size,
            "queue_timeout": parse_duration,
            "pause_after": parse_duration,
            "memory_budget": parse_size,
            "init_backoff": parse_duration,
            "recent_calls": int,
            "generic_pool": int,
            "deploy": lambda v: tuple(Path(p.strip()) for p in v.split(",") if p.strip()),
            "async_workers": int,
            "async_per_function": int,
            "async_max_attempts": int,
            "async_max_age": parse_duration,
            "async_retry_base": parse_duration,
            "async_retry_max": parse_duration,
            "async_visibility_timeout": parse_duration,
            "async_result_ttl": parse_duration,
            "async_result_max": int,
            "async_max_backlog": int,
            "async_shutdown_grace": parse_duration,
            "callback_allow_private": _boolean,
            "openfaas_writable_root": _boolean,
            "callback_max_attempts": int,
        }
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = f.metadata["env"]
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = parsers.get(f.name, str)(raw)
            except ValueError as exc:
                raise ConfigError(f"{var}={raw!r} is invalid: {exc}") from None
        if "build_ca_bundle" not in values:
            values["build_ca_bundle"] = next((env[v] for v in CA_BUNDLE_VARS if env.get(v)), "")
        return cls(**values)


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")
