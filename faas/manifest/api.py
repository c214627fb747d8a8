"""faas.yaml's API-gateway fields: who may call a function, how often, from which web pages,
with which bodies. Parsed into one frozen `ApiPolicy` (None when a manifest sets none of them,
so the call path of such a function checks nothing and never asks Redis).

    auth: api-key                            calls need a valid X-Api-Key (default: none)
    rate_limit: {rate: 100/s, burst: 200}    the function, every caller together
    key_rate_limit: {rate: 10/s, burst: 20}  each API key on this function (auth: api-key)
    quota: {limit: 1000, period: day}        each API key on this function (auth: api-key)
    cors: {origins: [https://app.example], methods: [GET, POST], headers: [Content-Type],
           max_age: 10m, credentials: false}
    request_schema: schema.json              or the JSON Schema itself (see request_schema.py)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from faas.errors import ManifestError
from faas.manifest.request_schema import RequestSchema, parse_request_schema
from faas.units import format_duration, parse_duration

API_FIELDS = frozenset({"auth", "rate_limit", "key_rate_limit", "quota", "cors", "request_schema"})
AUTH_MODES = ("none", "api-key")
PERIODS = ("minute", "hour", "day", "week", "month")  # calendar windows in UTC, weeks from Monday
MAX_RATE = 1_000_000.0  # calls per second
MAX_BURST = 1_000_000
MAX_QUOTA = 10**12
MAX_CORS_AGE = 24 * 3600.0  # what browsers honour at most
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|m|h|d))?\s*")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)(:[0-9]{1,5})?")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token: header names


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `burst` calls at once, refilled at `per_second`."""

    rate: str  # as written, normalised: 10/s, 600/m
    per_second: float
    burst: int

    @property
    def interval_ms(self) -> float:
        """Time for one token to come back."""
        return 1000.0 / self.per_second

    def to_manifest(self) -> dict[str, Any]:
        return {"rate": self.rate, "burst": self.burst}


@dataclass(frozen=True)
class Quota:
    """At most `limit` calls per calendar `period` (UTC)."""

    limit: int
    period: str

    def to_manifest(self) -> dict[str, Any]:
        return {"limit": self.limit, "period": self.period}


@dataclass(frozen=True)
class Cors:
    """Which web pages' scripts may call the function; the gateway answers preflights."""

    origins: tuple[str, ...]  # exact origins, or ("*",)
    methods: tuple[str, ...] = ("GET", "POST")
    headers: tuple[str, ...] = ("Content-Type",)
    max_age: float = 600.0
    credentials: bool = False

    def to_manifest(self) -> dict[str, Any]:
        return {
            "origins": list(self.origins),
            "methods": list(self.methods),
            "headers": list(self.headers),
            "max_age": format_duration(self.max_age),
            "credentials": self.credentials,
        }


@dataclass(frozen=True)
class ApiPolicy:
    auth: str = "none"
    rate_limit: RateLimit | None = None
    key_rate_limit: RateLimit | None = None
    quota: Quota | None = None
    cors: Cors | None = None
    request_schema: RequestSchema | None = None

    @property
    def needs_key(self) -> bool:
        return self.auth == "api-key"

    @property
    def uses_redis(self) -> bool:
        """Whether a call asks Redis (key, limits, quota): CORS and schemas are local."""
        return self.needs_key or self.rate_limit is not None

    def to_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.auth != "none":
            data["auth"] = self.auth
        for name in ("rate_limit", "key_rate_limit", "quota", "cors", "request_schema"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value.to_manifest()
        return data


def parse_api(data: Mapping[str, Any]) -> ApiPolicy | None:
    """The policy of a manifest mapping; None when it sets none of these fields."""
    if not any(name in data for name in API_FIELDS):
        return None
    auth = data.get("auth", "none")
    if auth not in AUTH_MODES:
        raise ManifestError("auth", f"must be none or api-key, got {auth!r}")
    policy = ApiPolicy(
        auth=auth,
        rate_limit=_optional(data, "rate_limit", parse_rate_limit),
        key_rate_limit=_optional(data, "key_rate_limit", parse_rate_limit),
        quota=_optional(data, "quota", parse_quota),
        cors=_optional(data, "cors", _cors),
        request_schema=_optional(data, "request_schema", parse_request_schema),
    )
    for per_key in ("key_rate_limit", "quota"):
        if getattr(policy, per_key) is not None and not policy.needs_key:
            raise ManifestError(per_key, "counts each API key's calls: it needs auth: api-key")
    return None if policy == ApiPolicy() else policy


def _optional(data: Mapping[str, Any], key: str, parse: Any) -> Any:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse(value)
    except ManifestError as exc:
        nested = exc.field if exc.field.startswith("/") else f".{exc.field}"  # pointer or name
        raise ManifestError(f"{key}{nested}" if exc.field else key, _reason(exc)) from None


def _reason(exc: ManifestError) -> str:
    return exc.message.split(": ", 1)[1] if exc.field else exc.message


def parse_rate(value: object) -> tuple[str, float]:
    """`10/s`, `600/m`, `1000/h`, `5000/d` or a number per second: (normalised text, per second)."""
    match = _RATE.fullmatch(str(value)) if isinstance(value, str | int | float) else None
    if isinstance(value, bool) or match is None:
        raise ManifestError("rate", f"must look like 10/s, 600/m or 1000/h, got {value!r}")
    count, unit = float(match.group(1)), match.group(2) or "s"
    per_second = count / _PER[unit]
    if not (math.isfinite(per_second) and 0 < per_second <= MAX_RATE):
        raise ManifestError("rate", f"must be above 0 and at most {MAX_RATE:g}/s, got {value!r}")
    return f"{count:g}/{unit}", per_second


def parse_rate_limit(value: object) -> RateLimit:
    """`{rate: 10/s, burst: 20}`; burst defaults to a second's worth of calls (at least 1)."""
    if not isinstance(value, Mapping):
        raise ManifestError("", f"must be a mapping like {{rate: 10/s, burst: 20}}, got {value!r}")
    _known(value, ("rate", "burst"))
    if "rate" not in value:
        raise ManifestError("rate", "is required (like 10/s)")
    text, per_second = parse_rate(value["rate"])
    burst = value.get("burst", max(1, math.ceil(per_second)))
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= MAX_BURST:
        raise ManifestError("burst", f"must be a whole number from 1 to {MAX_BURST}, got {burst!r}")
    return RateLimit(text, per_second, burst)


def parse_quota(value: object) -> Quota:
    """`{limit: 1000, period: day}`."""
    if not isinstance(value, Mapping):
        raise ManifestError(
            "", f"must be a mapping like {{limit: 1000, period: day}}, got {value!r}"
        )
    _known(value, ("limit", "period"))
    limit, period = value.get("limit"), value.get("period", "day")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_QUOTA:
        raise ManifestError("limit", f"must be a whole number from 1 to {MAX_QUOTA}, got {limit!r}")
    if period not in PERIODS:
        raise ManifestError("period", f"must be one of {', '.join(PERIODS)}, got {period!r}")
    return Quota(limit, period)


def _cors(value: object) -> Cors:
    if not isinstance(value, Mapping):
        raise ManifestError("", f"must be a mapping like {{origins: [...]}}, got {value!r}")
    _known(value, ("origins", "methods", "headers", "max_age", "credentials"))
    origins = tuple(origin.lower() for origin in _strings(value, "origins", None))
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ManifestError(
                "origins", f"{origin!r} is not an origin like https://app.example:8443 or *"
            )
    if "*" in origins and len(origins) > 1:
        raise ManifestError("origins", "'*' allows every origin: list it alone")
    methods = tuple(m.upper() for m in _strings(value, "methods", Cors.methods))
    for method in methods:
        if method != "*" and method not in CORS_METHODS:
            raise ManifestError("methods", f"{method!r} is not one of {', '.join(CORS_METHODS)}")
    headers = _strings(value, "headers", Cors.headers)
    for name in headers:
        if name != "*" and not _TOKEN.fullmatch(name):
            raise ManifestError("headers", f"{name!r} is not a header name")
    try:
        max_age = parse_duration(value.get("max_age", Cors.max_age))
    except ValueError as exc:
        raise ManifestError("max_age", str(exc)) from None
    if max_age > MAX_CORS_AGE:
        raise ManifestError("max_age", f"must be at most {format_duration(MAX_CORS_AGE)}")
    credentials = value.get("credentials", False)
    if not isinstance(credentials, bool):
        raise ManifestError("credentials", f"must be true or false, got {credentials!r}")
    if credentials and origins == ("*",):
        raise ManifestError("credentials", "browsers refuse credentials with origins: ['*']")
    return Cors(origins, methods, headers, float(max_age), credentials)


def _strings(
    value: Mapping[str, Any], key: str, default: tuple[str, ...] | None
) -> tuple[str, ...]:
    items = value.get(key, default)
    if items is None:
        raise ManifestError(key, "is required (a list)")
    if isinstance(items, str):
        items = [items]
    if (
        not isinstance(items, list | tuple)
        or not items
        or not all(isinstance(i, str) for i in items)
    ):
        raise ManifestError(key, f"must be a non-empty list of strings, got {items!r}")
    return tuple(items)


def _known(value: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise ManifestError(unknown[0], f"unknown field (known: {', '.join(known)})")


def inline_schema_file(data: object, folder: Path) -> object:
    """`request_schema: FILE` (relative to the function folder, JSON or YAML) read into the
    manifest, so the registered manifest carries the schema itself."""
    if not isinstance(data, Mapping) or not isinstance(data.get("request_schema"), str):
        return data
    name = data["request_schema"]
    root = folder.resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(root):
        raise ManifestError("request_schema", f"{name!r} is outside the function folder")
    if not path.is_file():
        raise ManifestError("request_schema", f"file {name!r} not found in {folder}")
    try:
        schema = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise ManifestError("request_schema", f"{name} is not JSON or YAML: {exc}") from None
    return {**data, "request_schema": schema}
