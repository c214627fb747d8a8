"""Secrets against real Docker and Redis: a function reads them as read-only files at both
paths, no API response, log or Redis value carries them, the host files are private, an update
reaches new instances, and bad requests are 4xx."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable
from pathlib import Path

import docker
import redis

from faas import keys
from tests.conftest import FIXTURES, Gateway, RedisServer, run_containers, wait_until
from tests.integration.test_cli import faas

VALUE = "db-pa55-c0ffee-91f3"  # must never appear in an API response, a log or Redis
NEW_VALUE = "db-pa55-rotated-77aa"
READER = FIXTURES / "secret-reader"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _folders(gateway: Gateway) -> list[Path]:
    root = gateway.home / "secret-mounts"
    return [p for p in root.iterdir() if p.name.startswith(gateway.id)] if root.exists() else []


def test_function_reads_its_secret_as_read_only_files_and_nothing_leaks(
    make_gateway: Callable[..., Gateway],
    deploy: Callable[[Gateway, Path], dict[str, object]],
    register: Callable[..., dict[str, object]],
    redis_server: RedisServer,
) -> None:
    gateway = make_gateway()
    created = faas("secret", "create", "db-password", env=gateway.cli_env(), input=VALUE.encode())
    assert created.returncode == 0, created.stderr
    assert VALUE not in created.stdout + created.stderr

    # A deploy naming a secret that does not exist is refused, naming it.
    response = gateway.http.post(
        "/system/functions",
        json={"manifest": {"name": "secret-reader", "secrets": ["nope"]}, "image": "x"},
    )
    assert response.status_code == 400 and "nope" in response.json()["error"]["message"]

    deploy(gateway, READER)
    answer = gateway.http.post("/function/secret-reader")
    assert answer.status_code == 200, answer.text
    read = answer.json()
    assert read["sha256"] == {"/var/openfaas/secrets": _sha(VALUE), "/run/secrets": _sha(VALUE)}
    assert read["uid"] == 10001 and read["environment_token"] is True
    for attempt in ("write", "create", "chmod"):  # read-only mount, 0444/0555, not the owner
        assert read[attempt] != "allowed", read

    # On the host: a 0700 parent no other local user can pass, 0555/0444 below it.
    [folder] = _folders(gateway)
    assert _mode(folder.parent) == 0o700
    assert _mode(folder) == 0o555 and _mode(folder / "db-password") == 0o444
    assert (folder / "db-password").read_text() == VALUE
    [container] = run_containers({keys.LABEL_FUNCTION: "secret-reader"})
    mounts = docker.from_env().api.inspect_container(container.id)["Mounts"]
    secret_mounts = {m["Destination"]: m for m in mounts if m["Source"] == str(folder)}
    assert set(secret_mounts) == {"/var/openfaas/secrets", "/run/secrets"}
    assert not any(m["RW"] for m in secret_mounts.values())

    # Nothing shows the value: API responses, the CLI, the gateway's log, Redis.
    shown = [
        gateway.http.get("/system/secrets"),
        gateway.http.get("/system/functions"),
        gateway.http.get("/system/function/secret-reader"),
        gateway.http.get("/system/logs/secret-reader"),
    ]
    assert shown[0].json() == [{"name": "db-password"}]
    assert shown[2].json()["config"]["environment"] == {"API_TOKEN": "****"}
    listed = faas("secret", "list", env=gateway.cli_env())
    described = faas("describe", "secret-reader", env=gateway.cli_env())
    assert listed.stdout == "db-password\n" and "API_TOKEN=****" in described.stdout
    texts = [r.text for r in shown] + [listed.stdout, described.stdout]
    assert "read 2 secret files" in shown[3].text
    for text in texts:
        assert VALUE not in text and "env-token-4b2e9c" not in text
    dump = redis.Redis.from_url(redis_server.url).hgetall(keys.SECRETS)
    assert set(dump) == {b"db-password"} and VALUE.encode() not in dump[b"db-password"]

    # An update: the warm instance is retired, the next one reads the new value.
    updated = faas(
        "secret", "update", "db-password", "--from-literal", NEW_VALUE, env=gateway.cli_env()
    )
    assert updated.returncode == 0, updated.stderr
    again = gateway.http.post("/function/secret-reader")
    assert again.headers["x-faas-start"] == "cold"
    assert again.json()["sha256"]["/run/secrets"] == _sha(NEW_VALUE)
    wait_until(lambda: not folder.exists(), 20)  # the old container went, and its files

    # A secret in use is not removed; removing the function removes its containers' files.
    in_use = faas("secret", "remove", "db-password", env=gateway.cli_env())
    assert in_use.returncode == 1 and "secret-reader" in in_use.stderr
    with gateway.client() as client:
        client.remove("secret-reader")
        wait_until(lambda: not _folders(gateway), 20)
        client.remove_secret("db-password")
        assert client.secrets() == []
    gateway.stop()
    log = gateway.log.read_text()
    assert "db-password" in log or "secret" in log  # it logged about secrets, not their values
    for value in (VALUE, NEW_VALUE, "env-token-4b2e9c"):
        assert value not in log


def test_bad_secret_requests_are_4xx(gateway: Gateway) -> None:
    http = gateway.http
    assert http.post("/system/secrets", json={"name": "ok-1", "value": "v"}).status_code == 201
    cases = [
        ("POST", {"name": "ok-1", "value": "v"}, 409),
        ("POST", {"name": "../../etc/passwd", "value": "v"}, 400),
        ("POST", {"name": "ok-2"}, 400),
        ("POST", {"name": "ok-2", "rawValue": "%%%"}, 400),
        ("PUT", {"name": "missing", "value": "v"}, 404),
        ("DELETE", {"name": "missing"}, 404),
        ("DELETE", {"name": "a/b"}, 400),
    ]
    for method, body, status in cases:
        response = http.request(method, "/system/secrets", json=body)
        assert response.status_code == status, (method, body, response.text)
        assert "error" in response.json()
    outsider = http.get("/system/secrets", auth=("admin", "wrong"))
    assert outsider.status_code == 401
    cli = faas("secret", "remove", "missing", env=gateway.cli_env())
    assert cli.returncode == 1 and cli.stderr.count("\n") == 1 and "missing" in cli.stderr


def test_gateways_of_a_stack_share_secrets_and_retire_on_update(
    make_gateway: Callable[..., Gateway],
    deploy: Callable[[Gateway, Path], dict[str, object]],
) -> None:
    """Two gateway processes on one Redis and one key file (as `faas up --workers 1`): a
    secret created through one is mounted by the other, and an update through the first
    retires the second's warm instance."""
    one = make_gateway()
    two = make_gateway(FAAS_SECRETS_KEY_FILE=str(one.settings.secrets_key_path))
    with one.client() as client:
        client.create_secret("db-password", VALUE.encode())
    deploy(one, READER)
    for _ in range(2):
        answer = two.http.post("/function/secret-reader")
        assert answer.json()["sha256"]["/var/openfaas/secrets"] == _sha(VALUE), answer.text
    assert answer.headers["x-faas-start"] == "warm"
    [old] = _folders(two)
    with one.client() as client:
        client.update_secret("db-password", NEW_VALUE.encode())
    wait_until(lambda: not old.exists(), 20)  # retired by two's watch, files gone with it
    answer = two.http.post("/function/secret-reader")
    assert answer.headers["x-faas-start"] == "cold"
    assert answer.json()["sha256"]["/run/secrets"] == _sha(NEW_VALUE)
