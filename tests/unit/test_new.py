"""`faas new NAME --lang L`: each template makes a valid function folder whose own unit test
passes as it is (Python ones here; the Node one and the deploys in tests/integration)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from faas.cli.main import cli
from faas.cli.new import LANGS
from faas.manifest.spec import load_manifest

FILES = {
    "python": {"faas.yaml", "handler.py", "test_handler.py"},
    "python-lambda": {"faas.yaml", "handler.py", "test_handler.py"},
    "node": {"faas.yaml", "handler.js", "handler.test.js"},
    "dockerfile": {"faas.yaml", "Dockerfile", "server.py", "test_server.py"},
}


def new(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"FAAS_HOME": str(tmp_path / "home"), "FAAS_BASE_IMAGE": "local-base:1"}
    result = CliRunner().invoke(cli, ["new", *args, "--dir", str(tmp_path)], env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize("lang", LANGS)
def test_each_template_makes_a_valid_function_folder(tmp_path: Path, lang: str) -> None:
    code, output = new(tmp_path, f"my-{lang}", "--lang", lang)
    assert code == 0, output
    folder = tmp_path / f"my-{lang}"
    assert {p.name for p in folder.iterdir()} == FILES[lang]
    spec = load_manifest(folder)
    assert spec.name == f"my-{lang}"
    assert {"python-lambda": spec.contract == "lambda", "node": spec.lang == "node"}.get(lang, True)
    assert not any("{{" in p.read_text() for p in folder.iterdir())
    assert f"faas deploy {folder}" in output


@pytest.mark.parametrize("lang", ["python", "python-lambda", "dockerfile"])
def test_the_python_templates_own_tests_pass(tmp_path: Path, lang: str) -> None:
    assert new(tmp_path, "fn", "--lang", lang)[0] == 0
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path / "fn",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_the_dockerfile_starts_from_the_base_image_in_use(tmp_path: Path) -> None:
    assert new(tmp_path, "img", "--lang", "dockerfile")[0] == 0
    assert "FROM local-base:1\n" in (tmp_path / "img" / "Dockerfile").read_text()


def test_a_bad_name_or_an_existing_folder_is_refused(tmp_path: Path) -> None:
    code, output = new(tmp_path, "Bad_Name")
    assert code == 2 and "NAME" in output and "lowercase letters" in output
    assert not (tmp_path / "Bad_Name").exists()
    assert new(tmp_path, "taken")[0] == 0
    code, output = new(tmp_path, "taken", "--lang", "node")
    assert code == 1 and "already exists" in output
    assert (tmp_path / "taken" / "handler.py").is_file()  # left as it was
