"""`faas key create/list/revoke` against a stand-in gateway (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from faas.cli import group
from faas.cli.keys import api_summary
from faas.cli.main import cli
from faas.client import GatewayClient
from faas.manifest.spec import parse_manifest

SECRET = "fk_0123456789ab_" + "s" * 43
RECORD = {
    "id": "0123456789ab",
    "name": "partner",
    "prefix": "fk_0123456789ab_",
    "functions": ["echo"],
    "rate_limit": {"rate": "10/s", "burst": 5},
    "quota": {"limit": 100, "period": "day"},
    "created_at": 1_700_000_000.0,
}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "POST":
            return httpx.Response(201, json={**RECORD, "key": SECRET})
        if request.method == "DELETE":
            return httpx.Response(200, json={"revoked": RECORD["id"]})
        return httpx.Response(200, json={"api_keys": [RECORD]})

    class Client(GatewayClient):
        def __init__(self, url: str, **kwargs: Any) -> None:
            super().__init__(url, transport=httpx.MockTransport(answer), **kwargs)

    monkeypatch.setattr(group, "GatewayClient", Client)
    monkeypatch.setenv("FAAS_HOME", str(tmp_path))
    monkeypatch.setenv("FAAS_ADMIN_PASSWORD", "pw")
    yield requests


def test_create_sends_the_plan_and_prints_the_key_alone(sent: list[httpx.Request]) -> None:
    result = CliRunner().invoke(
        cli,
        ["key", "create", "--name", "partner", "--function", "echo", "--rate", "10/s",
         "--burst", "5", "--quota", "100/day"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == SECRET  # stdout: the key and nothing else, for scripts
    assert "not shown again" in result.stderr
    [request] = sent
    assert request.url.path == "/system/api-keys"
    assert json.loads(request.content) == {
        "name": "partner",
        "functions": ["echo"],
        "rate_limit": {"rate": "10/s", "burst": 5},
        "quota": {"limit": 100, "period": "day"},
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--burst", "3"], "--burst goes with --rate"), (["--quota", "lots"], "--quota must look")],
)
def test_create_refuses_a_half_plan(sent: list[httpx.Request], args: list[str], says: str) -> None:
    result = CliRunner().invoke(cli, ["key", "create", *args])
    assert result.exit_code != 0 and says in str(result.exception)
    assert sent == []


def test_list_shows_the_plan_but_never_a_secret(sent: list[httpx.Request]) -> None:
    result = CliRunner().invoke(cli, ["key", "list"])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "PREFIX", "FUNCTIONS", "RATE", "QUOTA", "CREATED"]
    assert row.split()[:8] == [
        "0123456789ab", "partner", "fk_0123456789ab_...", "echo", "10/s", "burst", "5", "100/day"
    ]  # fmt: skip
    revoked = CliRunner().invoke(cli, ["key", "revoke", "0123456789ab"])
    assert revoked.stdout.strip() == "revoked 0123456789ab"
    assert sent[-1].method == "DELETE" and sent[-1].url.path == "/system/api-keys/0123456789ab"


def test_describe_sums_up_the_api_fields() -> None:
    config = parse_manifest(
        {"name": "x", "auth": "api-key", "rate_limit": {"rate": "5/s"},
         "quota": {"limit": 9, "period": "week"}, "cors": {"origins": ["*"]},
         "request_schema": {"type": "object"}}
    ).to_manifest()  # fmt: skip
    assert api_summary(config) == (
        "auth api-key; rate_limit 5/s burst 5; quota 9/week per key; cors *; request_schema"
    )
    assert api_summary(parse_manifest({"name": "x"}).to_manifest()) == ""
