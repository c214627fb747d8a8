"""The dashboard over the fake engine: the page behind credentials, and the summary it polls
telling pools, calls with their start kind and timings, the cold-start rate and the queue."""

from __future__ import annotations

import httpx

from tests.unit.fake_gateway import Stack, run


def test_page_needs_credentials_and_fetches_nothing_from_elsewhere(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            transport = gw.http._transport  # the same app, without credentials
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as anon:
                denied = await anon.get("/")
                assert denied.status_code == 401
                assert denied.headers["www-authenticate"] == 'Basic realm="faas"'
                assert (await anon.get("/system/dashboard")).status_code == 401
            page = await gw.http.get("/")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["cache-control"] == "no-store"
            assert "/system/dashboard" in page.text
            for remote in ("http://", "https://", "//cdn", "@import"):
                assert remote not in page.text.replace('"http://www.w3.org', "")

    run(scenario)


def test_summary_shows_pools_calls_and_rates(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo")
            empty = (await gw.http.get("/system/dashboard")).json()
            assert empty["recent_calls"] == [] and empty["cold_rate"] is None
            assert empty["queue"]["available"] and empty["queue"]["dead_letters"] == 0
            cold = await gw.call("echo", "/a")
            warm = await gw.call("echo", "/b")
            assert [cold.headers["x-faas-start"], warm.headers["x-faas-start"]] == ["cold", "warm"]

            summary = (await gw.http.get("/system/dashboard")).json()
            [echo] = summary["functions"]
            assert echo["name"] == "echo" and echo["calls"] == 2
            assert echo["containers"]["ready"] == 1
            assert echo["logs"] == "/system/logs/echo"
            newest, oldest = summary["recent_calls"]
            assert newest["call_id"] == warm.headers["x-call-id"] and newest["start"] == "warm"
            assert oldest["call_id"] == cold.headers["x-call-id"] and oldest["start"] == "cold"
            assert {"create", "start", "ready", "handler", "total"} <= set(oldest["timings"])
            assert summary["cold_rate"] == 0.5 and summary["recent_cold_rate"] == 0.5
            assert summary["starts"]["cold"] == 1 and summary["starts"]["warm"] == 1

    run(scenario)
