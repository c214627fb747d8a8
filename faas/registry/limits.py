"""Admission of one call to a function with an API key, rate limits or a quota: one EVALSHA.

Every gateway checks the same Redis, so limits hold however many gateways serve a function.
One Lua script does all of a call's checks atomically: the key (its digest, that it is live and
allowed on this function, and its own plan), then every quota, then every token bucket; only
when all pass does it take a token from each bucket and count the call in each quota. A refused
call consumes nothing, and nothing can pass between a check and its update.

Why not the `limits` library: it counts fixed or moving windows (no burst on top of a steady
rate), checks one limit per round trip, and would need a second round trip for the key; here
a call pays one round trip whatever it is checked against.

Buckets are GCRA (the token bucket as one timestamp per bucket: the "theoretical arrival
time") on Redis's clock, so gateways with skewed clocks still share one rate. Quotas count
calendar windows in UTC that the gateway computes (`windows`); a gateway whose clock is behind
at a window's end counts into the newer window it finds rather than resetting it.
"""

from __future__ import annotations

import calendar
import functools
import math
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from faas import keys
from faas.errors import ApiKeyRefused, QuotaExceeded, RateLimited
from faas.manifest.api import PERIODS, Quota, RateLimit
from faas.registry.api_keys import PresentedKey
from faas.registry.redis_errors import translated

# KEYS: 1 the key's record, 2 the function's bucket, 3 the key's bucket on this function,
#       4 the key's own bucket, 5 the key's quota on this function, 6 the key's own quota.
# ARGV: 1 function, 2 presented digest ('' when no key is checked),
#       3-4 the function's bucket (interval ms, burst; interval 0: none), 5-6 the key's bucket on
#       the function, 7-8 the key's quota on the function (limit, period; limit 0: none),
#       9.. index and end (ms) of the current window of each period in PERIODS' order.
# Returns {0} admitted, {1} key refused, {2, ms} rate limited, {3, ms} quota used up.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windows = {minute = 9, hour = 11, day = 13, week = 15, month = 17}
local buckets, quotas = {}, {}
local function bucket(key, interval, burst)
  if interval and interval > 0 then buckets[#buckets + 1] = {key, interval, burst} end
end
local function quota(key, limit, period)
  if limit and limit > 0 then quotas[#quotas + 1] = {key, limit, period} end
end
bucket(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
if ARGV[2] ~= '' then
  local k = redis.call('HMGET', KEYS[1], 'digest', 'functions', 'interval', 'burst',
                       'quota', 'period')
  if k[1] ~= ARGV[2] then return {1} end
  if k[2] ~= '*' and not string.find(',' .. k[2] .. ',', ',' .. ARGV[1] .. ',', 1, true) then
    return {1}
  end
  bucket(KEYS[3], tonumber(ARGV[5]), tonumber(ARGV[6]))
  bucket(KEYS[4], tonumber(k[3]), tonumber(k[4]))
  quota(KEYS[5], tonumber(ARGV[7]), ARGV[8])
  quota(KEYS[6], tonumber(k[5]), k[6])
end
local counts, over = {}, nil
for i, q in ipairs(quotas) do
  local at = windows[q[3]]
  local w, ends = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  local s = redis.call('HMGET', q[1], 'p', 'w', 'n')
  local n = 0
  if s[1] == q[3] and tonumber(s[2]) >= w then
    w, n = tonumber(s[2]), tonumber(s[3])
  end
  if n >= q[2] then over = math.max(over or 0, ends - now) end
  counts[i] = {w, n, ends}
end
if over then return {3, math.max(over, 1)} end
local tats, wait = {}, nil
for i, b in ipairs(buckets) do
  local tat = math.max(tonumber(redis.call('GET', b[1]) or '0'), now)
  local allowed_at = tat + b[2] - b[3] * b[2]
  if now < allowed_at then wait = math.max(wait or 0, allowed_at - now) end
  tats[i] = tat + b[2]
end
if wait then return {2, math.ceil(wait)} end
for i, b in ipairs(buckets) do
  redis.call('SET', b[1], string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
end
for i, q in ipairs(quotas) do
  local c = counts[i]
  redis.call('HSET', q[1], 'p', q[3], 'w', c[1], 'n', c[2] + 1)
  redis.call('PEXPIREAT', q[1], math.max(c[3], now) + 60000)
end
return {0}
"""


def windows(now: float) -> tuple[int, ...]:
    """Index and end (epoch ms) of the UTC calendar window around `now` for each period."""
    return _windows(int(now // 60))  # every period starts on a minute


@functools.lru_cache(maxsize=4)
def _windows(minute: int) -> tuple[int, ...]:
    now = minute * 60
    day = now // 86400
    tm = time.gmtime(now)
    month = tm.tm_year * 12 + tm.tm_mon - 1
    next_year, next_month = divmod(month + 1, 12)
    week = (day + 3) // 7  # 1970-01-01 was a Thursday: weeks start on Monday
    spans = {
        "minute": (minute, now + 60),
        "hour": (now // 3600, (now // 3600 + 1) * 3600),
        "day": (day, (day + 1) * 86400),
        "week": (week, ((week + 1) * 7 - 3) * 86400),
        "month": (month, calendar.timegm((next_year, next_month + 1, 1, 0, 0, 0))),
    }
    return tuple(n for period in PERIODS for n in (spans[period][0], spans[period][1] * 1000))


class Limits:
    """Checks calls against keys, rate limits and quotas; raises what the caller gets."""

    def __init__(self, client: aioredis.Redis, clock: Callable[[], float] = time.time) -> None:
        self._admit = client.register_script(_ADMIT)
        self._clock = clock

    async def admit(
        self,
        function: str,
        *,
        key: PresentedKey | None = None,
        rate_limit: RateLimit | None = None,
        key_rate_limit: RateLimit | None = None,
        quota: Quota | None = None,
    ) -> None:
        """Count one call, or raise ApiKeyRefused, QuotaExceeded or RateLimited (counting
        nothing). `key` None: no key is checked, and key limits do not apply."""
        key_id = key.id if key else ""
        names = [
            keys.api_key(key_id),
            keys.rate_bucket(function),
            keys.rate_bucket(function, key_id),
            keys.rate_bucket("", key_id),
            keys.quota_counter(function, key_id),
            keys.quota_counter("", key_id),
        ]
        args: list[str | int | float] = [
            function,
            key.digest if key else "",
            *_bucket(rate_limit),
            *_bucket(key_rate_limit),
            quota.limit if quota else 0,
            quota.period if quota else "",
            *(windows(self._clock()) if key else ()),  # quotas count keys' calls only
        ]
        async with translated("check the call's limits"):
            reply = await self._admit(names, args)
        verdict = int(reply[0])
        if verdict == 0:
            return
        if verdict == 1:
            raise ApiKeyRefused("the X-Api-Key is not valid for this function")
        seconds = max(1, math.ceil(int(reply[1]) / 1000))
        if verdict == 3:
            raise QuotaExceeded(
                f"this API key's quota is used up; it renews in {seconds}s", seconds
            )
        raise RateLimited(f"over the rate limit; retry in {seconds}s", seconds)


def _bucket(limit: RateLimit | None) -> tuple[float, int]:
    return (limit.interval_ms, limit.burst) if limit else (0, 0)
