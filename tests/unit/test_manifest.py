from __future__ import annotations

from pathlib import Path

import pytest

from faas.errors import FunctionNotFound, ManifestError
from faas.manifest.spec import FunctionSpec, Scale, check_name, load_manifest, parse_manifest
from faas.units import format_duration, format_size, parse_duration, parse_size


def test_defaults_follow_the_design() -> None:
    spec = parse_manifest({"name": "hello"})
    assert spec == FunctionSpec(
        name="hello",
        handler="handler.handle",
        timeout=30.0,
        memory=128 * 2**20,
        cpus=0.5,
        concurrency=1,
        scale=Scale(0, 10),
        keep_alive=600.0,
        environment={},
        network=False,
        triggers=(),
    )


def test_every_field_parses() -> None:
    spec = parse_manifest(
        {
            "name": "vote",
            "handler": "app.main.handle",
            "timeout": "2m",
            "memory": "1Gi",
            "cpus": 2,
            "concurrency": 4,
            "scale": {"min": 1, "max": 3},
            "keep_alive": "90s",
            "environment": {"A": "x", "N": 3, "B": True},
            "network": True,
        }
    )
    assert (spec.timeout, spec.memory, spec.cpus, spec.keep_alive) == (120.0, 2**30, 2.0, 90.0)
    assert spec.scale == Scale(1, 3)
    assert spec.environment == {"A": "x", "N": "3", "B": "true"}
    assert spec.network is True


def test_to_manifest_round_trips() -> None:
    spec = parse_manifest({"name": "x", "timeout": "1500ms", "memory": "96Mi", "keep_alive": "1h"})
    assert parse_manifest(spec.to_manifest()) == spec
    assert spec.to_manifest()["timeout"] == "1500ms"


@pytest.mark.parametrize("name", ["a", "hello", "record-vote", "a1", "1a", "a" * 63])
def test_valid_names(name: str) -> None:
    assert parse_manifest({"name": name}).name == name


@pytest.mark.parametrize(
    "name", ["", "A", "hello_world", "-a", "a-", "a.b", "a b", "a" * 64, "é", 7, None, ["a"]]
)
def test_invalid_names_are_rejected_naming_the_field(name: object) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest({"name": name})
    assert info.value.field == "name"
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x", "timeout": "0s"}, "timeout"),
        ({"name": "x", "timeout": "2h"}, "timeout"),
        ({"name": "x", "timeout": True}, "timeout"),
        ({"name": "x", "memory": "1Mi"}, "memory"),
        ({"name": "x", "memory": "-5Mi"}, "memory"),
        ({"name": "x", "cpus": 0}, "cpus"),
        ({"name": "x", "cpus": "half"}, "cpus"),
        ({"name": "x", "concurrency": 0}, "concurrency"),
        ({"name": "x", "concurrency": 1.5}, "concurrency"),
        ({"name": "x", "scale": "big"}, "scale"),
        ({"name": "x", "scale": {"min": -1}}, "scale.min"),
        ({"name": "x", "scale": {"max": 0}}, "scale.max"),
        ({"name": "x", "scale": {"min": 5, "max": 2}}, "scale.min"),
        ({"name": "x", "scale": {"mini": 1}}, "scale.mini"),
        ({"name": "x", "keep_alive": "-1s"}, "keep_alive"),
        ({"name": "x", "environment": ["A=1"]}, "environment"),
        ({"name": "x", "environment": {"1A": "x"}}, "environment.1A"),
        ({"name": "x", "environment": {"A": {"b": 1}}}, "environment.A"),
        ({"name": "x", "environment": {"FAAS_SOCKET": "/x"}}, "environment.FAAS_SOCKET"),
        ({"name": "x", "network": "true"}, "network"),
        ({"name": "x", "handler": "handle"}, "handler"),
        ({"name": "x", "handler": "a.b-c"}, "handler"),
        ({"name": "x", "unknown": 1}, "unknown"),
    ],
)
def test_bad_values_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(data)
    assert info.value.field == field
    assert info.value.message.startswith(f"{field}: ")


def test_load_manifest_checks_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"faas\.yaml not found"):
        load_manifest(tmp_path)
    (tmp_path / "faas.yaml").write_text("name: x\n")
    with pytest.raises(ManifestError, match=r"handler: module handler\.py not found"):
        load_manifest(tmp_path)
    (tmp_path / "handler.py").write_text("def handle(e, c): pass\n")
    assert load_manifest(tmp_path).name == "x"
    (tmp_path / "faas.yaml").write_text("name: [x\n")
    with pytest.raises(ManifestError, match=r"not valid YAML: .* at line 2"):
        load_manifest(tmp_path)
    (tmp_path / "faas.yaml").write_text("")
    with pytest.raises(ManifestError, match="name: is required"):
        load_manifest(tmp_path)


def test_names_in_urls_that_cannot_exist_are_not_found() -> None:
    assert check_name("ok-1") == "ok-1"
    with pytest.raises(FunctionNotFound):
        check_name("Not_Valid")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("500ms", 0.5), ("10m", 600), ("1h", 3600), ("2", 2), (1.5, 1.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("128Mi", 128 * 2**20), ("1Gi", 2**30), ("64M", 64_000_000), ("512", 512), (4096, 4096)],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_formatting_is_exact() -> None:
    assert [format_duration(s) for s in (30, 600, 3600, 0.25, 90)] == [
        "30s",
        "10m",
        "1h",
        "250ms",
        "90s",
    ]
    assert [format_size(n) for n in (128 * 2**20, 2**30, 1500)] == ["128Mi", "1Gi", "1500"]
