"""The voting-app demo end to end: `faas demo`, a browser, and 10,000 votes.

Everything is real: the stack is what `faas up` starts (its own Redis and gateways), the
functions are the repository's, and votes travel vote → async queue → record-vote → Redis.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from faas.engines.docker import DockerBackend
from tests.conftest import REPO, free_port, need, wait_until

CHROMIUM = "/usr/bin/chromium"
VOTERS = 1000
VOTES_PER_VOTER = 10


@dataclass
class Stack:
    url: str
    worker_url: str
    env: dict[str, str]
    home: Path

    def faas(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "faas", *args], cwd=REPO, env=self.env,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    def worker_pid(self) -> int:
        return int((self.home / "gateway-1.pid").read_text())

    def tally(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.url}/function/result/tally", timeout=30).json())


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, base_image: str, redis_server: object
) -> Iterator[Stack]:  # redis_server: only to require the redis-server binary
    """`faas up --workers 1` then `faas demo`, on an isolated home and ports."""
    port = free_port()
    while True:  # the worker gateway takes the next port
        worker_port = port + 1
        try:
            with __import__("socket").socket() as probe:
                probe.bind(("127.0.0.1", worker_port))
            break
        except OSError:
            port = free_port()
    home = tmp_path_factory.mktemp("demo")
    env = {
        **os.environ,
        "FAAS_HOME": str(home),
        "FAAS_GATEWAY": f"http://127.0.0.1:{port}",
        "FAAS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "FAAS_SOCKET_DIR": f"/tmp/faas-demo-{port}",
        "FAAS_BASE_IMAGE": base_image,
        # A killed gateway's calls are taken over after this long (default 30 s).
        "FAAS_ASYNC_VISIBILITY_TIMEOUT": "5s",
    }
    stack = Stack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{worker_port}", env, home)
    up = stack.faas("up", "--workers", "1")
    assert up.returncode == 0, up.stdout + up.stderr
    stack_id = redis_client(stack).get("faas:stack-id")
    try:
        demo = stack.faas("demo")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert f"{stack.url}/function/vote" in demo.stdout
        yield stack
    finally:
        down = stack.faas("down")
    assert down.returncode == 0, down.stderr
    assert stack_id and not DockerBackend().list_managed({"faas.stack": stack_id.decode()})


def redis_client(stack: Stack) -> Any:
    import redis

    password = (stack.home / "redis-password").read_text().strip()  # `faas up` made it
    return redis.Redis.from_url(stack.env["FAAS_REDIS_URL"], password=password)


def reset_votes(stack: Stack) -> None:
    client = redis_client(stack)
    client.delete("votes:ballots", "votes:ts", "votes:counts")
    client.close()


def test_vote_in_a_browser_and_see_it_counted(stack: Stack) -> None:
    need(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    reset_votes(stack)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            for width in (390, 1280):  # a phone and a desktop
                page = browser.new_page(viewport={"width": width, "height": 844})
                page.goto(f"{stack.url}/function/vote")
                expect(page.locator("button.choice.a")).to_contain_text("Cats")
                expect(page.locator("button.choice.b")).to_contain_text("Dogs")
                expect(page.locator("button.choice.a svg")).to_be_visible()  # no emoji font
                assert page.title() == "Cats vs Dogs"
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.close()
            page = browser.new_page()
            page.goto(f"{stack.url}/function/vote")
            page.locator("button.choice.a").click()
            expect(page.locator("#status")).to_contain_text("Cats", timeout=15_000)
            page.locator("#results-link").click()
            expect(page.locator("#count-a")).to_have_text("1", timeout=15_000)
            expect(page.locator("#count-b")).to_have_text("0")
            assert page.title() == "Cats vs Dogs"  # one title for both pages
            page.screenshot(path=str(stack.home / "results.png"))
        finally:
            browser.close()


def cast_votes(
    stack: Stack, urls: list[str], run: str, kill: threading.Event | None = None
) -> dict[str, str]:
    """VOTERS voters each vote VOTES_PER_VOTER times, in order; returns each one's last vote.

    A request that fails (its gateway was killed) is sent again, with the same ballot, to
    another gateway: the Idempotency-Key makes that one vote, not two.
    """
    rng = random.Random(7)
    plan = {
        f"voter{v:04d}": [rng.choice("ab") for _ in range(VOTES_PER_VOTER)] for v in range(VOTERS)
    }
    sent = 0
    lock = threading.Lock()

    def run_voter(item: tuple[str, list[str]]) -> None:
        nonlocal sent
        voter, choices = item
        with httpx.Client(timeout=30, cookies={"voter_id": voter}) as client:
            for n, choice in enumerate(choices):
                body = {"vote": choice, "ballot": f"{run}-{n}"}  # a new ballot per vote
                last_error = ""
                for attempt in range(60):
                    url = urls[(n + attempt) % len(urls)]
                    try:
                        response = client.post(f"{url}/function/vote", json=body)
                    except httpx.TransportError:
                        urls_alive(urls)
                        continue
                    if response.status_code == 202:
                        break
                    assert response.status_code in (429, 502, 503), response.text
                    last_error = f"{response.status_code} {response.text[-300:]}"
                    time.sleep(0.05)
                else:
                    raise AssertionError(f"{voter} could not vote: {last_error}")
                with lock:
                    sent += 1
                    if kill is not None and sent == VOTERS * VOTES_PER_VOTER // 2:
                        kill.set()

    with ThreadPoolExecutor(24) as pool:
        list(pool.map(run_voter, plan.items()))
    return {voter: choices[-1] for voter, choices in plan.items()}


def urls_alive(urls: list[str]) -> None:
    """Forget gateways that no longer answer (the killed one)."""
    for url in list(urls):
        try:
            httpx.get(f"{url}/healthz", timeout=2)
        except httpx.TransportError:
            if len(urls) > 1 and url in urls:
                urls.remove(url)


def assert_exact_tally(stack: Stack, last: dict[str, str]) -> None:
    expected = {
        "a": sum(v == "a" for v in last.values()),
        "b": sum(v == "b" for v in last.values()),
    }

    def settled() -> bool:
        tally = stack.tally()
        return (tally["a"], tally["b"], tally["total"]) == (expected["a"], expected["b"], VOTERS)

    wait_until(settled, 180, 0.5)
    time.sleep(3)  # nothing still in the queue may change it afterwards
    assert settled(), (stack.tally(), expected)


def test_ten_thousand_votes_tally_exactly(stack: Stack) -> None:
    reset_votes(stack)
    last = cast_votes(stack, [stack.url, stack.worker_url], "plain")
    assert_exact_tally(stack, last)


def test_ten_thousand_votes_with_a_gateway_killed_midway(stack: Stack) -> None:
    reset_votes(stack)
    kill = threading.Event()
    victim = stack.worker_pid()

    def killer() -> None:
        if kill.wait(300):
            os.kill(victim, signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    last = cast_votes(stack, [stack.url, stack.worker_url], "killed", kill)
    thread.join()
    assert kill.is_set()
    assert_exact_tally(stack, last)
