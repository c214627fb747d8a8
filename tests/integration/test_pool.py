"""The warm pool's policies and failure handling, on real Docker with real gateways."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import httpx

from tests.conftest import FIXTURES, Gateway, run_containers, wait_until

TRICKS = FIXTURES / "tricks"
ECHO = FIXTURES / "echo"


def containers_of(name: str) -> list[Any]:
    return run_containers({"faas.function": name})


def describe(gateway: Gateway, name: str) -> dict[str, Any]:
    return dict(gateway.http.get(f"/system/function/{name}").json())


def start_kind(response: httpx.Response) -> str:
    assert response.status_code < 500, response.text
    return response.headers["x-faas-start"]


# -- policies ----------------------------------------------------------------------------------


def test_idle_containers_expire_after_keep_alive(gateway: Gateway, register: Any) -> None:
    register(gateway, TRICKS, keep_alive="1s")
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"
    assert len(containers_of("tricks")) == 1
    wait_until(lambda: not containers_of("tricks"), 10, 0.1)  # scaled to zero
    assert describe(gateway, "tricks")["containers"]["ready"] == 0
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"


def test_scale_min_is_kept_ready_and_first_calls_are_prewarm(
    gateway: Gateway, register: Any
) -> None:
    register(gateway, TRICKS, scale={"min": 2, "max": 3}, keep_alive="1s")
    wait_until(lambda: describe(gateway, "tricks")["containers"]["ready"] == 2, 20, 0.1)
    assert start_kind(gateway.http.post("/function/tricks")) == "prewarm"
    assert start_kind(gateway.http.post("/function/tricks")) == "warm"  # most recent first
    time.sleep(2.5)  # longer than keep_alive: min keeps them anyway
    assert len(containers_of("tricks")) == 2
    victim = containers_of("tricks")[0]
    docker.from_env().api.kill(victim.id)  # the pool replaces what it loses
    wait_until(
        lambda: (
            victim.id not in {c.id for c in containers_of("tricks")}
            and describe(gateway, "tricks")["containers"]["ready"] == 2
        ),
        20,
        0.1,
    )


def test_a_burst_never_exceeds_scale_max(
    make_gateway: Callable[..., Gateway], register: Any
) -> None:
    gateway = make_gateway(FAAS_QUEUE_TIMEOUT="300ms")
    register(gateway, TRICKS, scale={"max": 3}, timeout="10s")
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, len(containers_of("tricks")))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(50) as pool:
        responses = list(
            pool.map(
                lambda _: httpx.post(f"{gateway.url}/function/tricks/sleep?s=4", timeout=30),
                range(50),
            )
        )
    stop.set()
    watcher.join()
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 3
    assert statuses.count(429) == 47, statuses
    assert all(r.headers["retry-after"] for r in responses if r.status_code == 429)
    assert all(
        r.json()["error"]["code"] == "at_scale_limit" for r in responses if r.status_code == 429
    )
    assert peak <= 3
    assert describe(gateway, "tricks")["starts"]["cold"] == 3
    assert gateway.http.get("/healthz").status_code == 200  # the platform stays responsive


def test_waiting_calls_are_served_in_order_when_a_container_frees_up(
    gateway: Gateway, register: Any
) -> None:
    register(gateway, TRICKS, scale={"max": 1}, timeout="10s")
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(httpx.post, f"{gateway.url}/function/tricks/sleep?s=0.5", timeout=30)
        wait_until(lambda: describe(gateway, "tricks")["containers"]["busy"] == 1, 20, 0.01)
        rest = [
            pool.submit(httpx.post, f"{gateway.url}/function/tricks", timeout=30) for _ in range(3)
        ]
        assert first.result().status_code == 200
        results = [future.result() for future in rest]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert all("queue;dur=" in r.headers["server-timing"] for r in results)


def test_paused_containers_resume_on_demand(
    make_gateway: Callable[..., Gateway], register: Any
) -> None:
    gateway = make_gateway(FAAS_PAUSE_AFTER="300ms")
    register(gateway, TRICKS)
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"
    wait_until(lambda: describe(gateway, "tricks")["containers"]["paused"] == 1, 10, 0.05)
    (container,) = containers_of("tricks")
    assert docker.from_env().api.inspect_container(container.id)["State"]["Paused"] is True
    resumed = gateway.http.post("/function/tricks")
    assert start_kind(resumed) == "paused"
    assert "start;dur=" in resumed.headers["server-timing"]
    assert docker.from_env().api.inspect_container(container.id)["State"]["Paused"] is False
    assert start_kind(gateway.http.post("/function/tricks")) == "warm"


def test_pool_control_prestarts_drains_and_pauses(gateway: Gateway, register: Any) -> None:
    register(gateway, TRICKS)
    control = "/system/function/tricks/pool"
    assert gateway.http.post(control, json={"action": "prestart", "count": 2}).json() == {
        "ready": 2
    }
    assert start_kind(gateway.http.post("/function/tricks")) == "prewarm"
    assert gateway.http.post(control, json={"action": "pause"}).json() == {"paused": 2}
    assert start_kind(gateway.http.post("/function/tricks")) == "paused"
    assert gateway.http.post(control, json={"action": "drain"}).json() == {"removed": 2}
    assert not containers_of("tricks")
    bad = gateway.http.post(control, json={"action": "explode"})
    assert bad.status_code == 400


def test_forced_cold_starts_a_new_container(gateway: Gateway, register: Any) -> None:
    register(gateway, TRICKS)
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"
    forced = gateway.http.post("/function/tricks", headers={"X-Faas-Force": "cold"})
    assert start_kind(forced) == "cold"
    assert len(containers_of("tricks")) == 2
    assert gateway.http.post("/function/tricks", headers={"X-Faas-Force": "hot"}).status_code == 400


def test_forced_cold_at_scale_max_replaces_an_idle_or_paused_container_at_once(
    make_gateway: Callable[..., Gateway], register: Any
) -> None:
    gateway = make_gateway(FAAS_PAUSE_AFTER="300ms", FAAS_GENERIC_POOL="0")
    register(gateway, TRICKS, scale={"min": 0, "max": 1})
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"
    (first,) = containers_of("tricks")
    wait_until(lambda: describe(gateway, "tricks")["containers"]["paused"] == 1, 10, 0.05)
    began = time.monotonic()
    forced = gateway.http.post("/function/tricks", headers={"X-Faas-Force": "cold"})
    assert start_kind(forced) == "cold"
    assert time.monotonic() - began < 5  # not FAAS_QUEUE_TIMEOUT (10 s), then 429
    again = gateway.http.post("/function/tricks", headers={"X-Faas-Force": "cold"})
    assert start_kind(again) == "cold"  # the idle (running) one is replaced as well
    # the replaced ones are removed: one container (scale.max), not the first
    wait_until(lambda: [c.id != first.id for c in containers_of("tricks")] == [True], 10)


def test_memory_budget_evicts_the_least_recently_used_idle_container(
    make_gateway: Callable[..., Gateway], register: Any
) -> None:
    gateway = make_gateway(FAAS_MEMORY_BUDGET="96Mi")
    register(gateway, TRICKS)  # 48Mi
    register(gateway, ECHO)  # 64Mi
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"
    (tricks,) = containers_of("tricks")
    assert start_kind(gateway.http.post("/function/echo")) == "cold"  # 48 + 64 > 96: evicts
    wait_until(lambda: not containers_of("tricks"), 10, 0.05)
    assert len(containers_of("echo")) == 1
    # Nothing idle to evict: the platform is full, 503.
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(httpx.post, f"{gateway.url}/function/echo", timeout=30)
        busy.result()
    register(gateway, TRICKS, timeout="10s")
    slow = ThreadPoolExecutor(1).submit(
        httpx.post, f"{gateway.url}/function/tricks/sleep?s=2", timeout=30
    )
    wait_until(lambda: describe(gateway, "tricks")["containers"]["busy"] == 1, 20, 0.02)
    full = gateway.http.post("/function/echo", headers={"X-Faas-Force": "cold"})
    assert full.status_code == 503
    assert "FAAS_MEMORY_BUDGET" in full.json()["error"]["message"]
    assert slow.result().status_code == 200
    assert tricks.id not in {c.id for c in containers_of("tricks")}


# -- failures ----------------------------------------------------------------------------------


def test_timeout_kills_the_container_and_answers_504(gateway: Gateway, register: Any) -> None:
    register(gateway, TRICKS, timeout="1s")
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"
    (container,) = containers_of("tricks")
    started = time.monotonic()
    response = gateway.http.post("/function/tricks/sleep?s=5")
    assert response.status_code == 504
    assert time.monotonic() - started < 3
    assert "timeout" in response.json()["error"]["message"]
    wait_until(lambda: container.id not in {c.id for c in containers_of("tricks")}, 10, 0.05)
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"  # never reused


def test_out_of_memory_is_502_oom(gateway: Gateway, register: Any) -> None:
    register(gateway, TRICKS, memory="32Mi", timeout="20s")
    response = gateway.http.post("/function/tricks/oom")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "oom"
    assert "memory" in error["message"]
    wait_until(lambda: not containers_of("tricks"), 10, 0.05)
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"


def test_a_container_dying_mid_call_is_502_at_once(gateway: Gateway, register: Any) -> None:
    register(gateway, TRICKS, timeout="20s")
    started = time.monotonic()
    response = gateway.http.post("/function/tricks/exit")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "crashed"
    assert time.monotonic() - started < 5  # not after the 20 s timeout
    wait_until(lambda: not containers_of("tricks"), 10, 0.05)


def test_a_killed_idle_container_is_replaced_without_an_error(
    gateway: Gateway, register: Any
) -> None:
    register(gateway, TRICKS)
    assert start_kind(gateway.http.post("/function/tricks")) == "cold"
    (container,) = containers_of("tricks")
    docker.from_env().api.kill(container.id)
    response = gateway.http.post("/function/tricks")
    assert response.status_code == 200, response.text
    assert response.text == "ok"


def test_a_killed_idle_container_is_replaced_even_before_docker_reports_it(
    gateway: Gateway, register: Any
) -> None:
    """Race the event stream: kill and call at once; the call must still succeed."""
    register(gateway, TRICKS)
    for _ in range(3):
        assert gateway.http.post("/function/tricks").status_code == 200
        (container,) = containers_of("tricks")
        docker.from_env().api.kill(container.id, signal="SIGKILL")
        assert gateway.http.post("/function/tricks").status_code == 200


def test_init_failures_back_off_instead_of_starting_a_container_per_request(
    gateway: Gateway, register: Any
) -> None:
    register(gateway, FIXTURES / "broken-import")
    first = gateway.http.post("/function/broken-import")
    assert first.status_code == 502
    again = [gateway.http.post("/function/broken-import") for _ in range(5)]
    assert all(r.status_code == 502 for r in again)
    assert all("not retried for another" in r.json()["error"]["message"] for r in again)
    assert all("ImportModuleError" in r.json()["error"]["message"] for r in again)
    assert describe(gateway, "broken-import")["errors"] == 6
    assert not containers_of("broken-import")


def test_redeploy_drains_old_containers(gateway: Gateway, register: Any, tmp_path: Path) -> None:
    import shutil

    v1 = tmp_path / "v1"
    shutil.copytree(TRICKS, v1)
    v2 = tmp_path / "v2"
    shutil.copytree(TRICKS, v2)
    (v2 / "handler.py").write_text((TRICKS / "handler.py").read_text().replace('"v1"', '"v2"'))
    register(gateway, v1, timeout="10s")
    assert gateway.http.post("/function/tricks/version").text == "v1"
    with ThreadPoolExecutor(1) as pool:
        inflight = pool.submit(httpx.post, f"{gateway.url}/function/tricks/sleep?s=1", timeout=30)
        wait_until(lambda: describe(gateway, "tricks")["containers"]["busy"] == 1, 20, 0.01)
        register(gateway, v2, timeout="10s")
        # From the moment the deploy returns, no old code answers.
        assert [gateway.http.post("/function/tricks/version").text for _ in range(5)] == ["v2"] * 5
        assert inflight.result().status_code == 200  # the call in flight finished on v1
    wait_until(lambda: len(containers_of("tricks")) == 1, 10, 0.05)


# -- observability -----------------------------------------------------------------------------


def test_sync_calls_have_records_and_metrics(gateway: Gateway, register: Any) -> None:
    register(gateway, TRICKS)
    response = gateway.http.post("/function/tricks")
    call_id = response.headers["x-call-id"]
    record = gateway.http.get(f"/system/calls/{call_id}").json()
    assert record["status"] == "succeeded" and record["start"] == "cold"
    assert record["function"] == "tricks" and record["timings"]["total"] > 0
    assert gateway.http.get("/system/calls/nope").status_code == 404
    metrics = gateway.http.get("/metrics").text
    assert 'faas_calls_total{code="200",function="tricks"} 1.0' in metrics
    assert 'faas_starts_total{function="tricks",kind="cold"} 1.0' in metrics
    assert 'faas_containers{function="tricks",state="ready"} 1.0' in metrics
    assert "faas_call_duration_seconds_bucket" in metrics
    assert "faas_queue_depth{queue=" in metrics
