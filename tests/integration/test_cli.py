"""The `faas` command line, run as a user would: a real process against a real stack."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from faas.engines.docker import DockerBackend
from tests.conftest import REPO, Gateway, RedisServer, free_port


def faas(
    *args: str, env: dict[str, str] | None = None, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faas", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        input=input.decode() if input else None,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write_function(folder: Path, name: str, body: str) -> Path:
    """A function folder written anywhere, by the rules of design.md."""
    folder.mkdir(parents=True)
    (folder / "faas.yaml").write_text(f"name: {name}\nmemory: 64Mi\nenvironment: {{PREFIX: '>'}}\n")
    (folder / "handler.py").write_text(body)
    return folder


def test_deploy_invoke_list_describe_logs_remove(
    gateway: Gateway, tmp_path: Path, base_image: str
) -> None:
    url = gateway.url
    folder = write_function(
        tmp_path / "anywhere" / "shout",
        "shout",
        (
            "import os\n\n"
            "def handle(event, context):\n"
            "    print('shouting', len(event.body))\n"
            "    return os.environ['PREFIX'] + event.text().upper()\n"
        ),
    )
    # The gateway's home holds its credentials: the CLI finds them there, no login step.
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}

    deployed = faas("deploy", str(folder), env=env)
    assert deployed.returncode == 0, deployed.stderr
    assert f"{url}/function/shout" in deployed.stdout

    again = faas("deploy", "-v", str(folder), env=env)
    assert "up to date" in again.stdout  # unchanged code is not rebuilt

    called = faas("invoke", "shout", "-d", "hello", env=env)
    assert (called.returncode, called.stdout) == (0, ">HELLO")
    data_file = tmp_path / "body.txt"
    data_file.write_text("from a file")
    assert faas("invoke", "shout", "-d", f"@{data_file}", env=env).stdout == ">FROM A FILE"
    included = faas("invoke", "shout", "-i", "-d", "x", env=env)
    assert "x-faas-start: warm" in included.stderr

    listed = faas("list", env=env)
    assert listed.returncode == 0 and "shout" in listed.stdout
    described = faas("describe", "shout", env=env)
    assert "memory: 64Mi" in described.stdout and "warm 2" in described.stdout

    logs = faas("logs", "shout", env=env)
    assert logs.returncode == 0
    assert logs.stdout.count("shouting") == 3
    assert all("] shouting" in line for line in logs.stdout.splitlines() if "shouting" in line)

    removed = faas("remove", "shout", env=env)
    assert removed.returncode == 0
    gone = faas("invoke", "shout", env=env)
    assert gone.returncode == 1
    assert gone.stderr.strip() == "Error: no function named 'shout' is deployed (see `faas list`)"


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("name: Bad_Name\n", "name: 'Bad_Name' is not a valid function name"),
        ("name: ok\ntimeout: forever\n", "timeout: expected a duration"),
        ("name: ok\nscale: {min: 2, max: 1}\n", "scale.min: must not exceed scale.max"),
        ("name: ok\nextra: 1\n", "extra: unknown field"),
        ("name: [unclosed\n", "is not valid YAML"),
    ],
)
def test_deploy_rejects_bad_manifests_in_one_line(
    tmp_path: Path, manifest: str, message: str
) -> None:
    (tmp_path / "faas.yaml").write_text(manifest)
    (tmp_path / "handler.py").write_text("def handle(event, context):\n    return 1\n")
    result = faas("deploy", str(tmp_path), env={"FAAS_GATEWAY": "http://127.0.0.1:9"})
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # YAML errors quote the line


def test_deploy_rejects_a_missing_handler_module(tmp_path: Path) -> None:
    (tmp_path / "faas.yaml").write_text("name: ok\nhandler: main.handle\n")
    result = faas("deploy", str(tmp_path))
    assert result.returncode == 1
    assert "handler: module main.py not found" in result.stderr


def test_commands_explain_an_unreachable_gateway() -> None:
    result = faas("list", env={"FAAS_GATEWAY": f"http://127.0.0.1:{free_port()}"})
    assert result.returncode == 1
    assert "does not answer" in result.stderr and "faas up" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_name_the_variable() -> None:
    result = faas("list", env={"FAAS_TRANSPORT": "pigeon"})
    assert result.returncode == 1
    assert "FAAS_TRANSPORT" in result.stderr and "Traceback" not in result.stderr


def test_up_is_idempotent_and_down_leaves_nothing(
    tmp_path: Path, base_image: str, redis_server: RedisServer, docker_backend: DockerBackend
) -> None:
    """The README's flow on an isolated home and ports: up, deploy, call, down, up again."""
    port = free_port()
    env = {
        "FAAS_HOME": str(tmp_path / "home"),
        "FAAS_GATEWAY": f"http://127.0.0.1:{port}",
        "FAAS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # loopback: faas starts it
        "FAAS_SOCKET_DIR": f"/tmp/faas-up-{port}",
        "FAAS_BASE_IMAGE": base_image,
    }
    try:
        first = faas("up", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        second = faas("up", env=env)
        assert second.returncode == 0 and "already running" in second.stdout
        assert faas("status", env=env).returncode == 0
        # `faas up` made the credentials, for this user only; the CLI uses them unasked.
        password_file = tmp_path / "home" / "admin-password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        secrets_key = tmp_path / "home" / "secrets-key"  # likewise the key of secret values
        assert stat.S_IMODE(secrets_key.stat().st_mode) == 0o600
        refused = httpx.get(f"http://127.0.0.1:{port}/system/functions")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="faas"'
        admin = ("admin", password_file.read_text().strip())
        assert httpx.get(f"http://127.0.0.1:{port}/system/functions", auth=admin).status_code == 200

        assert faas("deploy", "-q", str(REPO / "functions" / "hello"), env=env).returncode == 0
        cold = httpx.post(f"http://127.0.0.1:{port}/function/hello", content=b"world")
        warm = httpx.post(f"http://127.0.0.1:{port}/function/hello", content=b"world")
        assert cold.text == "Hello, world!\n"
        # deploy waited for a generic runtime of hello's shape: the first call is no cold start
        starts = (cold.headers["x-faas-start"], warm.headers["x-faas-start"])
        assert starts == ("prewarm", "warm")

        # network: true reaches the gateway from inside its container, but neither the control
        # plane nor the stack's Redis: functions are given no credentials for either
        netcheck = str(REPO / "tests" / "fixtures" / "functions" / "netcheck")
        assert faas("deploy", "-q", netcheck, env=env).returncode == 0
        redis_port = env["FAAS_REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
        reached = httpx.post(
            f"http://127.0.0.1:{port}/function/netcheck", content=redis_port, timeout=30
        ).json()
        environment = reached.pop("environment")
        assert reached == {
            "gateway": 200,
            "system": 401,
            "redis": "-NOAUTH Authentication required.",
        }
        assert "FAAS_REDIS_URL" not in environment
        assert environment["FAAS_GATEWAY_URL"].endswith(f":{port}")
        assert admin[1] not in json.dumps(environment)
    finally:
        down = faas("down", env=env)
    assert down.returncode == 0, down.stderr
    assert not docker_backend.list_managed({"faas.function": "hello"})
    assert faas("status", env=env).returncode == 1
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz")

    try:  # Redis kept its data (append-only file): the function is still registered
        assert faas("up", env=env).returncode == 0
        assert "hello" in faas("list", env=env).stdout
    finally:
        faas("down", env=env)
