"""faas bench's generic mode without Docker: which replies count as a generic runtime's first
call, and waiting for a spare through the function's description (a mocked gateway)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from faas_bench.control import Control, NotAvailable, Target, record
from faas_bench.modes import Options
from faas_bench.results import FAAS, MODES, Series
from faas_bench.wire import Reply


def reply(start: str, timing: str, status: int = 200) -> Reply:
    headers = {"x-faas-start": start, "server-timing": timing}
    return Reply(status, headers, b"", elapsed_ms=12.5, first_byte_ms=12.0)


def generic_series() -> Series:
    s = Series("generic", "generic", FAAS, "generic", expect="prewarm", baselines=["sdk"])
    s.new_round()
    return s


LOADED = "load;dur=3.100, handler;dur=0.010, total;dur=3.900"
PRELOADED = "handler;dur=0.010, total;dur=0.800"


def test_generic_mode_is_a_default_mode() -> None:
    assert "generic" in MODES
    assert "generic" in Options().modes
    assert Options(modes=("generic",)).modes == ("generic",)


def test_a_prewarm_reply_with_a_load_phase_is_a_generic_sample() -> None:
    s = generic_series()
    record(s, reply("prewarm", LOADED), phase="load")
    assert s.samples == [12.5]
    assert s.parts["load"] == [3.1]
    assert s.per_round == [1] and not s.dropped


def test_replies_of_the_wrong_kind_are_dropped_and_counted() -> None:
    s = generic_series()
    record(s, reply("prewarm", PRELOADED), phase="load")  # own image: no code loaded
    record(s, reply("cold", "create;dur=90, start;dur=60, ready;dur=30"), phase="load")
    record(s, reply("warm", PRELOADED), phase="load")
    record(s, reply("prewarm", PRELOADED), phase="load")
    assert s.samples == []
    assert s.dropped == {"prewarm without load": 2, "cold": 1, "warm": 1}
    assert s.dropped_total == 4


def test_the_own_image_prewarm_drops_replies_with_a_load_phase() -> None:
    s = Series("prewarm", "prewarm", FAAS, "prewarm", expect="prewarm")
    s.new_round()
    record(s, reply("prewarm", LOADED), without="load")
    record(s, reply("prewarm", PRELOADED), without="load")
    assert s.samples == [12.5]
    assert s.dropped == {"prewarm with load": 1}


def test_errors_are_errors_not_dropped_samples() -> None:
    s = generic_series()
    record(s, reply("prewarm", LOADED, status=502), phase="load")
    assert s.errors == 1 and not s.dropped and not s.samples


# -- waiting for a spare -----------------------------------------------------------------------


def target(answers: list[dict[str, Any] | None]) -> tuple[Target, list[str]]:
    """A Target whose describe answers come from `answers` in turn (the last one repeats)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        answer = answers[min(len(seen) - 1, len(answers) - 1)]
        body: dict[str, Any] = {"name": "noop", "containers": {}, "instances": []}
        if answer is not None:
            body["generic"] = answer
        return httpx.Response(200, json=body)

    t = Target("http://gw:1", "noop", method="POST", path="", payload=b"")
    t.control = Control("http://gw:1", "noop", transport=httpx.MockTransport(handler))
    return t, seen


def state(eligible: bool, spares: int = 0, reason: str | None = None) -> dict[str, Any]:
    return {"eligible": eligible, "reason": reason, "spares": spares}


def test_waits_while_the_gateway_gets_ready_then_for_a_spare() -> None:
    t, seen = target(
        [
            state(False, reason="preparing"),
            state(False, reason="not checked yet"),
            state(False, reason="being read from its image"),
            state(True, 0),
            state(True, 1),
        ]
    )
    t.wait_for_spare(timeout=5, interval=0.001)
    assert len(seen) == 5
    assert set(seen) == {"/system/function/noop"}


@pytest.mark.parametrize(
    ("answers", "match"),
    [
        ([None], "no generic runtime pool"),
        ([state(False, reason="off (FAAS_GENERIC_POOL=0)")], "off \\(FAAS_GENERIC_POOL=0\\)"),
        (
            [state(False, reason="has its own dependencies (requirements.txt)")],
            "own dependencies",
        ),
        ([state(False, reason="built on another base image")], "another base image"),
    ],
)
def test_no_pool_or_an_ineligible_function_is_not_available_at_once(
    answers: list[dict[str, Any] | None], match: str
) -> None:
    t, seen = target(answers)
    with pytest.raises(NotAvailable, match=match):
        t.wait_for_spare(timeout=5, interval=0.001)
    assert len(seen) == 1  # a final answer: no polling


def test_no_spare_within_the_time_is_a_measurement_error() -> None:
    t, _ = target([state(True, 0)])
    with pytest.raises(RuntimeError, match="no spare container"):
        t.wait_for_spare(timeout=0.05, interval=0.001)
    t, _ = target([state(False, reason="preparing")])
    with pytest.raises(RuntimeError, match="still 'preparing'"):
        t.wait_for_spare(timeout=0.05, interval=0.001)


def test_generic_call_drains_waits_then_calls_without_forcing_cold() -> None:
    from faas_bench.modes import Session

    steps: list[str] = []

    class FakeControl:
        def drain(self) -> int:
            steps.append("drain")
            return 1

    class FakeTarget:
        control = FakeControl()

        def wait_for_spare(self, timeout: float, interval: float) -> None:
            assert 0 < interval <= 0.1 and timeout > 0  # polled, bounded
            steps.append("wait")

        def call(self, force_cold: bool = False) -> Reply:
            steps.append(f"call force_cold={force_cold}")
            return reply("prewarm", LOADED)

    session = Session.__new__(Session)
    session.target = FakeTarget()  # type: ignore[assignment]
    got = session.generic_call()
    assert steps == ["drain", "wait", "call force_cold=False"]
    assert got.headers["x-faas-start"] == "prewarm"
