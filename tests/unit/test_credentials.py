"""Where the control plane's secret lives (faas.credentials) and how clients send it."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from faas import credentials
from faas.cli.main import cli
from faas.client import GatewayClient, GatewayError
from faas.errors import ConfigError
from faas.settings import Settings


def test_ensure_creates_a_private_file_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert credentials.find(settings) is None  # clients never create one
    assert not settings.password_file.exists()
    password = credentials.ensure(settings)
    assert len(password) >= 43  # 32 bytes of entropy, URL-safe base64
    assert stat.S_IMODE(settings.password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.password_file.parent.stat().st_mode) == 0o700
    assert credentials.ensure(settings) == credentials.find(settings) == password
    assert [p.name for p in settings.password_file.parent.iterdir()] == ["admin-password"]


def test_a_gateway_that_loses_the_race_to_create_it_uses_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path)
    winner = credentials.ensure(settings)
    # Another gateway created the file between our look and our write: ours must not replace it.
    monkeypatch.setattr(credentials, "find", lambda settings: None)
    assert credentials.ensure(settings) == winner
    assert [p.name for p in tmp_path.iterdir()] == ["admin-password"]  # no temporary left


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    given = Settings.from_env({"FAAS_HOME": str(tmp_path), "FAAS_ADMIN_PASSWORD": "from-env"})
    assert credentials.ensure(given) == "from-env"
    assert not given.password_file.exists()
    secret_file = tmp_path / "run" / "secret"
    secret_file.parent.mkdir()
    secret_file.write_text("from-a-docker-secret\n")
    from_file = Settings.from_env({"FAAS_ADMIN_PASSWORD_FILE": str(secret_file)})
    assert credentials.ensure(from_file) == "from-a-docker-secret"


def test_an_empty_file_is_an_error_that_names_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    settings.password_file.write_text("\n")
    with pytest.raises(ConfigError, match="admin-password is empty"):
        credentials.ensure(settings)


def test_rotate_replaces_the_file_unless_the_variable_sets_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    old = credentials.ensure(settings)
    new = credentials.rotate(settings)
    assert new != old and credentials.find(settings) == new
    assert stat.S_IMODE(settings.password_file.stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="FAAS_ADMIN_PASSWORD"):
        credentials.rotate(Settings(home=tmp_path, admin_password="x"))


def test_settings_parse_auth_and_never_show_the_password() -> None:
    settings = Settings.from_env({"FAAS_AUTH": "off", "FAAS_ADMIN_PASSWORD": "hunter2"})
    assert settings.auth is False
    assert "hunter2" not in repr(settings)
    assert Settings.from_env({}).auth is True
    with pytest.raises(ConfigError, match="FAAS_AUTH"):
        Settings.from_env({"FAAS_AUTH": "maybe"})


def _recording_client(
    tmp_path: Path, url: str, status: int = 200
) -> tuple[GatewayClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"call_id": "c", "name": "f"} if status < 400 else {})

    settings = Settings(home=tmp_path)
    transport = httpx.MockTransport(answer)
    return GatewayClient(url, transport=transport, settings=settings), seen


@pytest.mark.parametrize("url", ["http://gw:8080", "http://proxy/faas/"])
def test_the_client_sends_credentials_to_the_control_plane_only(tmp_path: Path, url: str) -> None:
    password = credentials.ensure(Settings(home=tmp_path))
    client, seen = _recording_client(tmp_path, url)
    client.function("f")
    client.invoke("f", b"x")
    client.invoke_async("f", b"x")
    control, call, queued = seen
    assert control.headers["authorization"] == credentials.basic_authorization(password)
    assert "authorization" not in call.headers and "authorization" not in queued.headers
    client.invoke("f", headers={"Authorization": "Bearer the-functions-own"})
    assert seen[-1].headers["authorization"] == "Bearer the-functions-own"


def test_a_refusal_says_where_the_client_looked(tmp_path: Path) -> None:
    client, seen = _recording_client(tmp_path, "http://gw", status=401)
    with pytest.raises(GatewayError, match=r"none at .*admin-password: `faas up` creates"):
        client.functions()
    assert "authorization" not in seen[0].headers
    credentials.ensure(Settings(home=tmp_path))
    client, _ = _recording_client(tmp_path, "http://gw", status=401)
    with pytest.raises(GatewayError, match=r"refused the password from .*admin-password"):
        client.functions()


def test_faas_auth_rotate_writes_a_new_password_and_never_prints_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    old = credentials.ensure(settings)
    done = CliRunner(env={"FAAS_HOME": str(tmp_path)}).invoke(cli, ["auth", "rotate"])
    assert done.exit_code == 0, done.output
    new = credentials.find(settings)
    assert new is not None and new != old
    assert new not in done.output and str(settings.password_file) in done.output
