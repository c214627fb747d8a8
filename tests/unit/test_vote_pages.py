"""The vote and result pages: icons that need no emoji font, one title, nothing about the
container that served them."""

from __future__ import annotations

import re
import socket

import pytest

from tests.unit.test_voting_functions import OPTIONS, load

vote, result = load("vote"), load("result")
PAGES = {
    "vote": lambda served: vote.render_page(OPTIONS, ballot="ab", served_by=served),
    "result": lambda served: result.render_page(OPTIONS, {"a": 2, "b": 1}, served_by=served),
}


@pytest.mark.parametrize("name", PAGES)
def test_icons_are_inline_svg_not_emoji(name: str) -> None:
    page = PAGES[name]("served warm")
    assert page.count("<svg ") == 2 and 'aria-hidden="true"' in page
    assert not re.search("[\U0001f000-\U0001faff\u2600-\u27bf]", page), "no emoji"


def test_both_pages_carry_the_same_title() -> None:
    titles = {re.search("<title>(.*)</title>", PAGES[n]("")).group(1) for n in PAGES}  # type: ignore[union-attr]
    headings = {re.search("<h1>(.*)</h1>", PAGES[n]("")).group(1) for n in PAGES}  # type: ignore[union-attr]
    assert titles == headings == {"Cats vs Dogs"}


class Cold:
    cold = True


def test_the_footer_says_how_the_page_was_served_not_by_which_container(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(result, "tally", lambda: {"a": 1, "b": 0})
    pages = [result._page_response(Cold())["body"], PAGES["vote"](vote._served_by(Cold()))]
    for page in pages:
        foot = page.split('<div class="foot">')[1]
        assert "served by a cold start" in foot
        assert socket.gethostname() not in page and "container" not in foot


def test_on_a_phone_the_card_starts_at_the_top() -> None:
    for name in PAGES:
        assert "@media (max-width:40rem){body{align-items:flex-start" in PAGES[name]("")
