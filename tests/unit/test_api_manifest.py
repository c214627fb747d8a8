"""The API-gateway fields of faas.yaml (faas.manifest.api), the key format and quota windows."""

from __future__ import annotations

import calendar
import hashlib
from pathlib import Path
from typing import Any

import pytest

from faas.errors import ManifestError, RequestInvalid
from faas.manifest.api import PERIODS
from faas.manifest.spec import load_manifest, parse_manifest
from faas.registry.api_keys import presented
from faas.registry.limits import windows

FULL: dict[str, Any] = {
    "name": "api",
    "auth": "api-key",
    "rate_limit": {"rate": "600/m", "burst": 20},
    "key_rate_limit": {"rate": 2},
    "quota": {"limit": 1000, "period": "month"},
    "cors": {"origins": ["https://App.example:8443"], "methods": ["get", "POST"], "max_age": 60},
    "request_schema": {"type": "object", "properties": {"n": {"$ref": "#/$defs/n"}},
                       "$defs": {"n": {"type": "integer"}}},
}  # fmt: skip


def test_every_field_parses_and_round_trips() -> None:
    spec = parse_manifest(FULL)
    api = spec.api
    assert api is not None and api.needs_key and api.uses_redis
    assert api.rate_limit is not None and api.rate_limit.per_second == 10.0
    assert api.rate_limit.rate == "600/m" and api.rate_limit.interval_ms == 100.0
    assert api.key_rate_limit is not None and api.key_rate_limit.burst == 2  # a second's worth
    assert api.cors is not None and api.cors.origins == ("https://app.example:8443",)
    assert api.cors.methods == ("GET", "POST")
    assert parse_manifest(spec.to_manifest()) == spec


def test_a_manifest_without_them_has_no_policy_and_renders_as_before() -> None:
    spec = parse_manifest({"name": "plain"})
    assert spec.api is None
    assert not {"auth", "cors", "rate_limit"} & spec.to_manifest().keys()
    assert parse_manifest({"name": "plain", "auth": "none"}).api is None
    cors_only = parse_manifest({"name": "x", "cors": {"origins": ["*"]}}).api
    assert cors_only is not None and not cors_only.uses_redis  # CORS needs no Redis


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"auth": "basic"}, "auth"),
        ({"rate_limit": "10/s"}, "rate_limit"),
        ({"rate_limit": {"burst": 3}}, "rate_limit.rate"),
        ({"rate_limit": {"rate": "10/fortnight"}}, "rate_limit.rate"),
        ({"rate_limit": {"rate": "0/s"}}, "rate_limit.rate"),
        ({"rate_limit": {"rate": "nan"}}, "rate_limit.rate"),
        ({"rate_limit": {"rate": True}}, "rate_limit.rate"),
        ({"rate_limit": {"rate": "1/s", "burst": 1.5}}, "rate_limit.burst"),
        ({"rate_limit": {"rate": "1/s", "every": 2}}, "rate_limit.every"),
        ({"key_rate_limit": {"rate": "1/s"}}, "key_rate_limit"),  # needs auth: api-key
        ({"quota": {"limit": 5}}, "quota"),
        ({"auth": "api-key", "quota": {"limit": 0}}, "quota.limit"),
        ({"auth": "api-key", "quota": {"limit": 5, "period": "year"}}, "quota.period"),
        ({"cors": {"methods": ["GET"]}}, "cors.origins"),
        ({"cors": {"origins": []}}, "cors.origins"),
        ({"cors": {"origins": ["https://a.example/path"]}}, "cors.origins"),
        ({"cors": {"origins": ["*", "https://a.example"]}}, "cors.origins"),
        ({"cors": {"origins": ["*"], "methods": ["BREW"]}}, "cors.methods"),
        ({"cors": {"origins": ["*"], "headers": ["bad header"]}}, "cors.headers"),
        ({"cors": {"origins": ["*"], "max_age": "2d"}}, "cors.max_age"),
        ({"cors": {"origins": ["*"], "max_age": "48h"}}, "cors.max_age"),
        ({"cors": {"origins": ["*"], "credentials": True}}, "cors.credentials"),
        ({"request_schema": "schema.json"}, "request_schema"),
        ({"request_schema": [1]}, "request_schema"),
        ({"request_schema": {"type": "integr"}}, "request_schema/type"),
        ({"request_schema": {"pattern": "("}}, "request_schema/pattern"),
        ({"request_schema": {"$ref": "https://example.com/s.json"}}, "request_schema/$ref"),
        ({"request_schema": {"$ref": "#/$defs/none"}}, "request_schema/$ref"),
        ({"request_schema": {"enum": ["x" * 70_000]}}, "request_schema"),
    ],
)
def test_bad_values_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"name": "x", **fields})
    assert caught.value.field == field, caught.value.message


def write(folder: Path, manifest: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "faas.yaml").write_text(manifest)
    (folder / "handler.py").write_text("def handle(event, context):\n    return 1\n")
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_request_schema_from_a_file_in_the_folder(tmp_path: Path) -> None:
    folder = write(tmp_path / "fn", "name: fn\nrequest_schema: schemas/in.yaml\n", {})
    (folder / "schemas").mkdir()
    (folder / "schemas" / "in.yaml").write_text("type: object\nrequired: [n]\n")
    spec = load_manifest(folder)
    assert spec.api is not None and spec.api.request_schema is not None
    assert spec.to_manifest()["request_schema"] == {"type": "object", "required": ["n"]}

    (tmp_path / "outside.json").write_text("{}")
    for name, says in [("../outside.json", "outside"), ("nope.json", "not found")]:
        write(folder, f"name: fn\nrequest_schema: {name}\n", {})
        with pytest.raises(ManifestError, match=says) as caught:
            load_manifest(folder)
        assert caught.value.field == "request_schema"
    write(folder, "name: fn\nrequest_schema: broken.json\n", {"broken.json": "{: ["})
    with pytest.raises(ManifestError, match="not JSON or YAML"):
        load_manifest(folder)


def test_schema_checks_report_a_json_pointer() -> None:
    spec = parse_manifest(FULL)
    assert spec.api is not None and spec.api.request_schema is not None
    check = spec.api.request_schema.check
    check("POST", b'{"n": 3}')
    check("GET", b"")  # nothing to check
    with pytest.raises(RequestInvalid) as caught:
        check("PUT", b'{"n": "three"}')
    assert caught.value.field == "/n" and caught.value.status == 400
    with pytest.raises(RequestInvalid, match="empty"):
        check("POST", b"")
    with pytest.raises(RequestInvalid, match="not valid JSON"):
        check("DELETE", b"NaN")
    long_value = b'{"n": "' + b"x" * 10_000 + b'"}'
    with pytest.raises(RequestInvalid) as caught:
        check("POST", long_value)
    assert len(caught.value.message) < 300  # the offending value is not echoed whole


def test_a_presented_key_is_parsed_without_redis() -> None:
    token = b"fk_0123456789ab_" + b"A" * 43
    key = presented(token)
    assert key is not None and key.id == "0123456789ab"
    assert key.digest == hashlib.sha256(token).hexdigest()
    assert presented(b" " + token + b" ") == key
    for bad in (b"", b"fk_0123456789ab_short", b"fk_0123456789AB_" + b"A" * 43, token + b"x"):
        assert presented(bad) is None


def test_quota_windows_are_utc_calendar_periods() -> None:
    now = calendar.timegm((2026, 12, 31, 23, 59, 30)) + 0.25  # a Thursday
    flat = windows(now)
    spans = dict(zip(PERIODS, zip(flat[::2], flat[1::2], strict=True), strict=True))
    assert spans["minute"][1] == calendar.timegm((2027, 1, 1, 0, 0, 0)) * 1000
    assert spans["hour"][1] == spans["day"][1] == spans["month"][1] == spans["minute"][1]
    assert spans["week"][1] == calendar.timegm((2027, 1, 4, 0, 0, 0)) * 1000  # next Monday
    assert spans["month"][0] == 2026 * 12 + 11
    later = dict(zip(PERIODS, windows(now + 30)[::2], strict=True))  # 2027-01-01, a Friday
    assert later["day"] == spans["day"][0] + 1 and later["month"] == spans["month"][0] + 1
    assert later["week"] == spans["week"][0]
