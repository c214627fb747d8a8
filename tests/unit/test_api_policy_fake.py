"""A function's API-gateway fields (auth, rate_limit, key_rate_limit, quota, cors,
request_schema) on a whole gateway over the fake engine and a real Redis."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx

from faas.registry.limits import Limits
from faas.registry.store import connect
from tests.conftest import free_port
from tests.unit.fake_gateway import FakeGateway, Stack, run, until

ORIGIN = "https://app.example"


def creates(stack: Stack) -> int:
    return sum(1 for operation, _ in stack.engine.calls if operation == "create")


async def new_key(gw: FakeGateway, **fields: Any) -> dict[str, Any]:
    response = await gw.http.post("/system/api-keys", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


def test_a_function_without_api_fields_never_asks_the_limits(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            asked: list[str] = []
            limits: Limits = gw._lifespan.state["limits"]
            admit = limits.admit

            async def counting(function: str, **kwargs: Any) -> None:
                asked.append(function)
                await admit(function, **kwargs)

            limits.admit = counting  # type: ignore[method-assign]
            await gw.register("echo")
            assert (await gw.call("echo")).status_code == 200
            queued = await gw.http.post("/async-function/echo", content=b"{}")
            assert queued.status_code == 202
            assert asked == []
            # CORS and schemas are checked in the gateway alone: still no Redis.
            await gw.register("echo", cors={"origins": ["*"]}, request_schema={"type": "object"})
            assert (await gw.call("echo", body=b"{}", origin=ORIGIN)).status_code == 200
            assert asked == []
            await gw.register("echo", rate_limit={"rate": "100/s"})
            assert (await gw.call("echo")).status_code == 200
            assert asked == ["echo"]

    run(scenario)


def test_api_keys_are_required_checked_scoped_and_revocable(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", auth="api-key")
            stack.engine.calls.clear()
            missing = await gw.call("echo")
            assert_error(missing, 401, "api_key_required")
            assert missing.headers["www-authenticate"] == 'ApiKey header="X-Api-Key"'
            assert_error(await gw.call("echo", x_api_key="not-a-key"), 403, "invalid_api_key")
            forged = "fk_0123456789ab_" + "A" * 43  # well formed, unknown: Redis says no
            assert_error(await gw.call("echo", x_api_key=forged), 403, "invalid_api_key")
            assert creates(stack) == 0  # no refused call started a container

            created = await new_key(gw, name="partner")
            secret = created["key"]
            assert secret.startswith(created["prefix"])
            answer = await gw.call("echo", x_api_key=secret)
            assert answer.status_code == 200, answer.text
            seen = {k.lower(): v for k, v in answer.json()["headers"].items()}
            assert "x-api-key" not in seen  # the function never sees the secret
            assert seen["x-api-key-id"] == created["id"]
            spoofed = await gw.call("echo", x_api_key=secret, x_api_key_id="someone")
            assert spoofed.json()["headers"]["x-api-key-id"] == created["id"]

            listed = (await gw.http.get("/system/api-keys")).json()["api_keys"]
            assert [k["id"] for k in listed] == [created["id"]]
            assert secret not in json.dumps(listed)
            one = (await gw.http.get(f"/system/api-keys/{created['id']}")).json()
            assert one["name"] == "partner" and "key" not in one

            # A key for other functions only is refused here, with the same answer.
            other = await new_key(gw, functions=["other"])
            refused = await gw.call("echo", x_api_key=other["key"])
            assert refused.json() == (await gw.call("echo", x_api_key=forged)).json()
            # An unknown function is a 404 with or without a key, as on an open route.
            assert_error(await gw.call("nosuch", x_api_key=secret), 404, "not_found")

            revoked = await gw.http.delete(f"/system/api-keys/{created['id']}")
            assert revoked.json() == {"revoked": created["id"]}
            assert_error(await gw.call("echo", x_api_key=secret), 403, "invalid_api_key")
            again = await gw.http.delete(f"/system/api-keys/{created['id']}")
            assert_error(again, 404, "not_found")

    run(scenario)


def test_bad_key_requests_name_the_field(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            for body, field in [
                ({"functions": ["Bad Name"]}, "functions[0]"),
                ({"rate_limit": {"rate": "fast"}}, "rate_limit.rate"),
                ({"quota": {"limit": 0}}, "quota.limit"),
                ({"quota": {"limit": 5, "period": "year"}}, "quota.period"),
                ({"owner": "me"}, "owner"),
                ({"name": "line\nbreak"}, "name"),
            ]:
                response = await gw.http.post("/system/api-keys", json=body)
                assert response.status_code == 400, (body, response.text)
                assert response.json()["error"]["message"].startswith(field), response.text
            assert_error(await gw.http.get("/system/api-keys/zz"), 404, "not_found")

    run(scenario)


def test_a_rate_limit_holds_across_gateways_and_says_when_to_retry(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as one, stack.gateway() as two:
            await one.register("echo", rate_limit={"rate": "1/m", "burst": 2})
            assert (await one.call("echo")).status_code == 200
            await until(lambda: two.call("echo"), what="the second gateway to know echo")
            limited = await one.call("echo")  # the third call of a burst of two
            assert_error(limited, 429, "rate_limited")
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            assert_error(await two.call("echo"), 429, "rate_limited")
            assert_error(await two.http.post("/async-function/echo"), 429, "rate_limited")

    run(scenario)


def test_key_limits_and_quotas_count_each_key_apart(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register(
                "echo",
                auth="api-key",
                key_rate_limit={"rate": "100/s", "burst": 100},
                quota={"limit": 2, "period": "day"},
            )
            first, second = (await new_key(gw))["key"], (await new_key(gw))["key"]
            for _ in range(2):
                assert (await gw.call("echo", x_api_key=first)).status_code == 200
            over = await gw.call("echo", x_api_key=first)
            assert_error(over, 429, "quota_exceeded")
            assert 1 <= int(over.headers["retry-after"]) <= 86400
            assert (await gw.call("echo", x_api_key=second)).status_code == 200

            await gw.register("slow", auth="api-key", key_rate_limit={"rate": "1/m", "burst": 1})
            assert (await gw.call("slow", x_api_key=first)).status_code == 200
            assert_error(await gw.call("slow", x_api_key=first), 429, "rate_limited")
            assert (await gw.call("slow", x_api_key=second)).status_code == 200

    run(scenario)


def test_a_keys_own_plan_counts_across_functions(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", auth="api-key")
            await gw.register("noop", auth="api-key")
            planned = await new_key(gw, quota={"limit": 2, "period": "hour"})
            assert planned["quota"] == {"limit": 2, "period": "hour"}
            assert (await gw.call("echo", x_api_key=planned["key"])).status_code == 200
            assert (await gw.call("noop", x_api_key=planned["key"])).status_code == 204
            over = await gw.call("echo", x_api_key=planned["key"])
            assert_error(over, 429, "quota_exceeded")
            assert 1 <= int(over.headers["retry-after"]) <= 3600

            throttled = await new_key(gw, rate_limit={"rate": "1/h", "burst": 1})
            assert (await gw.call("noop", x_api_key=throttled["key"])).status_code == 204
            assert_error(await gw.call("echo", x_api_key=throttled["key"]), 429, "rate_limited")

    run(scenario)


def test_cors_preflight_is_answered_without_a_container(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            cors = {"origins": [ORIGIN], "methods": ["POST"], "headers": ["Content-Type"]}
            await gw.register("echo", auth="api-key", cors={**cors, "max_age": "1h"})
            stack.engine.calls.clear()
            ask = {"origin": ORIGIN, "access-control-request-method": "POST",
                   "access-control-request-headers": "content-type, x-api-key"}  # fmt: skip
            preflight = await gw.http.options("/function/echo", headers=ask)
            assert preflight.status_code == 204, preflight.text
            assert preflight.headers["access-control-allow-origin"] == ORIGIN
            assert preflight.headers["access-control-allow-methods"] == "POST"
            allowed = preflight.headers["access-control-allow-headers"].lower()
            assert {"content-type", "x-api-key"} <= {h.strip() for h in allowed.split(",")}
            assert preflight.headers["access-control-max-age"] == "3600"
            assert preflight.headers["vary"] == "Origin"
            on_async = await gw.http.options("/async-function/echo", headers=ask)
            assert on_async.status_code == 204

            for change, what in [
                ({"origin": "https://evil.example"}, "origin"),
                ({"access-control-request-method": "DELETE"}, "method"),
                ({"access-control-request-headers": "x-secret"}, "header"),
            ]:
                refused = await gw.http.options("/function/echo", headers={**ask, **change})
                assert what in assert_error(refused, 403, "cors_refused")["message"]
            assert creates(stack) == 0

            # Real responses, errors included, carry the headers a page needs to read them.
            unauthorized = await gw.call("echo", origin=ORIGIN)
            assert_error(unauthorized, 401, "api_key_required")
            assert unauthorized.headers["access-control-allow-origin"] == ORIGIN
            key = (await new_key(gw))["key"]
            answer = await gw.call("echo", origin=ORIGIN, x_api_key=key)
            assert answer.headers["access-control-allow-origin"] == ORIGIN
            assert "retry-after" in answer.headers["access-control-expose-headers"].lower()
            stranger = await gw.call("echo", origin="https://evil.example", x_api_key=key)
            assert stranger.status_code == 200  # CORS is the browser's rule, not access control
            assert "access-control-allow-origin" not in stranger.headers

    run(scenario)


def test_without_cors_options_reaches_the_function(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", rate_limit={"rate": "100/s"})
            ask = {"origin": ORIGIN, "access-control-request-method": "POST"}
            answer = await gw.http.options("/function/echo", headers=ask)
            assert answer.status_code == 200 and answer.json()["method"] == "OPTIONS"
            assert "access-control-allow-origin" not in answer.headers

    run(scenario)


SCHEMA = {
    "type": "object",
    "required": ["voter", "choice"],
    "properties": {
        "voter": {"type": "string", "minLength": 1},
        "choice": {"enum": ["a", "b"]},
        "tags": {"type": "array", "items": {"type": "integer"}},
    },
}


def test_request_schema_refuses_bad_bodies_before_any_container(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", request_schema=SCHEMA)
            stack.engine.calls.clear()
            for body, field in [
                (b'{"voter": "x", "choice": "c"}', "/choice"),
                (b'{"voter": "x", "choice": "a", "tags": [1, "two"]}', "/tags/1"),
                (b'{"choice": "a"}', "'voter' is a required property"),
                (b"not json", "not valid JSON"),
                (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
                (b"", "empty"),
            ]:
                refused = await gw.call("echo", body=body)
                assert field in assert_error(refused, 400, "invalid_request")["message"], body
                queued = await gw.http.post("/async-function/echo", content=body)
                assert_error(queued, 400, "invalid_request")
            assert creates(stack) == 0

            good = await gw.call("echo", body=b'{"voter": "x", "choice": "a", "tags": [1]}')
            assert good.status_code == 200, good.text
            assert good.json()["method"] == "POST"
            fetched = await gw.http.get("/function/echo")  # no body to check
            assert fetched.status_code == 200

    run(scenario)


def test_async_calls_queue_without_the_callers_key(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", auth="api-key")
            assert_error(await gw.http.post("/async-function/echo"), 401, "api_key_required")
            key = await new_key(gw)
            queued = await gw.http.post("/async-function/echo", headers={"x-api-key": key["key"]})
            assert queued.status_code == 202, queued.text
            call_id = queued.json()["call_id"]

            async def finished() -> dict[str, Any] | None:
                record: dict[str, Any] = (await gw.http.get(f"/system/calls/{call_id}")).json()
                return record if record["status"] == "succeeded" else None

            record = await until(finished, what="the async call to succeed")
            assert key["key"] not in json.dumps(record)
            headers = json.loads(record["result"]["body"])["headers"]
            assert headers["x-api-key-id"] == key["id"] and "x-api-key" not in headers

    run(scenario)


def test_random_requests_to_a_guarded_function_never_get_a_server_error(stack: Stack) -> None:
    """Seeded random headers and bodies against every field at once: 4xx or 2xx, never 5xx."""
    rng = random.Random(11)
    junk = ["", " ", "fk_", "fk_0123456789ab_" + "A" * 43, "\u00e9\u00ff", "*", "a" * 5000,
            ORIGIN, ORIGIN.upper(), "null", "x-api-key, content-type", "GET", "post"]  # fmt: skip
    bodies = [b"", b"{}", b"[]", b"null", b'{"voter": "v", "choice": "a"}', b"\xff\xfe",
              b'{"voter": 1e999, "choice": "a"}', b"NaN", b'{"a":' * 3000]  # fmt: skip
    names = ["origin", "access-control-request-method", "access-control-request-headers",
             "x-api-key", "content-type", "x-api-key-id"]  # fmt: skip

    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register(
                "echo",
                auth="api-key",
                rate_limit={"rate": "1000/s", "burst": 1000},
                key_rate_limit={"rate": "1000/s", "burst": 1000},
                quota={"limit": 10**6, "period": "day"},
                cors={"origins": [ORIGIN], "methods": ["*"], "headers": ["*"]},
                request_schema=SCHEMA,
            )
            valid = (await new_key(gw))["key"]
            statuses: set[int] = set()
            for _ in range(150):
                headers = {
                    n: rng.choice([*junk, valid]).encode("latin-1") for n in rng.sample(names, 3)
                }
                method = rng.choice(["GET", "POST", "PUT", "OPTIONS", "DELETE", "PATCH"])
                prefix = rng.choice(["/function/echo", "/async-function/echo"])
                response = await gw.http.request(
                    method, prefix, headers=headers, content=rng.choice(bodies)
                )
                assert response.status_code < 500, (method, prefix, headers, response.text)
                statuses.add(response.status_code)
            assert {400, 401, 403} <= statuses and statuses & {
                200,
                202,
            }  # every rule, and past them

    run(scenario, timeout=60)


def test_without_redis_guarded_functions_fail_closed_and_others_go_on(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", auth="api-key")
            await gw.register("noop")
            key = (await new_key(gw))["key"]
            assert (await gw.call("echo", x_api_key=key)).status_code == 200
            unreachable = connect(f"redis://127.0.0.1:{free_port()}/0")
            gw._lifespan.state["limits"] = Limits(unreachable)
            refused = await gw.call("echo", x_api_key=key)
            assert_error(refused, 503, "redis_unavailable")
            assert refused.headers["retry-after"] == "5"
            assert (await gw.call("noop")).status_code == 204
            await unreachable.aclose()

    run(scenario)
