"""Bounded memory (issue 11, item 6), on a real gateway with real Docker: answers over
FAAS_MAX_RESPONSE are cut at their head, never buffered, and a function that prints 200 MB
costs `GET /system/logs` a bounded page; the gateway process stays under a stated ceiling."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import FIXTURES, Gateway
from tests.integration.test_cli import faas

FLOOD = FIXTURES / "flood"
CEILING_MIB = 200  # the gateway's peak RSS (VmHWM) through the whole test
Register = Callable[..., dict[str, object]]


def memory_mib(gateway: Gateway) -> dict[str, float]:
    """The gateway process's resident memory now and at its peak (MiB)."""
    assert gateway.process is not None
    status = Path(f"/proc/{gateway.process.pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def test_huge_answers_and_output_leave_the_gateway_under_a_ceiling(
    make_gateway: Callable[..., Gateway], register: Register
) -> None:
    gateway = make_gateway(FAAS_LOGS_MAX_BYTES="1Mi")
    register(gateway, FLOOD)
    assert gateway.http.post("/function/flood?mib=1").status_code == 200  # warm up
    before = memory_mib(gateway)

    def call(_: int) -> httpx.Response:
        with httpx.Client(base_url=gateway.url, timeout=180, trust_env=False) as client:
            return client.post("/function/flood?mib=200")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(call, range(6)))
    assert [a.status_code for a in answers] == [502] * 6
    assert {a.json()["error"]["code"] for a in answers} == {"response_too_large"}
    after_answers = memory_mib(gateway)

    printed = gateway.http.post("/function/flood?mib=200&to=stdout", timeout=180)
    assert printed.status_code == 200, printed.text
    page = gateway.http.get("/system/logs/flood")
    assert page.status_code == 200
    assert len(page.content) < 3 * 2**20  # a 1 MiB page of text, JSON-escaped
    body = page.json()
    assert body["lines"] and body["before"]  # the rest is on older pages
    older = gateway.http.get("/system/logs/flood", params={"before": body["before"]}).json()
    assert older["lines"] and older["lines"][-1] < body["lines"][0]
    # The CLI prints the newest page and says how to see the older one.
    shown = faas("logs", "flood", env=gateway.cli_env())
    assert shown.returncode == 0, shown.stderr
    hint = f"(older lines: faas logs flood --before {body['before'][:10]}"
    assert hint in shown.stderr and "Traceback" not in shown.stderr
    paged = faas("logs", "flood", "--before", older["lines"][0].split()[0], env=gateway.cli_env())
    assert paged.returncode == 0 and len(paged.stdout) < 3 * 2**20
    after_logs = memory_mib(gateway)
    print(f"gateway RSS MiB: before {before}, 6x200MB {after_answers}, logs {after_logs}")
    assert after_logs["VmHWM"] < CEILING_MIB, (before, after_answers, after_logs)
