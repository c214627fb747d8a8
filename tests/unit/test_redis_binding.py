"""Data bindings (`redis: {keyspace: K}`), the embedded Redis's configuration and the retention
of finished calls: the rules as pure code, then through a gateway over the fake engine and the
test run's real, password-protected Redis (a bound function's instance is a local process that
connects to it as its own ACL user)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from faas import keys
from faas.credentials import ensure_secret_file
from faas.engines.base import ContainerConfig
from faas.errors import ConfigError, ManifestError, RedisUnavailable
from faas.manifest.spec import RedisBinding, parse_manifest
from faas.registry.access import masked, redis_password
from faas.registry.bindings import acl_rules, binding_url
from faas.registry.redis_errors import translated
from faas.settings import Settings
from faas.stack.redis_server import RedisConfig, run_in_container
from tests.unit.fake_gateway import Stack, run
from tests.unit.test_queue_fake import enqueue, settled


def test_a_binding_is_parsed_round_trips_and_needs_network() -> None:
    spec = parse_manifest({"name": "f", "network": True, "redis": {"keyspace": "votes"}})
    assert spec.redis == RedisBinding("votes") and spec.redis.prefix == "votes:"
    assert parse_manifest(spec.to_manifest()) == spec
    assert "redis" not in parse_manifest({"name": "g"}).to_manifest()


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"keyspace": "votes"}, "redis"),  # without network: true
        ("votes", "redis"),
        ({"keyspace": "faas"}, "redis.keyspace"),  # the platform's own keys
        ({"keyspace": "votes:*"}, "redis.keyspace"),  # a glob
        ({"keyspace": "a:b"}, "redis.keyspace"),
        ({"keyspace": ""}, "redis.keyspace"),
        ({"keyspace": "v", "password": "x"}, "redis.password"),
    ],
)
def test_bad_bindings_name_the_field(value: object, field: str) -> None:
    network = not (isinstance(value, dict) and value == {"keyspace": "votes"})
    with pytest.raises(ManifestError) as raised:
        parse_manifest({"name": "f", "network": network, "redis": value})
    assert raised.value.message.startswith(f"{field}: ")


def test_acl_rules_scope_keys_channels_and_commands() -> None:
    rules = acl_rules(RedisBinding("votes"), "pw")
    assert rules[:5] == ["reset", "on", ">pw", "~votes:*", "&votes:*"]
    assert rules.index("-@all") < rules.index("+@read") < rules.index("-@dangerous")
    assert {"-scan", "-randomkey", "-select"} <= set(rules)


def test_urls_carry_a_binding_user_and_never_show_a_password() -> None:
    url = binding_url("redis://:admin@172.18.0.1:16379", "fn-a", "p/w@")
    assert url == "redis://fn-a:p%2Fw%40@172.18.0.1:16379/0"
    assert masked("redis://:secret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert masked("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_the_embedded_redis_config_has_a_password_protected_mode_and_no_eviction() -> None:
    text = RedisConfig(16379, ["127.0.0.1", "172.18.0.1"], "s3cret", 256 * 2**20).render()
    lines = text.splitlines()
    assert 'requirepass "s3cret"' in lines and "protected-mode yes" in lines
    assert "maxmemory 268435456" in lines and "maxmemory-policy noeviction" in lines
    assert "dir ./" in lines and "bind 127.0.0.1 172.18.0.1" in lines


ATTACKS = [
    ["FLUSHALL"],
    ["CONFIG", "SET", "maxmemory", "1"],
    ["XADD", keys.CALLS, "*", "m", "x"],
    ["HGETALL", keys.FUNCTIONS],
    ["KEYS", "*"],
    ["ACL", "LIST"],
]


def test_a_bound_function_uses_its_keyspace_and_nothing_else(stack: Stack) -> None:
    admin = redis.Redis.from_url(stack.redis_url)
    port = urlsplit(stack.redis_url).port

    async def scenario() -> None:
        reachable = f"redis://127.0.0.1:{port}/0"
        async with stack.gateway(function_redis_url=reachable) as gw:
            refused = await gw.http.post(
                "/system/functions",
                json={
                    "manifest": {"name": "x", "redis": {"keyspace": "votes"}},
                    "image": "redis-probe:1",
                },
            )
            assert refused.status_code == 400 and "redis" in refused.json()["error"]["message"]
            await gw.register("redis-probe")
            assert keys.binding_user("redis-probe") in admin.acl_users()
            commands = [["SET", "votes:x", "1"], *ATTACKS]
            answer: dict[str, Any] = (
                await gw.call("redis-probe", body=json.dumps({"commands": commands}).encode())
            ).json()
            assert answer["bound"] and answer["prefix"] == "votes:"
            assert answer["replies"][0] == "+OK"
            assert all(r.startswith("-NOPERM") for r in answer["replies"][1:]), answer
            assert admin.hlen(keys.FUNCTIONS) == 1
            assert (await gw.http.delete("/system/function/redis-probe")).status_code < 300
            assert keys.binding_user("redis-probe") not in admin.acl_users()
            assert not admin.hexists(keys.BINDING_PASSWORDS, "redis-probe")

    try:
        run(scenario)
    finally:
        admin.close()


def test_only_the_newest_finished_calls_are_kept(stack: Stack) -> None:
    """FAAS_ASYNC_RESULT_MAX: after N + k finished calls only N records remain, oldest gone."""

    async def scenario() -> list[str]:
        async with stack.gateway(async_result_max=3) as gw:
            await gw.register("echo")
            ids = []
            for _ in range(5):
                call_id = await enqueue(gw, "echo")
                assert (await settled(gw, call_id))["status"] == "succeeded"
                ids.append(call_id)
            return ids

    ids = run(scenario)
    with redis.Redis.from_url(stack.redis_url) as admin:
        kept = [bool(admin.exists(keys.call_record(call_id))) for call_id in ids]
        assert kept == [False, False, True, True, True]
        assert admin.zcard(keys.CALLS_FINISHED) == 3


def test_a_full_redis_is_a_503_that_says_what_to_raise() -> None:
    async def write() -> None:
        async with translated("queue the call"):
            raise redis.exceptions.ResponseError(
                "OOM command not allowed when used memory > 'maxmemory'."
            )

    with pytest.raises(RedisUnavailable, match="FAAS_REDIS_MAXMEMORY"):
        asyncio.run(write())


def test_memory_and_retention_settings() -> None:
    settings = Settings.from_env({"FAAS_REDIS_MAXMEMORY": "1Gi", "FAAS_ASYNC_RESULT_MAX": "5"})
    assert settings.redis_maxmemory == 2**30 and settings.async_result_max == 5
    with pytest.raises(ConfigError, match="FAAS_ASYNC_RESULT_MAX"):
        Settings.from_env({"FAAS_ASYNC_RESULT_MAX": "0"})


def test_the_container_variant_gets_its_password_from_a_mounted_file(tmp_path: Path) -> None:
    class Backend:
        def remove_by_name(self, name: str) -> None:
            pass

        def run_container(self, config: ContainerConfig) -> str:
            self.config = config
            return "id"

    backend = Backend()
    config = RedisConfig(16379, ["127.0.0.1"], "s3cret", 256 * 2**20, daemon=False)
    run_in_container(backend, config, tmp_path, "redis:7-alpine", "faas")  # type: ignore[arg-type]
    started = backend.config
    assert "s3cret" not in " ".join(started.command) and "s3cret" not in str(started.environment)
    ((host, inside),) = started.binds.items()
    assert started.command == ("redis-server", inside)
    assert 'requirepass "s3cret"' in Path(host).read_text()
    assert stat.S_IMODE(Path(host).parent.stat().st_mode) == 0o700
    assert started.ports == {6379: [("127.0.0.1", 16379)]}


def test_the_platform_password_comes_from_the_url_or_a_private_file(tmp_path: Path) -> None:
    created = ensure_secret_file(tmp_path / "redis-password")
    assert stat.S_IMODE((tmp_path / "redis-password").stat().st_mode) == 0o600
    assert ensure_secret_file(tmp_path / "redis-password") == created  # made once
    plain = Settings(home=tmp_path, redis_url="redis://127.0.0.1:1/0")
    assert redis_password(plain) == created
    in_url = Settings(home=tmp_path, redis_url="redis://:inline@127.0.0.1:1/0")
    assert redis_password(in_url) is None  # the URL's own wins
    assert redis_password(Settings(home=tmp_path / "none")) is None
    missing = Settings(home=tmp_path, redis_password_file=tmp_path / "nope")
    with pytest.raises(ConfigError, match="FAAS_REDIS_PASSWORD_FILE"):
        redis_password(missing)
