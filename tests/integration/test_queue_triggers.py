"""Stream triggers (batches, partial failures) and cron triggers across two gateways."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import redis

from faas import keys
from tests.conftest import FIXTURES, Gateway, wait_until
from tests.integration.test_queue import FAST_RETRIES, Deploy, db

__all__ = ["db"]  # the fixture, re-used

STREAM = "test-votes"


def test_a_batch_with_a_failed_item_retries_only_that_item_then_dead_letters_it(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    gateway = make_gateway(**FAST_RETRIES)
    deploy(gateway, FIXTURES / "batch")
    group = keys.trigger_group("batch")
    wait_until(lambda: any(g["name"] == group.encode() for g in _groups(db)), 15)
    ids = [
        db.xadd(STREAM, {"n": str(n), **({"fail": "yes"} if n == 2 else {})}).decode()
        for n in range(5)
    ]

    def dead() -> list[dict[str, object]]:
        letters = gateway.http.get("/system/dead-letters", params={"function": "batch"})
        return list(letters.json()["dead_letters"])

    wait_until(lambda: len(dead()) == 1, 30, 0.1)
    (letter,) = dead()
    assert (letter["reason"], letter["attempts"], letter["kind"]) == ("max_attempts", 3, "trigger")
    assert letter["source"] == {"stream": STREAM, "entry": ids[2]}
    assert db.xpending(STREAM, group)["pending"] == 0  # every item acknowledged
    lines = gateway.http.get("/system/logs/batch").json()["lines"]
    seen = Counter(line.split("got ", 1)[1].split()[0] for line in lines if "got " in line)
    assert seen == {ids[0]: 1, ids[1]: 1, ids[2]: 3, ids[3]: 1, ids[4]: 1}
    attempts = [line.rsplit(" ", 1)[1] for line in lines if f"got {ids[2]}" in line]
    assert attempts == ["1", "2", "3"]
    assert db.xlen(STREAM) == 5  # the user's stream is never trimmed by faas

    # Redriven, the item comes back as an async call with a one-record batch.
    shown = gateway.http.get(f"/system/dead-letters/{letter['id']}").json()
    event = json.loads(shown["request"]["body"])
    assert [r["id"] for r in event["Records"]] == [ids[2]]
    assert event["Records"][0]["data"] == {"n": "2", "fail": "yes"}


def test_cron_fires_once_per_tick_across_two_gateways(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    first, second = make_gateway(), make_gateway()
    deploy(first, FIXTURES / "cron")

    def cron_calls() -> list[dict[bytes, bytes]]:
        records = [db.hgetall(key) for key in db.scan_iter(match=keys.CALL_PREFIX + "*")]
        return [r for r in records if r.get(b"kind") == b"cron"]

    wait_until(lambda: sum(r[b"status"] == b"succeeded" for r in cron_calls()) >= 4, 30, 0.2)
    calls = cron_calls()
    ticks = sorted(float(r[b"tick"]) for r in calls)
    assert len(ticks) == len(set(ticks))  # no tick fired twice
    assert ticks == [ticks[0] + n for n in range(len(ticks))]  # and none skipped (@every 1s)
    done = [r for r in calls if r[b"status"] == b"succeeded"]
    body = json.loads(done[0][b"result_body"])
    assert (body["source"], body["schedule"]) == ("faas.cron", "@every 1s")
    assert {r[b"gateway"] for r in done} <= {
        first.http.get("/healthz").json()["gateway"].encode(),
        second.http.get("/healthz").json()["gateway"].encode(),
    }


def _groups(db: redis.Redis) -> list[dict[str, object]]:
    try:
        return list(db.xinfo_groups(STREAM))
    except redis.ResponseError:
        return []
