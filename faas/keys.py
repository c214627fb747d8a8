"""Every Redis key and Docker label faas uses, in one place: the whole schema reads from here."""

from __future__ import annotations

# Docker labels. `faas.managed` + `faas.role` find everything faas created; `faas.gateway`
# says which gateway process owns a function container, so a gateway that starts after a
# crash removes only containers whose owner no longer sends heartbeats.
LABEL_MANAGED = "faas.managed"
LABEL_FUNCTION = "faas.function"
LABEL_ROLE = "faas.role"
LABEL_GATEWAY = "faas.gateway"
LABEL_CODE_HASH = "faas.code-hash"
# Which stack (one Redis: one registry) a container belongs to. Several stacks can share one
# Docker Engine; each reclaims only its own orphans.
LABEL_STACK = "faas.stack"
# On function images: whether the image carries its own dependencies ("true"/"false") and the
# id of the base image it was built on. A generic runtime container (ROLE_GENERIC) built on
# the same base can load the code of a function without dependencies on its first call.
LABEL_DEPS = "faas.deps"
LABEL_BASE_IMAGE = "faas.base-image"

ROLE_FUNCTION = "function"
ROLE_GENERIC = "generic"  # a pre-started runtime with no function yet (faas.function="")
ROLE_TASK = "task"  # one run of a task image (`contract: task`), removed by its runner
ROLE_CHECK = "check"  # `faas deploy` importing a new image's handler once, then removed
POOLED_ROLES = (ROLE_FUNCTION, ROLE_GENERIC)  # containers a gateway owns (faas.gateway)
ROLE_REDIS = "redis"

MANAGED_FILTER = f"{LABEL_MANAGED}=true"

# Redis keys.
PREFIX = "faas:"
FUNCTIONS = PREFIX + "functions"  # hash: name -> JSON function record
# Change feed of FUNCTIONS, written in the same script as it: readers poll the revision and
# fetch only the names changed after the one they saw (faas.registry.store.Registry.changes).
FUNCTIONS_REVISION = PREFIX + "functions:revision"  # integer, +1 per put or delete
FUNCTIONS_CHANGES = PREFIX + "functions:changes"  # sorted set: name -> revision of last change
# stream, capped: an entry per put or delete, so gateways wait on it (XREAD BLOCK), not poll
FUNCTIONS_NOTICES = PREFIX + "functions:notices"
# Secrets (faas.registry.secrets): values encrypted with the stack's key, never in plain text;
# a change feed like the functions' one tells every gateway which secrets changed.
SECRETS = PREFIX + "secrets"  # hash: name -> Fernet token of the value
SECRETS_REVISION = PREFIX + "secrets:revision"  # integer, +1 per create, update or remove
SECRETS_CHANGES = PREFIX + "secrets:changes"  # sorted set: name -> revision of last change
STACK_ID = PREFIX + "stack-id"  # string: this Redis's stack id, set once (LABEL_STACK)
# Data bindings (`redis: {keyspace: K}` in faas.yaml): each bound function has its own ACL user,
# whose generated password is kept here, out of reach of every function's user.
BINDING_PASSWORDS = PREFIX + "binding-passwords"  # hash: function name -> ACL password


def binding_user(function: str) -> str:
    """The Redis ACL user of a function's data binding."""
    return f"fn-{function}"


def gateway_heartbeat(gateway_id: str) -> str:
    """String key with a TTL, refreshed while the gateway lives."""
    return f"{PREFIX}gateway:{gateway_id}"


def gateway_applied(gateway_id: str) -> str:
    """String key with a TTL: the registry revision the gateway has applied (a deploy waits
    until every live gateway has reached its own; faas.registry.propagation)."""
    return f"{PREFIX}applied:{gateway_id}"


def function_logs(name: str) -> str:
    """List of log lines kept from the function's removed containers (capped)."""
    return f"{PREFIX}logs:{name}"


# Async calls and triggers (faas.queue). The calls stream holds exactly the attempts not yet
# finished: an entry is deleted in the same transaction that acknowledges it, so the stream is
# never trimmed and a pending entry can never be dropped.
CALLS = PREFIX + "calls"  # stream: one entry per queued attempt of an async call
CALLS_GROUP = "faas-gateways"  # consumer group on CALLS; each gateway is one consumer
CALLS_DELAYED = PREFIX + "calls:delayed"  # sorted set: call id -> due time of its next attempt
DEAD_LETTERS = PREFIX + "dead-letters"  # stream: calls and trigger items that gave up
# Finished (succeeded or failed) call records by finish time: the oldest go first once more
# than FAAS_ASYNC_RESULT_MAX are kept (retention by count; FAAS_ASYNC_RESULT_TTL is by age).
CALLS_FINISHED = PREFIX + "calls:finished"  # sorted set: call id -> finish time
CALL_PREFIX = PREFIX + "call:"
RETRY_SUFFIX = ":retry"


def call_record(call_id: str) -> str:
    """Hash: an async call's status, attempts, timings and result (TTL once finished)."""
    return CALL_PREFIX + call_id


def call_retry(call_id: str) -> str:
    """Hash: the stream fields of a call's next attempt, until its due time moves it back."""
    return CALL_PREFIX + call_id + RETRY_SUFFIX


def idempotency(key_digest: str) -> str:
    """String `<call id> <request fingerprint>` for an Idempotency-Key (TTL)."""
    return f"{PREFIX}idem:{key_digest}"


def cron_tick(function: str, index: int, tick: int) -> str:
    """Idempotency key of one cron tick: set once across all gateways, so a tick fires once."""
    return f"{PREFIX}cron:{function}:{index}:{tick}"


def trigger_group(function: str) -> str:
    """Consumer group a function's stream trigger reads with, on the user's own stream."""
    return f"{PREFIX}trigger:{function}"


# API keys and call limits (faas.registry.api_keys, faas.registry.limits).
API_KEYS = PREFIX + "api-keys"  # set: ids of live API keys


def api_key(key_id: str) -> str:
    """Hash: one API key's sha256 digest, name, functions and plan (never the key itself)."""
    return f"{PREFIX}api-key:{key_id}"


def rate_bucket(function: str, key_id: str = "") -> str:
    """String: a token bucket's theoretical arrival time (GCRA), for the function as a whole,
    or for one key on it; `function=""` is the key's own plan across every function."""
    return f"{PREFIX}rate:{function}:{key_id}"


def quota_counter(function: str, key_id: str) -> str:
    """Hash {p: period, w: window, n: calls}: one key's calls in the current window, on one
    function, or (`function=""`) across every function under the key's own plan."""
    return f"{PREFIX}quota:{function}:{key_id}"
