"""The voting-app functions (vote, record-vote, result), called in-process through faas.testing
(the runtime's own Event and Context, no Docker).

Each handler module is loaded afresh from its folder by faas.testing.load_module.
vote talks to a real local HTTP server standing in for the gateway; record-vote and result use
FakeRedis, which runs a Python copy of record-vote's Lua script (the script itself is checked
against a real Redis elsewhere).
"""

from __future__ import annotations

import ast
import json
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest
import redis

from faas import testing
from faas.manifest.spec import load_manifest
from faas.runtime import Context as RuntimeContext
from faas.runtime import Event as RuntimeEvent

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
FORM = "application/x-www-form-urlencoded"
OPTIONS = {"a": "Cats", "b": "Dogs"}
OUTCOMES = {"recorded", "changed", "unchanged", "ignored"}
RECORDED = {"outcome": "recorded", "previous": None}
COOKIE_RE = re.compile(r"voter_id=([0-9a-f]{16}); Path=/; Max-Age=31536000; SameSite=Lax")


def load(name: str) -> ModuleType:
    """A fresh copy of functions/<name>'s handler module (module state such as clients included)."""
    return testing.load_module(FUNCTIONS / name)


def Event(
    method: str = "GET",
    path: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes | str = b"",
) -> RuntimeEvent:
    """The runtime's own Event (faas.testing), positional as these tests write it."""
    return testing.event(method, path, headers=headers, body=body)


def Context(
    function_name: str = "vote", call_id: str = "call-1", cold: bool = False
) -> RuntimeContext:
    return testing.context(function_name, call_id, cold=cold, timeout_ms=10_000)


def header(response: dict[str, Any], name: str) -> str | None:
    for key, value in response.get("headers", {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def error_message(response: dict[str, Any]) -> str:
    message = response["body"]["error"]["message"]
    assert isinstance(message, str) and message
    return message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port  # closed again: nothing listens there


# -- vote: a fake gateway ------------------------------------------------------------------


@dataclass
class FakeGateway:
    """Records POSTs and answers each with `status` and `answer` (JSON)."""

    url: str = ""
    status: int = 202
    answer: Any = field(default_factory=lambda: {"call_id": "call-42"})
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGateway]:
    fake = FakeGateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            data = json.dumps(fake.answer).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("FAAS_GATEWAY_URL", fake.url)
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def vote(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.delenv("OPTION_A", raising=False)
    monkeypatch.delenv("OPTION_B", raising=False)
    return load("vote")


def post_form(vote: ModuleType, fields: dict[str, str], cookie: str | None = "voter_id=abc123"):
    headers = {"Content-Type": FORM}
    if cookie:
        headers["Cookie"] = cookie
    return vote.handle(Event("POST", "/", headers, urlencode(fields)), Context())


def post_json(vote: ModuleType, data: Any, cookie: str | None = "voter_id=abc123"):
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    return vote.handle(Event("POST", "/", headers, json.dumps(data)), Context())


def ballot_in(page: str) -> str:
    found = re.search(r'name="ballot" value="([^"]+)"', page)
    assert found, "no ballot field in the page"
    return found.group(1)


def test_get_serves_the_page_and_sets_the_cookie_when_absent(vote: ModuleType) -> None:
    response = vote.handle(Event("GET", "/"), Context())
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    assert header(response, "Cache-Control") == "no-store"
    assert COOKIE_RE.fullmatch(header(response, "Set-Cookie") or "")
    page = response["body"]
    assert '<form id="ballot-form" method="post">' in page
    assert '<button class="choice a" type="submit" name="vote" value="a"' in page
    assert '<button class="choice b" type="submit" name="vote" value="b"' in page
    assert "Cats" in page and "Dogs" in page
    assert re.fullmatch(r"[0-9a-f]{16}", ballot_in(page))
    assert 'href="/function/result"' in page  # no-JS link; the script makes it relative
    assert "location.pathname" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "no external assets"
    assert 'name="viewport"' in page


def test_get_keeps_an_existing_cookie_and_renews_the_ballot(vote: ModuleType) -> None:
    event = Event("GET", "/", {"Cookie": "theme=dark; voter_id=abc123"})
    first, second = vote.handle(event, Context()), vote.handle(event, Context())
    assert header(first, "Set-Cookie") is None
    assert ballot_in(first["body"]) != ballot_in(second["body"])


def test_a_malformed_cookie_is_replaced(vote: ModuleType) -> None:
    response = vote.handle(Event("GET", "/", {"Cookie": "voter_id=a b;c"}), Context())
    assert COOKIE_RE.fullmatch(header(response, "Set-Cookie") or "")


def test_form_post_queues_record_vote_and_thanks_the_voter(
    vote: ModuleType, gateway: FakeGateway
) -> None:
    before = time.time() * 1000
    response = post_form(vote, {"vote": "b", "ballot": "b4ll0t"})
    assert response["statusCode"] == 200
    page = response["body"]
    assert "Thanks, your vote for Dogs is being recorded" in page
    assert 'value="b" data-label="Dogs" aria-pressed="true"' in page
    assert 'value="a" data-label="Cats" aria-pressed="false"' in page
    assert ballot_in(page) != "b4ll0t"  # the next vote from this page is a new ballot
    assert header(response, "Set-Cookie") is None

    (request,) = gateway.requests
    assert request["path"] == "/async-function/record-vote"
    assert request["headers"]["Idempotency-Key"] == "abc123:b4ll0t"
    assert request["headers"]["Content-Type"] == "application/json"
    task = json.loads(request["body"])
    assert task.keys() == {"voter_id", "vote", "ts"}
    assert (task["voter_id"], task["vote"]) == ("abc123", "b")
    assert isinstance(task["ts"], int) and before - 1 <= task["ts"] <= time.time() * 1000 + 1


def test_json_post_answers_202_with_the_call_id(vote: ModuleType, gateway: FakeGateway) -> None:
    response = post_json(vote, {"vote": "a", "ballot": "page-1"}, cookie=None)
    assert response["statusCode"] == 202
    assert response["body"]["queued"] is True
    assert response["body"]["call_id"] == "call-42"
    cookie = COOKIE_RE.fullmatch(header(response, "Set-Cookie") or "")
    assert cookie, "a new voter gets the cookie with the answer"
    (request,) = gateway.requests
    assert request["headers"]["Idempotency-Key"] == f"{cookie.group(1)}:page-1"
    assert json.loads(request["body"])["voter_id"] == cookie.group(1)


def test_same_ballot_same_key_and_no_ballot_a_new_key(
    vote: ModuleType, gateway: FakeGateway
) -> None:
    post_form(vote, {"vote": "a", "ballot": "same"})
    post_form(vote, {"vote": "a", "ballot": "same"})
    post_json(vote, {"vote": "a"})
    post_json(vote, {"vote": "a"})
    keys = [r["headers"]["Idempotency-Key"] for r in gateway.requests]
    assert keys[0] == keys[1] == "abc123:same"
    assert keys[2] != keys[3]
    assert all(re.fullmatch(r"abc123:[0-9a-f]{16}", key) for key in keys[2:])


def test_gateway_url_with_a_trailing_slash(vote: ModuleType, gateway: FakeGateway, monkeypatch):
    monkeypatch.setenv("FAAS_GATEWAY_URL", gateway.url + "/")
    assert post_json(vote, {"vote": "a"})["statusCode"] == 202
    assert gateway.requests[0]["path"] == "/async-function/record-vote"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (FORM, "vote=c"),
        (FORM, ""),
        (FORM, "vote=a&ballot=no%20spaces"),
        ("application/json", '{"vote": "c"}'),
        ("application/json", '{"vote": ["a"]}'),
        ("application/json", '{"vote": "a", "ballot": "x:y"}'),
        ("application/json", '["a"]'),
        ("application/json", "{not json"),
    ],
)
def test_an_invalid_vote_is_a_400(
    vote: ModuleType, gateway: FakeGateway, content_type: str, body: str
) -> None:
    event = Event("POST", "/", {"Content-Type": content_type, "Cookie": "voter_id=abc"}, body)
    response = vote.handle(event, Context())
    assert response["statusCode"] == 400
    assert response["body"]["error"]["code"] == "bad_request"
    error_message(response)
    assert gateway.requests == []


def test_the_400_names_the_options(vote: ModuleType) -> None:
    message = error_message(post_json(vote, {"vote": "cats"}))
    assert '"a" (Cats) or "b" (Dogs)' in message and "'cats'" in message


def test_gateway_down_is_a_503(vote: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAAS_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    response = post_json(vote, {"vote": "a"})
    assert response["statusCode"] == 503
    assert "cannot be reached" in error_message(response)

    page = post_form(vote, {"vote": "a", "ballot": "keep-me"})
    assert page["statusCode"] == 503
    assert "Sorry, your vote could not be recorded" in page["body"]
    assert ballot_in(page["body"]) == "keep-me"  # a retry cannot count twice
    assert 'aria-pressed="true"' not in page["body"]


def test_gateway_error_is_a_503_with_its_message(vote: ModuleType, gateway: FakeGateway) -> None:
    gateway.status = 503
    gateway.answer = {"error": {"code": "unavailable", "message": "Redis is down"}}
    response = post_json(vote, {"vote": "b"})
    assert response["statusCode"] == 503
    assert "answered 503: Redis is down" in error_message(response)


def test_a_ballot_queued_before_counts_as_recorded(vote: ModuleType, gateway: FakeGateway) -> None:
    """A retry after a lost answer: same ballot, new timestamp, so the queue says 422."""
    gateway.status = 422
    gateway.answer = {"error": {"code": "idempotency_conflict", "message": "used before"}}
    response = post_json(vote, {"vote": "a", "ballot": "again"})
    assert response["statusCode"] == 202
    page = post_form(vote, {"vote": "a", "ballot": "again"})
    assert page["statusCode"] == 200 and "Thanks" in page["body"]


def test_any_other_422_is_a_503(vote: ModuleType, gateway: FakeGateway) -> None:
    gateway.status = 422
    gateway.answer = {"error": {"code": "something_else", "message": "no"}}
    assert post_json(vote, {"vote": "a"})["statusCode"] == 503


def test_no_gateway_url_is_a_503(vote: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAAS_GATEWAY_URL", raising=False)
    response = post_json(vote, {"vote": "a"})
    assert response["statusCode"] == 503
    assert "network: true" in error_message(response)


def test_vote_other_paths_and_methods(vote: ModuleType) -> None:
    assert vote.handle(Event("GET", "/nope"), Context())["statusCode"] == 404
    response = vote.handle(Event("DELETE", "/"), Context())
    assert response["statusCode"] == 405
    assert header(response, "Allow") == "GET, HEAD, POST"


def test_vote_through_the_runtime_as_a_caller_sees_it(vote: ModuleType) -> None:
    """faas.testing.call: the handler's dict becomes the HTTP response the runtime would send."""
    page = testing.call(vote.handle, "GET", "/", ctx=Context())
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["set-cookie"].startswith("voter_id=")
    assert "<form" in page.text()
    assert testing.call(vote.handle, "DELETE", "/").headers["allow"] == "GET, HEAD, POST"


def test_vote_options_can_be_renamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTION_A", "Tabs")
    monkeypatch.setenv("OPTION_B", "<Spaces>")
    page = load("vote").handle(Event("GET", "/"), Context())["body"]
    assert "Tabs vs &lt;Spaces&gt;" in page and "<Spaces>" not in page


# -- record-vote and result: a fake Redis --------------------------------------------------


class FakeRedis:
    """The few Redis calls the functions make, on dicts of str (as decode_responses=True)."""

    def __init__(self, record_lua: str) -> None:
        self.record_lua = record_lua
        self.hashes: dict[str, dict[str, str]] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise redis.ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    def hmget(self, name: str, keys: list[str], *args: str) -> list[str | None]:
        self._check()
        table = self.hashes.get(name, {})
        return [table.get(key) for key in [*keys, *args]]

    def register_script(self, lua: str) -> Any:
        assert lua == self.record_lua
        return self.record

    def record(self, keys: list[str], args: list[Any], client: Any = None) -> list[str]:
        """A line-for-line Python copy of record-vote's RECORD_LUA."""
        self._check()
        ballots, stamps, counts = (self.hashes.setdefault(key, {}) for key in keys)
        voter, vote, ts = args[0], args[1], float(args[2])
        previous = ballots.get(voter)
        seen = stamps.get(voter)
        if seen is not None and float(seen) >= ts:
            return ["ignored", previous or ""]
        ballots[voter] = vote
        stamps[voter] = str(args[2])  # redis-py sends numbers as their str()
        if previous == vote:
            return ["unchanged", previous]
        if previous:
            counts[previous] = str(int(counts.get(previous, "0")) - 1)
        counts[vote] = str(int(counts.get(vote, "0")) + 1)
        return ["changed" if previous else "recorded", previous or ""]


@pytest.fixture
def record_vote(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load("record-vote")


@pytest.fixture
def fake_redis(record_vote: ModuleType) -> FakeRedis:
    fake = FakeRedis(record_vote.RECORD_LUA)
    record_vote._client = fake
    return fake


@pytest.fixture
def result(monkeypatch: pytest.MonkeyPatch, fake_redis: FakeRedis) -> ModuleType:
    monkeypatch.delenv("OPTION_A", raising=False)
    monkeypatch.delenv("OPTION_B", raising=False)
    module = load("result")
    module._client = fake_redis
    return module


def record(record_vote: ModuleType, data: Any) -> dict[str, Any]:
    body = data if isinstance(data, str) else json.dumps(data)
    response: dict[str, Any] = record_vote.handle(Event("POST", "/", body=body), Context())
    return response


def counts(fake: FakeRedis) -> dict[str, int]:
    return {key: int(value) for key, value in fake.hashes.get("votes:counts", {}).items()}


def test_record_vote_stores_one_ballot_per_voter(
    record_vote: ModuleType, fake_redis: FakeRedis
) -> None:
    answer = record(record_vote, {"voter_id": "v1", "vote": "a", "ts": 1000})
    assert answer == {"voter_id": "v1", "vote": "a", "ts": 1000, **RECORDED}
    record(record_vote, {"voter_id": "v2", "vote": "b", "ts": 1001})
    assert fake_redis.hashes["votes:ballots"] == {"v1": "a", "v2": "b"}
    assert fake_redis.hashes["votes:ts"] == {"v1": "1000", "v2": "1001"}
    assert counts(fake_redis) == {"a": 1, "b": 1}


def test_record_vote_twice_changes_nothing(record_vote: ModuleType, fake_redis: FakeRedis) -> None:
    message = {"voter_id": "v1", "vote": "a", "ts": 1000}
    record(record_vote, message)
    state = json.dumps(fake_redis.hashes, sort_keys=True)
    assert record(record_vote, message)["outcome"] == "ignored"
    assert json.dumps(fake_redis.hashes, sort_keys=True) == state
    assert counts(fake_redis) == {"a": 1}


def test_a_changed_vote_replaces_the_old_one(
    record_vote: ModuleType, fake_redis: FakeRedis
) -> None:
    record(record_vote, {"voter_id": "v1", "vote": "a", "ts": 1000})
    answer = record(record_vote, {"voter_id": "v1", "vote": "b", "ts": 2000})
    assert (answer["outcome"], answer["previous"]) == ("changed", "a")
    assert fake_redis.hashes["votes:ballots"] == {"v1": "b"}
    assert counts(fake_redis) == {"a": 0, "b": 1}
    answer = record(record_vote, {"voter_id": "v1", "vote": "b", "ts": 3000})
    assert answer["outcome"] == "unchanged"
    assert counts(fake_redis) == {"a": 0, "b": 1}


def test_an_older_vote_arriving_late_is_ignored(
    record_vote: ModuleType, fake_redis: FakeRedis
) -> None:
    record(record_vote, {"voter_id": "v1", "vote": "b", "ts": 2000})
    answer = record(record_vote, {"voter_id": "v1", "vote": "a", "ts": 1000})
    assert (answer["outcome"], answer["previous"]) == ("ignored", "b")
    assert fake_redis.hashes["votes:ballots"] == {"v1": "b"}
    assert counts(fake_redis) == {"b": 1}


def test_retries_and_reordering_keep_the_tally_exact(
    record_vote: ModuleType, fake_redis: FakeRedis
) -> None:
    rng = random.Random(7)
    messages = [
        {"voter_id": f"v{rng.randrange(40)}", "vote": rng.choice("ab"), "ts": ts}
        for ts in range(300)
    ]
    delivered = messages + rng.sample(messages, 100)  # every message, some of them twice
    rng.shuffle(delivered)
    for message in delivered:
        assert record(record_vote, message)["outcome"] in OUTCOMES
    latest = {m["voter_id"]: m["vote"] for m in messages}  # in ts order: the last one wins
    assert fake_redis.hashes["votes:ballots"] == latest
    tally = {key: value for key, value in counts(fake_redis).items() if value}
    assert tally == dict(Counter(latest.values()))


def test_ts_is_optional(record_vote: ModuleType, fake_redis: FakeRedis) -> None:
    before = time.time() * 1000
    answer = record(record_vote, {"voter_id": "v1", "vote": "a"})
    assert answer["outcome"] == "recorded"
    assert before - 1 <= int(fake_redis.hashes["votes:ts"]["v1"]) <= time.time() * 1000 + 1


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        '["v1", "a"]',
        '{"vote": "a"}',
        '{"voter_id": "", "vote": "a"}',
        '{"voter_id": "has space", "vote": "a"}',
        '{"voter_id": 7, "vote": "a"}',
        '{"voter_id": "' + "x" * 65 + '", "vote": "a"}',
        '{"voter_id": "v1"}',
        '{"voter_id": "v1", "vote": "c"}',
        '{"voter_id": "v1", "vote": ["a"]}',
        '{"voter_id": "v1", "vote": "a", "ts": "yesterday"}',
        '{"voter_id": "v1", "vote": "a", "ts": true}',
        '{"voter_id": "v1", "vote": "a", "ts": -1}',
        '{"voter_id": "v1", "vote": "a", "ts": NaN}',
        '{"voter_id": "v1", "vote": "a", "ts": Infinity}',
    ],
)
def test_record_vote_rejects_bad_input(
    record_vote: ModuleType, fake_redis: FakeRedis, body: str
) -> None:
    response = record(record_vote, body)
    assert response["statusCode"] == 400
    assert response["body"]["error"]["code"] == "bad_request"
    error_message(response)
    assert fake_redis.hashes == {}


def test_record_vote_redis_down_is_a_503(record_vote: ModuleType, fake_redis: FakeRedis) -> None:
    fake_redis.down = True
    response = record(record_vote, {"voter_id": "v1", "vote": "a", "ts": 1})
    assert response["statusCode"] == 503
    assert "Connection refused" in error_message(response)


def test_record_vote_without_redis_url_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAAS_REDIS_URL", raising=False)
    response = record(load("record-vote"), {"voter_id": "v1", "vote": "a", "ts": 1})
    assert response["statusCode"] == 503
    assert "redis: {keyspace: votes}" in error_message(response)


def test_record_vote_unreachable_redis_is_a_503_and_the_client_is_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAAS_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    module = load("record-vote")
    client = module.redis_client()
    assert module.redis_client() is client  # one per container, kept across warm calls
    response = record(module, {"voter_id": "v1", "vote": "a", "ts": 1})
    assert response["statusCode"] == 503
    assert "Redis cannot record the vote" in error_message(response)
    client.close()


def test_result_tally_json(result: ModuleType, fake_redis: FakeRedis) -> None:
    fake_redis.hashes["votes:counts"] = {"a": "3", "b": "1"}
    for path in ("/tally", "/tally/"):
        response = result.handle(Event("GET", path), Context("result"))
        assert response["statusCode"] == 200
        assert header(response, "Cache-Control") == "no-store"
        assert response["body"] == {"a": 3, "b": 1, "total": 4, "options": OPTIONS}


def test_result_tally_before_any_vote(result: ModuleType) -> None:
    body = result.handle(Event("GET", "/tally"), Context("result"))["body"]
    assert body == {"a": 0, "b": 0, "total": 0, "options": OPTIONS}


def test_votes_recorded_show_in_the_tally(
    record_vote: ModuleType, result: ModuleType, fake_redis: FakeRedis
) -> None:
    for voter, choice, ts in [("v1", "a", 1), ("v2", "a", 2), ("v3", "b", 3), ("v1", "b", 4)]:
        record(record_vote, {"voter_id": voter, "vote": choice, "ts": ts})
        record(record_vote, {"voter_id": voter, "vote": choice, "ts": ts})  # a retry
    body = result.handle(Event("GET", "/tally"), Context("result"))["body"]
    assert (body["a"], body["b"], body["total"]) == (1, 2, 3)


def test_result_page(result: ModuleType, fake_redis: FakeRedis) -> None:
    fake_redis.hashes["votes:counts"] = {"a": "3", "b": "1"}
    response = result.handle(Event("GET", "/"), Context("result", cold=True))
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    page = response["body"]
    assert '<div class="count" id="count-a">3</div>' in page
    assert '<div class="pct" id="pct-a">75%</div>' in page
    assert '<div class="pct" id="pct-b">25%</div>' in page
    assert 'id="bar-a" class="a" style="width:75%"' in page
    assert "4 votes" in page and "cold start" in page
    assert "location.pathname.replace(/\\/+$/, '')" in page and "root + '/tally'" in page
    assert "setTimeout(tick, 1000)" in page
    assert 'href="/function/vote"' in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "no external assets"


def test_result_page_before_any_vote(result: ModuleType) -> None:
    page = result.handle(Event("GET", "/"), Context("result"))["body"]
    assert "No votes yet" in page and 'class="bar empty"' in page


def test_result_redis_down_is_a_503(result: ModuleType, fake_redis: FakeRedis) -> None:
    fake_redis.down = True
    response = result.handle(Event("GET", "/tally"), Context("result"))
    assert response["statusCode"] == 503
    assert "Redis cannot be read" in error_message(response)
    page = result.handle(Event("GET", "/"), Context("result"))
    assert page["statusCode"] == 503
    assert "Redis cannot be read" in page["body"] and "Retrying" in page["body"]


def test_result_other_paths_and_methods(result: ModuleType) -> None:
    assert result.handle(Event("GET", "/votes"), Context("result"))["statusCode"] == 404
    response = result.handle(Event("POST", "/tally"), Context("result"))
    assert response["statusCode"] == 405
    assert header(response, "Allow") == "GET, HEAD"


def test_percentages_add_up_and_round_as_the_page_script(result: ModuleType) -> None:
    assert result.percentages(0, 0) == (0, 0)
    for a in range(40):
        for b in range(40):
            if a + b:
                share_a, share_b = result.percentages(a, b)
                assert share_a + share_b == 100
                assert share_a == int(100 * a / (a + b) + 0.5)  # JS Math.round: 12.5 -> 13
    assert result.percentages(1, 7) == (13, 87)


# -- all three -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vote", "record-vote", "result"])
def test_function_folders(name: str) -> None:
    folder = FUNCTIONS / name
    spec = load_manifest(folder)
    assert spec.name == name and spec.network is True
    tree = ast.parse((folder / "handler.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "faas" not in imported  # functions never import the platform
    third_party = imported - sys.stdlib_module_names
    if name == "vote":  # standard library only: an image without dependencies
        assert third_party == set() and not (folder / "requirements.txt").exists()
    else:
        assert third_party == {"redis"}
        assert (folder / "requirements.txt").read_text().startswith("redis")
