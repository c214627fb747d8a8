"""/openapi.json and /docs on a real gateway, and a bounded property-based fuzz run over every
route of the document (schemathesis): no 5xx, no traceback in the gateway's log."""

from __future__ import annotations

import re
from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, given, settings, strategies
from schemathesis import GenerationMode

from faas.credentials import basic_authorization
from tests.conftest import FIXTURES, Gateway

Register = Callable[..., dict[str, object]]
# Not pointed at the real function: removing it, or pre-starting up to 100 (1000) containers.
_NOT_ON_ECHO = (
    "/system/function/{name}",
    "/system/function/{name}/pool",
    "/system/scale-function/{name}",
)
EXAMPLES = 10  # per operation: ~280 cases in all, well under a minute


def test_the_document_and_its_page_are_served(gateway: Gateway) -> None:
    document = gateway.http.get("/openapi.json")
    assert document.status_code == 200
    assert "/system/functions" in document.json()["paths"]
    page = gateway.http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/system/dead-letters/{id}/redrive" in page.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)  # nothing fetched


def test_no_input_gets_a_server_error(gateway: Gateway, register: Register) -> None:
    register(gateway, FIXTURES / "echo")  # one real function, so some calls get past the 404
    assert gateway.password is not None
    # With the control plane's credentials: the fuzz reaches the handlers behind them.
    authorization = {"Authorization": basic_authorization(gateway.password)}
    api = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json", headers=authorization)
    cases = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same few hundred cases every run
        database=None,
    )
    def fuzz(case: schemathesis.Case) -> None:
        nonlocal cases
        cases += 1
        if "name" in (case.path_parameters or {}) and case.path not in _NOT_ON_ECHO and cases % 2:
            case.path_parameters["name"] = "echo"  # random names only ever reach the 404
        response = case.call(base_url=gateway.url, headers=authorization, timeout=30)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"

    for result in api.get_all_operations():
        operation = result.ok()
        # Inputs that fit the document and inputs that do not (wrong types, out of range).
        cases_of = [operation.as_strategy(mode) for mode in GenerationMode]
        given(case=strategies.one_of(cases_of))(fuzz)()
    assert cases >= 200
    log = gateway.log.read_text()
    assert "Traceback" not in log, log[-3000:]
