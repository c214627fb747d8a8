"""`lang: node` without Docker: the manifest, the image's build context, the base image's
packages, and the generic pool leaving Node functions alone (the runtime itself runs in
tests/integration/test_node.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from faas import keys
from faas.build import bootstrap
from faas.build.node_image import NODE_RUNTIME_PATH, build_node_image
from faas.errors import BuildError, ManifestError
from faas.manifest.spec import load_manifest, parse_manifest
from faas.settings import Settings
from tests.unit.test_builder import FakeDocker
from tests.unit.test_generic_pool import NO_DEPS, function, ready_pool


@pytest.fixture
def node_folder(tmp_path: Path) -> Path:
    (tmp_path / "faas.yaml").write_text("name: n\nlang: node\n")
    (tmp_path / "handler.js").write_text("exports.handle = () => 'hi';\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.js").write_text("exports.x = 1;\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "junk.js").write_text("")
    return tmp_path


def test_lang_node_needs_a_js_handler_module(node_folder: Path) -> None:
    assert load_manifest(node_folder).lang == "node"
    (node_folder / "handler.js").rename(node_folder / "handler.mjs")
    assert load_manifest(node_folder).handler == "handler.handle"  # an ES module is found too
    (node_folder / "handler.mjs").unlink()
    (node_folder / "handler.py").write_text("def handle(e, c): pass\n")
    with pytest.raises(ManifestError, match=r"handler: module handler\.js not found"):
        load_manifest(node_folder)


def test_lang_node_runs_on_the_native_contract_only() -> None:
    with pytest.raises(ManifestError, match=r"lang: .*native contract only"):
        parse_manifest({"name": "n", "lang": "node", "contract": "lambda"})
    with pytest.raises(ManifestError, match="must be one of python, python3-http, image, node"):
        parse_manifest({"name": "n", "lang": "ruby"})


def test_the_image_holds_the_runtime_and_the_code_and_starts_node(node_folder: Path) -> None:
    docker = FakeDocker()
    built = build_node_image(docker, node_folder, "n", base_image="base:1")
    assert built.built and built.tag.startswith("faas/function:")
    ((tag, files),) = docker.builds
    assert set(files) == {"Dockerfile", "runtime.js", "function/handler.js", "function/lib/util.js"}
    dockerfile = files["Dockerfile"].decode()
    assert "FROM base:1" in dockerfile and "USER 10001:10001" in dockerfile
    assert f'CMD ["node", "{NODE_RUNTIME_PATH}"]' in dockerfile
    assert docker.labels[tag][keys.LABEL_BASE_IMAGE] == "sha256:base"
    assert docker.labels[tag][keys.LABEL_DEPS] == "false"
    again = build_node_image(docker, node_folder, "n", base_image="base:1")
    assert again.tag == built.tag and not again.built  # unchanged: not rebuilt
    (node_folder / "handler.js").write_text("exports.handle = () => 'changed';\n")
    assert build_node_image(docker, node_folder, "n", base_image="base:1").tag != built.tag


def test_npm_dependencies_are_refused_before_building(node_folder: Path) -> None:
    (node_folder / "package.json").write_text(json.dumps({"type": "module"}))
    build_node_image(FakeDocker(), node_folder, "n", base_image="base:1")  # no dependencies
    (node_folder / "package.json").write_text(json.dumps({"dependencies": {"left-pad": "1"}}))
    docker = FakeDocker()
    with pytest.raises(BuildError, match=r"npm dependencies \(left-pad\) are not supported"):
        build_node_image(docker, node_folder, "n", base_image="base:1")
    assert docker.builds == []


def test_a_missing_node_base_image_names_the_bootstrap_command(node_folder: Path) -> None:
    class Unpullable(FakeDocker):
        def build_image(self, *args: object, **kwargs: object) -> str:
            raise BuildError("pull access denied for node")

    with pytest.raises(BuildError, match=r"faas images bootstrap-node(.|\n)*FAAS_NODE_BASE_IMAGE"):
        build_node_image(Unpullable(base_id=None), node_folder, "n", base_image="node:18")


def test_the_node_base_image_is_debians_nodejs_by_mmdebstrap() -> None:
    command = bootstrap.mmdebstrap_command(
        "bookworm", Path("/t.tar"), packages=bootstrap.NODE_PACKAGES
    )
    assert "--include=nodejs,ca-certificates" in command
    assert 'CMD ["node"]' in bootstrap.NODE_CHANGES
    assert Settings.from_env({}).node_base_image == "node:18-bookworm-slim"
    assert Settings.from_env({"FAAS_NODE_BASE_IMAGE": "mine:1"}).node_base_image == "mine:1"


def test_the_generic_pool_never_takes_a_node_function() -> None:
    async def scenario() -> None:
        node = function("n", "img:n", lang="node", memory="64Mi")
        generic, containers = await ready_pool({"img:n": NO_DEPS}, [node])
        assert containers.started == []  # no spare for its shape
        assert generic.take(node.spec, "img:n") is None

    asyncio.run(scenario())
