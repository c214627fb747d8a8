"""Secrets over the fake engine and a real Redis: the OpenFaaS-shaped API, values sealed in
Redis and never in a response, files in the instances that name them, retired on change."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import httpx
import pytest
import redis

from faas import keys
from faas.errors import ConfigError, ManifestError
from faas.manifest.spec import parse_manifest
from faas.pool.secret_files import MOUNT_POINTS
from faas.secret_box import SecretBox, ensure_key
from tests.unit.fake_gateway import FakeGateway, Stack, run, until

VALUE = "s3cr3t-value-7f1c"  # must never appear in any response
NEW_VALUE = "n3w-value-91ad"


async def _create(gw: FakeGateway, name: str, value: str = VALUE) -> None:
    response = await gw.http.post("/system/secrets", json={"name": name, "value": value})
    assert response.status_code == 201, response.text
    assert VALUE not in response.text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _file(stack: Stack, container_id: str, inner: str, name: str) -> Path:
    folder = stack.engine.host_path(container_id, inner)
    assert folder is not None and folder != Path(inner), f"{inner} is not mounted"
    return folder / name


def test_api_names_only_and_statuses(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            assert (await gw.http.get("/system/secrets")).json() == []
            await _create(gw, "db-password")
            raw = base64.b64encode(b"\x00\xffbin").decode()
            created = await gw.http.post("/system/secrets", json={"name": "blob", "rawValue": raw})
            assert created.status_code == 201, created.text
            listed = await gw.http.get("/system/secrets")
            assert listed.json() == [{"name": "blob"}, {"name": "db-password"}]

            again = await gw.http.post("/system/secrets", json={"name": "blob", "value": "x"})
            assert again.status_code == 409 and again.json()["error"]["code"] == "secret_exists"
            body = {"name": "db-password", "value": NEW_VALUE}
            assert (await gw.http.put("/system/secrets", json=body)).status_code == 200
            nothing = {"name": "nope", "value": "x"}
            assert (await gw.http.put("/system/secrets", json=nothing)).status_code == 404
            removed = await gw.http.request("DELETE", "/system/secrets", json={"name": "blob"})
            assert removed.status_code == 200
            gone = await gw.http.request("DELETE", "/system/secrets", json={"name": "blob"})
            assert gone.status_code == 404 and "blob" in gone.json()["error"]["message"]
            assert (await gw.http.get("/system/secrets")).json() == [{"name": "db-password"}]
            for response in (created, again, listed, removed):
                assert VALUE not in response.text and NEW_VALUE not in response.text

    run(scenario)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "../etc/passwd", "value": "x"}, "name"),
        ({"name": "a/b", "value": "x"}, "name"),
        ({"name": "ok\n", "value": "x"}, "name"),
        ({"name": ".hidden", "value": "x"}, "name"),
        ({"name": "", "value": "x"}, "name"),
        ({"name": 7, "value": "x"}, "name"),
        ({"name": "a" * 65, "value": "x"}, "name"),
        ({"name": "ok"}, "value"),
        ({"name": "ok", "value": ""}, "value"),
        ({"name": "ok", "value": 12}, "value"),
        ({"name": "ok", "value": "\ud800"}, "value"),
        ({"name": "ok", "value": "x" * (512 * 1024 + 1)}, "value"),
        ({"name": "ok", "rawValue": "not base64!"}, "rawValue"),
        ({"name": "ok", "value": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_secrets_are_400_naming_the_field(
    stack: Stack, body: dict[str, object], field: str
) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            # As text with \u escapes: the lone surrogate is only expressible that way.
            response = await gw.http.post("/system/secrets", content=json.dumps(body))
            assert response.status_code == 400, response.text
            assert response.json()["error"]["message"].startswith(f"{field}: ")
            assert (await gw.http.post("/system/secrets", content=b"[1")).status_code == 400

    run(scenario)


def test_values_are_sealed_in_redis_with_a_private_key_file(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await _create(gw, "db-password")

    run(scenario)
    key_file = stack.home / "secrets-key"
    assert _mode(key_file) == 0o600
    stored = redis.Redis.from_url(stack.redis_url).hget(keys.SECRETS, "db-password")
    assert stored is not None and VALUE.encode() not in stored
    box = SecretBox([key_file.read_bytes().strip()])
    assert box.open(stored) == VALUE.encode()
    assert ensure_key(stack.settings()).open(stored) == VALUE.encode()  # the same key, kept


def test_instances_get_read_only_files_at_both_paths(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await _create(gw, "db-password")
            missing = await gw.http.post(
                "/system/functions",
                json={
                    "manifest": {"name": "echo", "secrets": ["db-password", "api-token"]},
                    "image": "echo:1",
                },
            )
            assert missing.status_code == 400, missing.text
            assert missing.json()["error"]["message"].startswith("secrets[1]: ")
            assert "api-token" in missing.json()["error"]["message"]

            await gw.register("echo", secrets=["db-password"], environment={"TOKEN": VALUE})
            assert (await gw.call("echo")).status_code == 200
            [container] = await gw.container_ids("echo")
            for inner in MOUNT_POINTS:
                path = _file(stack, container, inner, "db-password")
                assert path.read_text() == VALUE
                assert _mode(path) == 0o444 and _mode(path.parent) == 0o555
            root = stack.home / "secret-mounts"
            assert _mode(root) == 0o700
            assert [p.name.split(".")[0] for p in root.iterdir()] == [gw.gateway_id]

            described = await gw.http.get("/system/function/echo")
            assert described.json()["config"]["environment"] == {"TOKEN": "****"}
            assert described.json()["config"]["secrets"] == ["db-password"]
            listed = await gw.http.get("/system/functions")
            logs = await gw.http.get("/system/logs/echo")
            for response in (described, listed, logs):
                assert VALUE not in response.text

            # Removing the container removes its files.
            await gw.pool("echo", "drain")
            await until(lambda: not any(root.iterdir()), what="the folder to go")

            # The gateway's stop removes what is left.
            assert (await gw.call("echo")).status_code == 200
            assert any(root.iterdir())
        assert not any(root.iterdir())

    run(scenario)


def test_updated_secret_retires_warm_instances_on_every_gateway(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as one, stack.gateway() as two:
            await _create(one, "db-password")
            await one.register("echo", secrets=["db-password"])
            for gw in (one, two):
                assert (await gw.call("echo")).headers["x-faas-start"] == "cold"
                assert (await gw.call("echo")).headers["x-faas-start"] == "warm"
            [old_two] = await two.container_ids("echo")

            body = {"name": "db-password", "value": NEW_VALUE}
            assert (await one.http.put("/system/secrets", json=body)).status_code == 200
            # The gateway that took the update retires its own at once, the other within ~1s.
            assert (await one.call("echo")).headers["x-faas-start"] == "cold"
            await until(lambda: stack.engine.host_path(old_two, "/x") is None, 5, "retired")
            assert (await two.call("echo")).headers["x-faas-start"] == "cold"
            for gw in (one, two):
                [container] = await gw.container_ids("echo")
                assert _file(stack, container, "/run/secrets", "db-password").read_text() == (
                    NEW_VALUE
                )

    run(scenario)


def test_a_secret_in_use_is_not_removed_and_a_missing_one_fails_starts(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await _create(gw, "db-password")
            await gw.register("echo", secrets=["db-password"])
            removal = {"name": "db-password"}
            refused = await gw.http.request("DELETE", "/system/secrets", json=removal)
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "secret_in_use"
            assert "echo" in refused.json()["error"]["message"]
            # Removed behind the API's back (a race with a deploy): starts fail, naming it.
            redis.Redis.from_url(stack.redis_url).hdel(keys.SECRETS, "db-password")
            response = await gw.call("echo")
            assert response.status_code == 502
            assert "db-password" in response.json()["error"]["message"]

    run(scenario)


def test_functions_with_secrets_are_not_served_by_generic_runtimes(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            await _create(gw, "db-password")
            await gw.register("echo", secrets=["db-password"])
            generic = (await gw.describe("echo"))["generic"]
            assert not generic["eligible"] and "secrets" in generic["reason"]
            assert (await gw.call("echo")).headers["x-faas-start"] == "cold"
            [container] = await gw.container_ids("echo")
            assert _file(stack, container, "/run/secrets", "db-password").read_text() == VALUE

    run(scenario)


def test_manifest_secrets_field() -> None:
    assert parse_manifest({"name": "f", "secrets": ["a", "b.c"]}).secrets == ("a", "b.c")
    assert parse_manifest({"name": "f"}).to_manifest()["secrets"] == []
    for bad, field in (("a", "secrets"), (["../x"], "secrets[0]"), (["a", "a"], "secrets[1]")):
        with pytest.raises(ManifestError) as caught:
            parse_manifest({"name": "f", "secrets": bad})
        assert caught.value.field == field
    spec = parse_manifest({"name": "f", "secrets": ["a"]})
    assert parse_manifest(json.loads(json.dumps(spec.to_manifest()))) == spec


def test_cli_sends_values_from_each_source_and_never_prints_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from faas.cli import group
    from faas.cli.main import cli
    from faas.client import GatewayClient

    sent: list[tuple[str, dict[str, str]]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=[{"name": "db-password"}])
        sent.append((request.method, json.loads(request.content)))
        return httpx.Response(201 if request.method == "POST" else 200, json={"name": "x"})

    def client(url: str, timeout: float = 60.0, settings: object = None) -> GatewayClient:
        return GatewayClient(url, transport=httpx.MockTransport(gateway), settings=settings)  # type: ignore[arg-type]

    monkeypatch.setattr(group, "GatewayClient", client)
    binary = tmp_path / "blob"
    binary.write_bytes(b"\xff\x00" + VALUE.encode())
    runner = CliRunner(env={"FAAS_HOME": str(tmp_path), "FAAS_ADMIN_PASSWORD": "pw"})
    outputs = [
        runner.invoke(cli, ["secret", "create", "a", "--from-literal", VALUE]),
        runner.invoke(cli, ["secret", "create", "b"], input=VALUE + "\n"),
        runner.invoke(cli, ["secret", "update", "c", "--from-file", str(binary)]),
        runner.invoke(cli, ["secret", "remove", "a"]),
        runner.invoke(cli, ["secret", "list"]),
    ]
    for done in outputs:
        assert done.exit_code == 0, done.output
        assert VALUE not in done.output
    assert outputs[-1].output == "db-password\n"
    assert sent == [
        ("POST", {"name": "a", "value": VALUE}),
        ("POST", {"name": "b", "value": VALUE}),  # stdin's trailing newline dropped
        ("PUT", {"name": "c", "rawValue": base64.b64encode(binary.read_bytes()).decode()}),
        ("DELETE", {"name": "a"}),
    ]
    both = runner.invoke(
        cli, ["secret", "create", "a", "--from-literal", "x", "--from-file", str(binary)]
    )
    assert both.exit_code != 0
    empty = runner.invoke(cli, ["secret", "create", "a"], input="")
    assert "empty" in str(empty.exception)  # main() prints it as one line, exit status 1


def test_key_rotation_decrypts_with_old_keys_and_seals_with_the_first() -> None:
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed_before = SecretBox([old]).seal(b"v")
    rotated = SecretBox([new, old])
    assert rotated.open(sealed_before) == b"v"
    assert SecretBox([new]).open(rotated.seal(b"v")) == b"v"
    with pytest.raises(ConfigError, match="FAAS_SECRETS_KEY_FILE"):
        SecretBox([new]).open(sealed_before)
    with pytest.raises(ConfigError):
        SecretBox([b"not a key"])


def test_sweep_removes_only_dead_gateways_folders(tmp_path: Path) -> None:
    from faas.pool.secret_files import SecretFiles

    async def scenario() -> None:
        mine = SecretFiles(tmp_path / "mounts", "aaaa", None)
        dead = SecretFiles(tmp_path / "mounts", "dead", None)
        live = SecretFiles(tmp_path / "mounts", "live", None)
        folders = [files._write({"s": b"v"}) for files in (mine, dead, live)]

        async def alive(gateway: str) -> bool:
            return gateway == "live"

        assert await mine.sweep(alive) == 1
        assert [f.exists() for f in folders] == [True, False, True]
        mine.close()  # only what it owns: nothing registered with `own`
        assert folders[0].exists()
        mine.own("c1", folders[0])
        mine.release("c1")
        assert not folders[0].exists()

    run(scenario)


def test_retire_drains_but_never_discards_an_instance_being_created() -> None:
    from faas.pool.policy import FunctionPool, Instance, State
    from faas.pool.secret_files import SecretFiles, SecretWatch

    spec = parse_manifest({"name": "f", "secrets": ["db"]})
    pool = FunctionPool(spec, "f:1")
    other = FunctionPool(parse_manifest({"name": "g", "secrets": ["api"]}), "g:1")
    creating, idle = pool.reserve(0.0), pool.reserve(0.0)
    pool.ready(idle, 0.0)
    untouched = other.reserve(0.0)
    other.ready(untouched, 0.0)
    discarded: list[Instance] = []

    class Feed:
        async def values(self, names: tuple[str, ...]) -> dict[str, bytes]:
            return {}

        async def changes(self, since: int) -> tuple[int, list[str]]:
            return since + 1, ["db"]

    async def alive(gateway: str) -> bool:
        return True

    watch = SecretWatch(
        Feed(),
        SecretFiles(Path("/nonexistent"), "gw", None),
        lambda: [pool, other],
        lambda _pool, instance: discarded.append(instance),
        alive,
    )

    async def scenario() -> None:
        await watch.round()  # the first round only learns the revision
        assert discarded == []
        await watch.round()

    run(scenario)
    assert discarded == [idle]
    assert creating.state is State.DRAINING and idle.state is State.DRAINING
    assert untouched.state is State.READY  # names another secret


def test_unwritable_mount_folder_is_an_init_error_naming_the_setting(tmp_path: Path) -> None:
    from faas.errors import FunctionInitError
    from faas.pool.secret_files import SecretFiles

    class Store:
        async def values(self, names: tuple[str, ...]) -> dict[str, bytes]:
            return {"db": b"v"}

        async def changes(self, since: int) -> tuple[int, list[str]]:
            return 0, []

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    files = SecretFiles(blocker / "mounts", "gw", Store())
    spec = parse_manifest({"name": "f", "secrets": ["db"]})
    with pytest.raises(FunctionInitError, match="FAAS_SECRET_MOUNT_DIR"):
        run(lambda: files.prepare(spec))
