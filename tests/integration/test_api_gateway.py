"""A function's API-gateway fields on real gateway processes, real Docker and one real Redis:
limits and quotas hold across two gateways, API keys from the CLI, CORS preflights and schema
violations answered without a container."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from faas import keys
from tests.conftest import FIXTURES, REPO, Gateway, run_containers, wait_until

ECHO = FIXTURES / "echo"
ORIGIN = "https://app.example"
Register = Callable[..., dict[str, object]]


def faas(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faas", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def knows(gateway: Gateway, name: str) -> None:
    wait_until(lambda: gateway.http.get(f"/system/function/{name}").status_code == 200, 30)


def call(gateway: Gateway, name: str, **headers: str) -> httpx.Response:
    named = {key.replace("_", "-"): value for key, value in headers.items()}
    return gateway.http.post(f"/function/{name}", content=b"{}", headers=named)


def test_rate_limit_and_quota_hold_across_two_gateways(
    make_gateway: Callable[..., Gateway], register: Register
) -> None:
    one, two = make_gateway(), make_gateway()
    gateways = [one, two]
    register(one, ECHO, rate_limit={"rate": "1/h", "burst": 4}, scale={"min": 0, "max": 1})
    knows(two, "echo")

    # 12 calls at once, half through each gateway: a burst of 4 admits exactly 4 in all.
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: call(gateways[i % 2], "echo"), range(12)))
    assert Counter(a.status_code for a in answers) == {200: 4, 429: 8}, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["retry-after"].isdigit() and int(refused.headers["retry-after"]) > 0

    register(one, ECHO, name="metered", auth="api-key", quota={"limit": 3, "period": "day"})
    knows(two, "metered")
    first, second = (one.http.post("/system/api-keys", json={}).json()["key"] for _ in range(2))
    statuses = [call(gateways[i % 2], "metered", x_api_key=first).status_code for i in range(3)]
    assert statuses == [200, 200, 200]
    for gateway in gateways:  # used up, whichever gateway the next call reaches
        over = call(gateway, "metered", x_api_key=first)
        assert over.status_code == 429 and over.json()["error"]["code"] == "quota_exceeded"
        assert int(over.headers["retry-after"]) <= 86400
    assert call(two, "metered", x_api_key=second).status_code == 200  # each key its own


def test_api_keys_from_the_cli_are_required_and_revoked_everywhere(
    make_gateway: Callable[..., Gateway], register: Register
) -> None:
    one, two = make_gateway(), make_gateway()
    register(one, ECHO, auth="api-key")
    knows(two, "echo")
    refused = call(one, "echo")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "api_key_required"

    created = faas("key", "create", "--name", "ci", "--function", "echo", env=one.cli_env())
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert "not shown again" in created.stderr
    answer = call(two, "echo", x_api_key=secret)
    assert answer.status_code == 200, answer.text
    assert secret not in answer.text  # the function never sees the key

    listed = faas("key", "list", env=one.cli_env())
    assert listed.returncode == 0, listed.stderr
    assert "ci" in listed.stdout and "echo" in listed.stdout and secret not in listed.stdout
    key_id = secret.split("_")[1]
    assert key_id in listed.stdout
    stored = json.dumps(one.http.get("/system/api-keys").json())
    assert secret not in stored and secret not in one.log.read_text()

    revoked = faas("key", "revoke", key_id, env=one.cli_env())
    assert revoked.returncode == 0, revoked.stderr
    for gateway in (one, two):
        after = call(gateway, "echo", x_api_key=secret)
        assert after.status_code == 403 and after.json()["error"]["code"] == "invalid_api_key"
    missing = faas("key", "revoke", key_id, env=one.cli_env())
    assert missing.returncode == 1 and missing.stderr.startswith("Error: no API key")


def test_preflight_and_schema_violations_start_no_container(
    gateway: Gateway, tmp_path: Path, base_image: str
) -> None:
    folder = tmp_path / "checked"
    folder.mkdir()
    (folder / "handler.py").write_text("def handle(event, context):\n    return event.json()\n")
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    (folder / "schema.json").write_text(json.dumps(schema))
    (folder / "faas.yaml").write_text(
        "name: checked\nmemory: 64Mi\nrequest_schema: schema.json\n"
        f"cors: {{origins: ['{ORIGIN}'], methods: [POST], headers: [Content-Type]}}\n"
    )
    deployed = faas(
        "deploy", "-q", str(folder), env={**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    )
    assert deployed.returncode == 0, deployed.stderr
    config = gateway.http.get("/system/function/checked").json()["config"]
    assert config["request_schema"] == schema  # read from the folder's file at deploy

    preflight = gateway.http.options(
        "/function/checked",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "Content-Type"},
    )  # fmt: skip
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    bad = gateway.http.post("/function/checked", json={"n": "one"}, headers={"Origin": ORIGIN})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    assert bad.json()["error"]["message"].startswith("request body at /n:")
    assert bad.headers["access-control-allow-origin"] == ORIGIN
    queued = gateway.http.post("/async-function/checked", json={})
    assert queued.status_code == 400, queued.text
    assert run_containers({keys.LABEL_FUNCTION: "checked"}) == []

    good = gateway.http.post("/function/checked", json={"n": 1}, headers={"Origin": ORIGIN})
    assert good.status_code == 200 and good.json() == {"n": 1}
    assert good.headers["access-control-allow-origin"] == ORIGIN
    assert len(run_containers({keys.LABEL_FUNCTION: "checked"})) == 1  # the check could fail
