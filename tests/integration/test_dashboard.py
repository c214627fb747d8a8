"""The dashboard in a real browser (Debian's Chromium through Playwright) on a real gateway:
behind the Basic prompt, a call made while the page is open shows up without a reload, and
the page fits a phone. Screenshots at both widths are left in the test's tmp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, Gateway, need
from tests.integration.test_demo import CHROMIUM

PHONE, DESKTOP = 390, 1280


@pytest.fixture
def browser() -> Iterator[Any]:
    need(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            yield launched
        finally:
            launched.close()


def test_dashboard_shows_a_call_live_at_desktop_and_phone_widths(
    gateway: Gateway,
    deploy: Callable[[Gateway, Path], dict[str, object]],
    browser: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    deploy(gateway, FIXTURES / "echo")
    anonymous = browser.new_context()
    denied = anonymous.request.get(gateway.url + "/")
    assert denied.status == 401  # with the challenge that makes a browser prompt for a login
    assert denied.headers["www-authenticate"] == 'Basic realm="faas"'
    anonymous.close()

    assert gateway.password is not None
    context = browser.new_context(
        http_credentials={"username": "admin", "password": gateway.password},
        viewport={"width": DESKTOP, "height": 900},
    )
    page = context.new_page()
    remote: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(gateway.url) else remote.append(r.url))
    page.goto(gateway.url + "/")
    row = page.locator('[data-function="echo"]')
    expect(row).to_be_visible()
    expect(page.locator("#live")).to_have_class("on")
    expect(row.locator('[data-state="idle"]')).to_have_attribute("data-count", "0")

    called = gateway.http.post("/function/echo/dashboard", content=b"seen live?")
    assert called.status_code == 200, called.text
    call_id = called.headers["x-call-id"]
    # No reload: the page polls the summary and draws the call, its start kind and waterfall.
    call = page.locator(f'[data-call-id="{call_id}"]')
    expect(call).to_be_visible(timeout=10_000)
    expect(call.locator(".kind")).to_have_text(called.headers["x-faas-start"])
    expect(call.locator(".seg.handler")).to_have_count(1)
    expect(row.locator('[data-state="idle"]')).to_have_attribute("data-count", "1")
    expect(page.locator("#stat-calls")).to_have_text("1")
    page.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=True)

    page.locator('[data-function="echo"] a').click()  # the function's logs, in the page
    expect(page.locator("#logs")).to_be_visible()
    expect(page.locator("#logs-lines")).to_contain_text("faas runtime: serving", timeout=10_000)

    page.set_viewport_size({"width": PHONE, "height": 844})
    second = gateway.http.post("/function/echo/phone")
    expect(page.locator(f'[data-call-id="{second.headers["x-call-id"]}"]')).to_be_visible(
        timeout=10_000
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
    assert not remote, f"the page fetched from elsewhere: {remote}"
    context.close()
    for name in ("dashboard-desktop.png", "dashboard-phone.png"):
        assert (tmp_path / name).stat().st_size > 10_000
