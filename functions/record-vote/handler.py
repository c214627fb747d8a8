"""The task behind each vote: store one ballot per voter in Redis.

Body: {"voter_id": "3f9c...", "vote": "a" | "b", "ts": <ms since the epoch, when it was cast>}.
`ts` may be left out (then: now). Queued by the vote function through the gateway's async API,
or called directly: `faas invoke record-vote -d '{"voter_id": "v1", "vote": "a"}'`.

Each voter counts once and a changed vote replaces the old one, as the original worker's
Postgres `INSERT ... ON CONFLICT UPDATE` did. One Lua script does the whole update atomically:

    votes:ballots  hash  voter_id -> "a" | "b"           the voter's current vote
    votes:ts       hash  voter_id -> ts                  when that vote was cast
    votes:counts   hash  "a" -> n, "b" -> m              the tally, kept in step with the ballots

A message is applied only if its ts is newer than the voter's stored one, so running the same
message twice changes nothing (safe to retry) and an older vote arriving late is ignored. The
counters move only when a voter's vote actually changes, so they always equal the ballots'.

Answers 200 {"voter_id", "vote", "ts", "outcome", "previous"}: outcome is "recorded" (first
vote), "changed", "unchanged" (same vote, newer ts) or "ignored" (not newer than the stored ts;
nothing changed). 400 on a bad body, 503 when Redis cannot be reached. Needs `network: true`.
"""

import json
import math
import os
import re
import time

import redis

BALLOTS = "votes:ballots"
STAMPS = "votes:ts"
COUNTS = "votes:counts"
VOTES = ("a", "b")
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# KEYS: ballots, stamps, counts. ARGV: voter_id, vote, ts. Returns {outcome, previous or ""}.
RECORD_LUA = """
local voter, vote, ts = ARGV[1], ARGV[2], tonumber(ARGV[3])
local previous = redis.call('HGET', KEYS[1], voter)
local seen = redis.call('HGET', KEYS[2], voter)
if seen and tonumber(seen) >= ts then
  return {'ignored', previous or ''}
end
redis.call('HSET', KEYS[1], voter, vote)
redis.call('HSET', KEYS[2], voter, ARGV[3])
if previous == vote then
  return {'unchanged', previous}
end
if previous then
  redis.call('HINCRBY', KEYS[3], previous, -1)
end
redis.call('HINCRBY', KEYS[3], vote, 1)
return {previous and 'changed' or 'recorded', previous or ''}
"""

# One client per container, created on the first call and reused by every warm call after it
# (redis-py keeps a pool of connections and reconnects after a drop).
_client = None
_script = None


class BadRequest(Exception):
    """The body is not a ballot: 400."""


class Unavailable(Exception):
    """Redis cannot be used: 503."""


def handle(event, context):
    try:
        voter_id, vote, ts = parse(event.body)
    except BadRequest as exc:
        return _error(400, "bad_request", str(exc))
    try:
        outcome, previous = record(redis_client(), voter_id, vote, ts)
    except Unavailable as exc:
        return _error(503, "unavailable", str(exc))
    return {
        "voter_id": voter_id,
        "vote": vote,
        "ts": ts,
        "outcome": outcome,
        "previous": previous,
    }


def parse(body):
    """(voter_id, vote, ts) from the JSON body; raises BadRequest with what is wrong."""
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object like {"voter_id": "v1", "vote": "a"}')
    voter_id, vote, ts = data.get("voter_id"), data.get("vote"), data.get("ts")
    if not isinstance(voter_id, str) or not ID_PATTERN.fullmatch(voter_id):
        raise BadRequest(f"voter_id must be 1-64 letters, digits, '-' or '_', got {voter_id!r}")
    if vote not in VOTES:
        raise BadRequest(f'vote must be "a" or "b", got {vote!r}')
    if ts is None:
        ts = time.time_ns() // 1_000_000
    valid_number = isinstance(ts, int | float) and not isinstance(ts, bool)
    if not valid_number or not math.isfinite(ts) or ts < 0:
        raise BadRequest(f"ts must be a number of milliseconds since the epoch, got {ts!r}")
    return voter_id, vote, ts


def record(client, voter_id, vote, ts):
    """Apply one ballot atomically; returns (outcome, previous vote or None)."""
    global _script
    if _script is None:
        _script = client.register_script(RECORD_LUA)
    try:
        outcome, previous = _script(keys=[BALLOTS, STAMPS, COUNTS], args=[voter_id, vote, ts])
    except redis.RedisError as exc:
        raise Unavailable(f"Redis cannot record the vote ({exc})") from exc
    return outcome, previous or None


def redis_client():
    """The container's Redis client, created on first use from FAAS_REDIS_URL."""
    global _client
    if _client is None:
        url = os.environ.get("FAAS_REDIS_URL")
        if not url:
            raise Unavailable(
                "FAAS_REDIS_URL is not set (its faas.yaml needs `redis: {keyspace: votes}`)"
            )
        try:
            _client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )
        except ValueError as exc:
            raise Unavailable(f"FAAS_REDIS_URL is not a usable Redis URL ({exc})") from None
    return _client


def _error(status, code, message):
    return {"statusCode": status, "body": {"error": {"code": code, "message": message}}}
