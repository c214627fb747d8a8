"""Trigger parsing (faas.yaml), schedules, the batch event and batchItemFailures; callbacks'
address rules; the stream message and call record shapes. Pure code."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime

import pytest

from faas.errors import BadRequest, ManifestError
from faas.manifest.cron import parse_schedule
from faas.manifest.spec import parse_manifest
from faas.manifest.triggers import ScheduleTrigger, StreamTrigger
from faas.queue.callbacks import check_url, refused
from faas.queue.records import CallKind, Message, record_view
from faas.queue.triggers import batch_event, entry_time, failed_items


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_triggers_parse_and_round_trip() -> None:
    spec = parse_manifest(
        {
            "name": "tally",
            "triggers": [{"stream": "votes", "batch_size": 25}, {"schedule": "*/5 * * * *"}],
        }
    )
    assert spec.triggers == (StreamTrigger("votes", 25), ScheduleTrigger("*/5 * * * *"))
    assert spec.to_manifest()["triggers"] == [
        {"stream": "votes", "batch_size": 25},
        {"schedule": "*/5 * * * *"},
    ]
    assert parse_manifest(spec.to_manifest()) == spec
    assert parse_manifest({"name": "x", "triggers": [{"stream": "s"}]}).triggers[0] == (
        StreamTrigger("s", 10)
    )


@pytest.mark.parametrize(
    ("triggers", "field"),
    [
        ("votes", "triggers"),
        ([{}], "triggers[0]"),
        ([{"stream": "a", "schedule": "@hourly"}], "triggers[0]"),
        ([{"stream": "a"}, {"stream": "a"}], "triggers[1].stream"),
        ([{"stream": ""}], "triggers[0].stream"),
        ([{"stream": "has space"}], "triggers[0].stream"),
        ([{"stream": "faas:calls"}], "triggers[0].stream"),
        ([{"stream": "a", "batch_size": 0}], "triggers[0].batch_size"),
        ([{"stream": "a", "batch_size": 10001}], "triggers[0].batch_size"),
        ([{"stream": "a", "batch": 5}], "triggers[0].batch"),
        ([{"schedule": "* * *"}], "triggers[0].schedule"),
        ([{"schedule": "61 * * * *"}], "triggers[0].schedule"),
        ([{"schedule": "@every 100ms"}], "triggers[0].schedule"),
        ([{"schedule": "@sometimes"}], "triggers[0].schedule"),
        ([{"schedule": "@hourly", "stream": None}], "triggers[0]"),
        ([{"schedule": "@hourly", "body": "x"}], "triggers[0].body"),
    ],
)
def test_bad_triggers_name_the_field(triggers: object, field: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"name": "x", "triggers": triggers})
    assert caught.value.field == field


def test_cron_ticks_in_utc() -> None:
    five = parse_schedule("*/5  * * * *")
    assert five.text == "*/5 * * * *"
    assert five.next_tick(ts("2024-01-01T10:03:07")) == ts("2024-01-01T10:05:00")
    assert five.next_tick(ts("2024-01-01T10:05:00")) == ts("2024-01-01T10:10:00")
    hourly = parse_schedule("@hourly")
    assert hourly.next_tick(ts("2024-01-01T10:03:07")) == ts("2024-01-01T11:00:00")
    assert hourly.period == 60.0


def test_every_ticks_on_multiples_of_the_interval() -> None:
    every = parse_schedule("@every 2s")
    assert (every.interval, every.period) == (2.0, 2.0)
    assert every.next_tick(10.0) == 12.0
    assert every.next_tick(11.9) == 12.0
    assert parse_schedule("@every 5m").next_tick(0.5) == 300.0


def test_batch_event_shape() -> None:
    event = json.loads(batch_event("votes", [("1-0", {b"vote": b"a"}, 1), ("2-0", {}, 3)]))
    assert event == {
        "Records": [
            {"id": "1-0", "stream": "votes", "data": {"vote": "a"}, "attempt": 1},
            {"id": "2-0", "stream": "votes", "data": {}, "attempt": 3},
        ]
    }
    assert entry_time("1700000000123-4") == 1_700_000_000.123


def test_batch_item_failures_follow_lambda() -> None:
    ids = {"1-0", "2-0", "3-0"}
    listed = json.dumps({"batchItemFailures": [{"itemIdentifier": "2-0"}]}).encode()
    assert failed_items(listed, ids) == {"2-0"}
    assert failed_items(b'{"batchItemFailures": []}', ids) == set()
    assert failed_items(b"", ids) == set()
    assert failed_items(b"not json", ids) == set()
    assert failed_items(b'{"ok": true}', ids) == set()
    unknown = json.dumps({"batchItemFailures": [{"itemIdentifier": "9-9"}]}).encode()
    assert failed_items(unknown, ids) == ids  # Lambda: a bad identifier fails the whole batch
    assert failed_items(b'{"batchItemFailures": [{"id": "1-0"}]}', ids) == ids
    assert failed_items(b'{"batchItemFailures": "1-0"}', ids) == ids


@pytest.mark.parametrize(
    ("address", "bad"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.17.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_refused_addresses(address: str, bad: bool) -> None:
    assert refused(ipaddress.ip_address(address)) is bad


def test_callback_urls() -> None:
    assert check_url("https://example.com/hook", allow_private=False)
    assert check_url("http://localhost:9000/x", allow_private=False)  # names: checked at delivery
    assert check_url("http://127.0.0.1:9000/x", allow_private=True)
    for bad in ("ftp://example.com/", "not a url", "http:///x", "http://example.com:99999/"):
        with pytest.raises(BadRequest):
            check_url(bad, allow_private=True)
    with pytest.raises(BadRequest, match="FAAS_CALLBACK_ALLOW_PRIVATE"):
        check_url("http://169.254.169.254/latest", allow_private=False)


def test_message_round_trips_through_stream_fields() -> None:
    message = Message(
        call_id="c1",
        function="echo",
        method="PUT",
        target=b"/a%20b",
        query=b"x=1",
        headers=[(b"x-h", b"\xe9")],
        body=b"\x00\xff",
        created=12.5,
        attempt=2,
        platform_failures=1,
        callback="http://example.com/",
        kind=CallKind.CRON,
    )
    raw = {k.encode(): v.encode() if isinstance(v, str) else v for k, v in message.fields().items()}
    assert Message.from_fields("1-0", raw) == Message(**{**message.__dict__, "entry_id": "1-0"})
    assert message.next_attempt(counted=True).attempt == 3
    assert message.next_attempt(counted=False).platform_failures == 2


def test_record_view() -> None:
    raw = {
        b"status": b"succeeded",
        b"function": b"echo",
        b"created": b"100.0",
        b"picked_at": b"100.0005",
        b"attempts": b"1",
        b"result_status": b"200",
        b"result_headers": b'{"content-type": "text/plain"}',
        b"result_body": b"\xff",
        b"timings": b'{"total": 1.5}',
        b"callback_url": b"http://example.com/",
        b"callback_status": b"delivered",
        b"callback_attempts": b"2",
    }
    view = record_view("c1", raw)
    assert view["status"] == "succeeded" and view["attempts"] == 1
    assert view["result"] == {
        "status": 200,
        "headers": {"content-type": "text/plain"},
        "body": "/w==",
        "body_encoding": "base64",
    }
    assert view["timings"]["queued_ms"] == pytest.approx(0.5)
    assert view["callback"]["status"] == "delivered"
