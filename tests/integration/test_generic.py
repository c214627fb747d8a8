"""The generic runtime pool, on real Docker: cold calls of functions without dependencies are
served by loading their code into a pre-started generic runtime container."""

from __future__ import annotations

import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import httpx
import pytest

from faas import keys
from faas.engines.docker import DockerBackend
from tests.conftest import FIXTURES, REPO, Gateway, wait_until

PROBE = FIXTURES / "probe"
BROKEN = FIXTURES / "broken-import"


@pytest.fixture
def generic_gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway(FAAS_GENERIC_POOL="2")


def generic(gateway: Gateway, name: str) -> dict[str, Any]:
    return dict(gateway.http.get(f"/system/function/{name}").json()["generic"])


def spares_ready(gateway: Gateway, name: str, count: int = 2) -> None:
    wait_until(lambda: generic(gateway, name)["spares"] == count, 60, 0.05)


def spares_of(gateway: Gateway) -> list[Any]:
    selector = {keys.LABEL_GATEWAY: gateway.id, keys.LABEL_ROLE: keys.ROLE_GENERIC}
    return DockerBackend().list_managed(selector)


def timing(response: httpx.Response) -> dict[str, float]:
    phases = {}
    for entry in response.headers["server-timing"].split(","):
        name, _, dur = entry.strip().partition(";dur=")
        phases[name] = float(dur)
    return phases


def test_a_cold_call_loads_the_code_into_a_spare(generic_gateway: Gateway, register: Any) -> None:
    gateway = generic_gateway
    register(gateway, PROBE)
    spares_ready(gateway, "probe")
    assert generic(gateway, "probe") == {"eligible": True, "reason": None, "spares": 2}

    first = gateway.http.post("/function/probe")
    assert first.status_code == 200, first.text
    assert first.headers["x-faas-start"] == "prewarm"
    phases = timing(first)
    assert "load" in phases and "create" not in phases and "start" not in phases
    body = first.json()
    assert body == {
        "greeting_at_import": "hello from the manifest",  # env set before the import
        "greeting": "hello from the manifest",
        "function_name": "probe",
        "file": "/opt/faas/function/handler.py",  # the same path as in its own image
        "cwd": "/opt/faas/function",
        "data": "data shipped next to the handler",
        "helper": 42,
        "bytecode": True,  # compiled at build time, shipped with the code
        "cold": True,
        "uid": 10001,
        "python": body["python"],
    }
    second = gateway.http.post("/function/probe")
    assert second.headers["x-faas-start"] == "warm"
    assert second.json()["cold"] is False
    spares_ready(gateway, "probe")  # the one taken is replaced
    assert len(spares_of(gateway)) == 3  # two spares and the specialised one
    # Its labels cannot change, so its name says whose it is now.
    api = docker.from_env().api

    def names() -> set[str]:
        return {str(api.inspect_container(c.id)["Name"]) for c in spares_of(gateway)}

    wait_until(lambda: any(name.startswith("/faas-probe-") for name in names()), 10, 0.05)


def test_same_answers_as_a_container_of_its_own_image(
    generic_gateway: Gateway, register: Any
) -> None:
    gateway = generic_gateway
    register(gateway, PROBE)
    spares_ready(gateway, "probe")
    loaded = gateway.http.post("/function/probe")
    spares_ready(gateway, "probe")  # the one taken is replaced
    own = gateway.http.post("/function/probe", headers={"X-Faas-Force": "cold"})
    assert (loaded.headers["x-faas-start"], own.headers["x-faas-start"]) == ("prewarm", "cold")
    assert "create" in timing(own)
    assert loaded.json() == own.json()
    assert generic(gateway, "probe")["spares"] == 2  # a forced cold start left them alone


def test_functions_with_requirements_are_started_cold(
    generic_gateway: Gateway, register: Any
) -> None:
    gateway = generic_gateway
    register(gateway, REPO / "functions" / "record-vote")
    wait_until(lambda: "requirements.txt" in str(generic(gateway, "record-vote")["reason"]), 60)
    assert generic(gateway, "record-vote")["eligible"] is False
    assert not spares_of(gateway)  # no eligible function: no spare is kept


def test_an_import_error_while_loading_is_a_502_with_back_off(
    make_gateway: Callable[..., Gateway], register: Any
) -> None:
    gateway = make_gateway(FAAS_GENERIC_POOL="2", FAAS_INIT_BACKOFF="30s")
    register(gateway, PROBE)
    register(gateway, BROKEN, memory="64Mi")  # the same shape: the spares serve both
    spares_ready(gateway, "probe")
    first = gateway.http.post("/function/broken-import")
    assert first.status_code == 502
    error = first.json()["error"]
    assert error["code"] == "init_failed", error
    assert "Runtime.ImportModuleError" in error["message"]
    assert "module_that_does_not_exist" in error["message"]
    again = gateway.http.post("/function/broken-import")
    assert again.status_code == 502
    assert "not retried for another" in again.json()["error"]["message"]
    # The broken load's container is removed, and the back-off spent no other spare.
    spares_ready(gateway, "probe")
    assert len(spares_of(gateway)) == 2
    assert gateway.http.post("/function/probe").headers["x-faas-start"] == "prewarm"


def test_a_redeploy_drains_specialised_containers(generic_gateway: Gateway, register: Any) -> None:
    gateway = generic_gateway
    register(gateway, PROBE)
    spares_ready(gateway, "probe")
    assert gateway.http.post("/function/probe").json()["greeting"] == "hello from the manifest"
    register(gateway, PROBE, environment={"GREETING": "second version"})
    after = gateway.http.post("/function/probe")
    assert after.json()["greeting"] == "second version"
    assert after.headers["x-faas-start"] == "prewarm"  # loaded into a spare again


def test_a_burst_uses_spares_then_cold_starts(generic_gateway: Gateway, register: Any) -> None:
    gateway = generic_gateway
    register(gateway, PROBE, scale={"max": 5}, concurrency=1)
    spares_ready(gateway, "probe")
    url = f"{gateway.url}/function/probe?sleep=1"  # each call holds its container for 1 s
    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: httpx.post(url, timeout=60), range(5)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    kinds = sorted(r.headers["x-faas-start"] for r in responses)
    assert kinds == ["cold", "cold", "cold", "prewarm", "prewarm"]


def test_spares_give_way_to_the_memory_budget(
    make_gateway: Callable[..., Gateway], register: Any
) -> None:
    # Room for three 64Mi containers: two spares and one more.
    gateway = make_gateway(FAAS_GENERIC_POOL="2", FAAS_MEMORY_BUDGET="192Mi")
    register(gateway, PROBE, scale={"max": 3})
    spares_ready(gateway, "probe")
    headers = {"X-Faas-Force": "cold"}
    with ThreadPoolExecutor(3) as pool:
        responses = list(
            pool.map(
                lambda _: httpx.post(f"{gateway.url}/function/probe", headers=headers, timeout=60),
                range(3),
            )
        )
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    assert generic(gateway, "probe")["spares"] == 0  # they were removed to make room


def test_spares_are_removed_with_their_gateway_or_by_the_next_one(
    make_gateway: Callable[..., Gateway], register: Any
) -> None:
    first = make_gateway(FAAS_GENERIC_POOL="2")
    register(first, PROBE)
    spares_ready(first, "probe")
    first.stop()
    assert not spares_of(first)  # a graceful stop removes them

    killed = make_gateway(FAAS_GENERIC_POOL="2")
    spares_ready(killed, "probe")
    killed.stop(signal.SIGKILL)
    assert len(spares_of(killed)) == 2
    survivor = make_gateway(FAAS_GENERIC_POOL="0")
    wait_until(lambda: not spares_of(killed), 60, 0.2)  # reclaimed once its heartbeat expires
    assert survivor.http.get("/healthz").status_code == 200
