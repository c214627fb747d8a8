"""The exception tree. Catch `FaasError` to catch anything faas raises on purpose.

Each class carries the HTTP status that tells a client what to do and a stable `code` for
scripts; the gateway turns any of them into `{"error": {"code", "message"}}` and the CLI into
one line on stderr. Third-party errors (Docker, Redis) are translated once, where they arise.

    FaasError
    ├── ConfigError            a FAAS_* setting is invalid                      (CLI / startup)
    ├── BadRequest             400  malformed name, path, header or body
    │   ├── ManifestError      400  faas.yaml is invalid; names the field
    │   └── RequestInvalid     400  the body does not match the function's request_schema
    ├── ApiKeyRequired         401  the function takes calls with an X-Api-Key only
    ├── ApiKeyRefused          403  that key is unknown, revoked or not for this function
    ├── CorsRefused            403  a preflight from an origin, method or header not allowed
    ├── NotFound               404  no such call, dead letter, ...
    │   ├── FunctionNotFound   404
    │   ├── ImageMissing       404  the engine has no such image (a call's start: 502 init_failed)
    │   ├── CallNotFound       404  no call or dead letter with that id
    │   └── SecretNotFound     404  no secret by that name
    ├── SecretExists           409  a secret by that name exists already (update it)
    │   └── SecretInUse        409  a deployed function names the secret to remove
    ├── PayloadTooLarge        413
    ├── IdempotencyConflict    422  an Idempotency-Key reused with a different request
    ├── AtScaleLimit           429  every container busy at scale.max; has retry_after
    │   └── QueueFull          429  the async queue is at FAAS_ASYNC_MAX_BACKLOG
    ├── Throttled              429  has retry_after
    │   ├── RateLimited        429  over the function's or the key's rate limit
    │   └── QuotaExceeded      429  the key's quota for this period is used up
    ├── FunctionFailed         502  the function, not the caller, is at fault
    │   ├── ResponseTooLarge   502  its answer is over FAAS_MAX_RESPONSE
    │   ├── FunctionCrashed    502  the container died mid-call
    │   ├── OutOfMemory        502  killed by its memory limit
    │   └── FunctionInitError  502  import/init failed or the container did not become ready
    ├── Unavailable            503  a service faas depends on does not answer
    │   ├── EngineUnavailable       the container engine does not answer
    │   │   └── DockerUnavailable
    │   └── RedisUnavailable
    ├── FunctionTimeout        504
    ├── DockerError            500  Docker refused an operation faas asked for
    ├── BuildError                  an image build failed                           (CLI)
    └── StackError                  `faas up`/`down` could not do its job           (CLI)
"""

from __future__ import annotations


class FaasError(Exception):
    """Base class of every error faas raises deliberately."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(FaasError):
    """A FAAS_* setting has a value faas cannot use."""

    code = "config"


class BadRequest(FaasError):
    """The request is malformed: a name, path, header or body breaks a rule."""

    status = 400
    code = "bad_request"


class ManifestError(BadRequest):
    """faas.yaml is invalid; `field` names the offending field (dotted for nested ones)."""

    code = "invalid_manifest"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class NotFound(FaasError):
    """The thing asked for (a call, a dead letter) does not exist."""

    status = 404
    code = "not_found"


class FunctionNotFound(NotFound):
    """No function is registered under that name."""

    status = 404
    code = "not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"no function named {name!r} is deployed (see `faas list`)")
        self.name = name


class ImageMissing(NotFound):
    """The engine has no image by that reference (removed since it was deployed)."""

    code = "image_missing"


class PayloadTooLarge(FaasError):
    """The request body is larger than FAAS_MAX_BODY."""

    status = 413
    code = "payload_too_large"


class AtScaleLimit(FaasError):
    """Every container of the function is busy and it runs at scale.max."""

    status = 429
    code = "at_scale_limit"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FunctionFailed(FaasError):
    """The function failed to answer; its container is discarded."""

    status = 502
    code = "function_failed"


class ResponseTooLarge(FunctionFailed):
    """The function's answer is larger than FAAS_MAX_RESPONSE: cut, never buffered whole."""

    code = "response_too_large"


class FunctionCrashed(FunctionFailed):
    """The function's container exited or dropped the connection mid-call."""

    code = "crashed"


class OutOfMemory(FunctionFailed):
    """The container was killed by its memory limit (exit 137, OOMKilled)."""

    code = "oom"


class FunctionInitError(FunctionFailed):
    """The handler could not be loaded, or the container never became ready."""

    code = "init_failed"


class Unavailable(FaasError):
    """A service faas depends on does not answer; retrying later may help."""

    status = 503
    code = "unavailable"


class EngineUnavailable(Unavailable):
    """The container engine does not answer."""

    code = "engine_unavailable"


class DockerUnavailable(EngineUnavailable):
    """The Docker Engine does not answer."""

    code = "docker_unavailable"


class RedisUnavailable(Unavailable):
    """Redis does not answer."""

    code = "redis_unavailable"


class FunctionTimeout(FaasError):
    """The call ran past the function's timeout; its container was killed."""

    status = 504
    code = "timeout"


class DockerError(FaasError):
    """Docker answered but refused an operation (the message carries its explanation)."""

    code = "docker_error"


class BuildError(FaasError):
    """Building a function image failed."""

    code = "build_failed"


class StackError(FaasError):
    """The local stack (Redis and gateway) could not be started, stopped or found."""

    code = "stack"


class CallNotFound(NotFound):
    """No async call (or recent sync call) has that id, or a dead letter that id."""


class SecretNotFound(NotFound):
    """No secret has that name."""

    def __init__(self, name: str, field: str = "name") -> None:
        super().__init__(f"{field}: no secret named {name!r} (see `faas secret list`)")
        self.name = name


class SecretExists(FaasError):
    """`faas secret create` of a name that exists: `faas secret update` replaces a value."""

    status = 409
    code = "secret_exists"


class SecretInUse(SecretExists):
    """Removing a secret that deployed functions name: their next instances could not start."""

    code = "secret_in_use"


class IdempotencyConflict(FaasError):
    """An Idempotency-Key was reused with a different request."""

    status = 422
    code = "idempotency_conflict"


class QueueFull(AtScaleLimit):
    """The async queue holds FAAS_ASYNC_MAX_BACKLOG calls already."""

    code = "queue_full"


# -- the API-gateway features of a function (faas.manifest.api, gateway.api_policy) ------------


class RequestInvalid(BadRequest):
    """The call's body is not JSON matching the function's request_schema; `field` is where
    (a JSON pointer into the body, "" for the whole body)."""

    code = "invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"request body at {field}: {message}" if field else message)
        self.field = field


class ApiKeyRequired(FaasError):
    """The function has `auth: api-key` and the call carries no X-Api-Key header."""

    status = 401
    code = "api_key_required"


class ApiKeyRefused(FaasError):
    """The X-Api-Key is malformed, unknown, revoked, or limited to other functions (which of
    these is not said)."""

    status = 403
    code = "invalid_api_key"


class CorsRefused(FaasError):
    """A CORS preflight asks for an origin, method or header the function does not allow."""

    status = 403
    code = "cors_refused"


class Throttled(FaasError):
    """Too many calls; `retry_after` seconds until one would pass."""

    status = 429
    code = "throttled"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Throttled):
    code = "rate_limited"


class QuotaExceeded(Throttled):
    code = "quota_exceeded"
