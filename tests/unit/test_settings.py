from __future__ import annotations

from pathlib import Path

import pytest

from faas.errors import ConfigError
from faas.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({"HOME": "/home/u"})
    assert settings.gateway_url == "http://127.0.0.1:8080"
    assert settings.redis_url == "redis://127.0.0.1:16379/0"
    assert settings.transport == "unix"
    assert settings.max_body == 6 * 2**20


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "FAAS_BIND": "127.0.0.1, 172.18.0.1",
            "FAAS_PORT": "9000",
            "FAAS_MAX_BODY": "1Mi",
            "FAAS_READY_TIMEOUT": "5s",
            "FAAS_HOME": "/tmp/h",
            "FAAS_TRANSPORT": "tcp",
        }
    )
    assert settings.bind == ("127.0.0.1", "172.18.0.1")
    assert (settings.port, settings.max_body, settings.ready_timeout) == (9000, 2**20, 5.0)
    assert settings.sockets == Path("/tmp/h/sockets")


def test_ca_bundle_follows_the_hosts_settings() -> None:
    assert Settings.from_env({"PIP_CERT": "/a.pem"}).build_ca_bundle == "/a.pem"
    assert Settings.from_env({"SSL_CERT_FILE": "/b.pem"}).build_ca_bundle == "/b.pem"
    assert (
        Settings.from_env({"FAAS_BUILD_CA_BUNDLE": "/c", "PIP_CERT": "/a"}).build_ca_bundle == "/c"
    )


@pytest.mark.parametrize(
    ("env", "var"),
    [
        ({"FAAS_PORT": "http"}, "FAAS_PORT"),
        ({"FAAS_PORT": "70000"}, "FAAS_PORT"),
        ({"FAAS_MAX_BODY": "big"}, "FAAS_MAX_BODY"),
        ({"FAAS_READY_TIMEOUT": "0s"}, "FAAS_READY_TIMEOUT"),
        ({"FAAS_TRANSPORT": "carrier-pigeon"}, "FAAS_TRANSPORT"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], var: str) -> None:
    with pytest.raises(ConfigError, match=var):
        Settings.from_env(env)
