"""OpenFaaS stack files (faas/manifest/stack_yml.py): what they become, and clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from faas.errors import ManifestError
from faas.manifest.stack_yml import find_stack_file, load_stack, substitute

FIXTURE = Path(__file__).parent.parent / "fixtures" / "openfaas"


def test_fixture_stack_becomes_a_faas_manifest() -> None:
    stack = load_stack(FIXTURE / "stack.yml", environ={"FAAS_TEST_GATEWAY": "http://gw:9"})
    assert stack.gateway == "http://gw:9"
    (function,) = stack.functions
    spec = function.spec
    assert spec.name == "hello-http" and spec.lang == "python3-http"
    assert spec.handler == "handler.handle"
    assert function.folder == (FIXTURE / "hello-http").resolve()
    # environment_file first, the stack's environment over it (faas-cli's order).
    assert dict(spec.environment) == {"FROM_FILE": "yes", "GREETING_STYLE": "plain"}
    assert (spec.scale.min, spec.scale.max) == (1, 3)
    assert spec.memory == 64 * 2**20 and spec.cpus == 0.25
    assert spec.annotations == {"topic": "greetings"}
    assert spec.labels["com.openfaas.scale.max"] == "3"
    assert any("requests" in note for note in function.notes)
    manifest = spec.to_manifest()
    assert manifest["lang"] == "python3-http" and manifest["labels"]["com.openfaas.scale.min"]


def test_defaults_and_folder_lookup(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "s")
    assert find_stack_file(tmp_path / "s") == tmp_path / "s" / "stack.yml"
    assert load_stack(tmp_path / "s" / "stack.yml", environ={}).gateway == "http://127.0.0.1:8080"
    assert substitute("${A:-x} ${B} ${C-y}", {"B": "b"}) == "x b y"


def _write(tmp_path: Path, function: str) -> Path:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "handler.py").write_text("def handle(e, c):\n    return 1\n")
    path = tmp_path / "stack.yml"
    path.write_text(f"version: 1.0\nprovider:\n  name: openfaas\nfunctions:\n  fn:\n{function}")
    return path


@pytest.mark.parametrize(
    ("function", "field", "words"),
    [
        ("    lang: dockerfile\n    handler: ./fn\n", "functions.fn.handler", "no Dockerfile"),
        ("    lang: node18\n    handler: ./fn\n", "functions.fn.lang", "dockerfile functions"),
        ("    lang: python3-http\n", "functions.fn.handler", "required"),
        ("    lang: python3-http\n    handler: ./nope\n", "functions.fn.handler", "not a folder"),
        (
            "    lang: python3-http\n    handler: ./fn\n    limits: {memory: lots}\n",
            "functions.fn.limits.memory",
            "128Mi",
        ),
        (
            "    lang: python3-http\n    handler: ./fn\n    environment: {FAAS_X: 1}\n",
            "functions.fn.environment.FAAS_X",
            "reserved",
        ),
        (
            "    lang: python3-http\n    handler: ./fn\n    hanlder: typo\n",
            "functions.fn.hanlder",
            "unknown field",
        ),
        (
            "    lang: python3-http\n    handler: ./fn\n    environment_file: [nope.yml]\n",
            "functions.fn.environment_file[0]",
            "cannot read",
        ),
    ],
)
def test_errors_name_the_file_and_field(
    tmp_path: Path, function: str, field: str, words: str
) -> None:
    path = _write(tmp_path, function)
    with pytest.raises(ManifestError) as caught:
        load_stack(path, environ={})
    assert caught.value.field == field
    assert str(path) in caught.value.message and words in caught.value.message


def test_dockerfile_function_is_an_http_image_of_its_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, "    lang: dockerfile\n    handler: ./fn\n    image: me/fn:1\n")
    (tmp_path / "fn" / "Dockerfile").write_text("FROM scratch\n")
    spec = load_stack(path, environ={}).functions[0].spec
    assert (spec.contract, spec.port, spec.image) == ("http", 8080, "")  # faas tags its own
    assert spec.readonly_root_filesystem is True and not spec.on_runtime
    relaxed = path.read_text() + "    readonly_root_filesystem: false\n"
    path.write_text(relaxed)
    function = load_stack(path, environ={}).functions[0]
    assert function.spec.readonly_root_filesystem is False and function.notes == ()
    # fprocess is the watchdog's command, set where OpenFaaS's providers set it.
    path.write_text(relaxed + "    fprocess: sha512sum\n    skip_build: true\n")
    function = load_stack(path, environ={}).functions[0]
    assert function.spec.environment["fprocess"] == "sha512sum"
    assert function.notes == ("functions.fn.skip_build: ignored by faas",)
    path.write_text(relaxed.replace("false", "1"))
    with pytest.raises(ManifestError) as caught:
        load_stack(path, environ={})
    assert caught.value.field == "functions.fn.readonly_root_filesystem"


def test_bad_top_level(tmp_path: Path) -> None:
    path = tmp_path / "stack.yml"
    for text, field in (
        ("version: 2.0\nfunctions: {a: {}}\n", "version"),
        ("functions: {}\n", "functions"),
        ("provider: {gateway: nope}\nfunctions: {a: {}}\n", "provider.gateway"),
    ):
        path.write_text(text)
        with pytest.raises(ManifestError) as caught:
            load_stack(path, environ={})
        assert caught.value.field == field
