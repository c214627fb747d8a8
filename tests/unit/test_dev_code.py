"""Code pushed by `faas dev` over the fake engine: served by a generic runtime at the next call
(never by a container with the old code, nor the image), dropped by a deploy or a DELETE, and
refused with a reason for functions generic runtimes cannot serve."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from faas import keys
from faas.build.dev_bundle import folder_code, from_json, to_json
from faas.errors import BadRequest
from tests.unit.fake_gateway import BASE_ID, FIXTURES, FakeGateway, Stack, run, until

HANDLER = 'def handle(event, context):\n    return "version %d"\n'


def push(version: int) -> dict[str, object]:
    data = base64.b64encode((HANDLER % version).encode()).decode()
    return {"files": [{"path": "handler.py", "data": data}]}


async def spare_ready(gw: FakeGateway, name: str) -> bool:
    return int((await gw.describe(name))["generic"]["spares"]) > 0


def test_pushed_code_serves_the_next_call_and_a_deploy_ends_it(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            await gw.register("echo")
            await until(lambda: spare_ready(gw, "echo"), what="a spare")
            assert (await gw.call("echo")).json()["function"] == "echo"  # the image's code
            await gw.until_counts("echo", {"ready": 1})

            pushed = await gw.http.put("/system/function/echo/code", json=push(1))
            assert pushed.status_code == 200, pushed.text
            assert pushed.json()["files"] == 1
            assert (await gw.describe("echo"))["generic"]["dev"]["code_hash"]
            first = await gw.call("echo")
            assert first.text == "version 1"  # the warm container with old code is retired

            # No spare left (the pool refills at a tick): started for it, never the image.
            await gw.http.put("/system/function/echo/code", json=push(2))
            again = await gw.call("echo", x_faas_force="cold")
            assert again.text == "version 2" and again.headers["x-faas-start"] == "cold"
            assert (await gw.call("echo")).text == "version 2"  # warm now

            dropped = await gw.http.delete("/system/function/echo/code")
            assert dropped.json() == {"name": "echo", "dropped": True}
            assert (await gw.call("echo")).json()["function"] == "echo"

            await gw.http.put("/system/function/echo/code", json=push(3))
            await gw.register("echo", timeout="5s")  # deployed again: the image wins
            assert "dev" not in (await gw.describe("echo"))["generic"]
            assert (await gw.call("echo")).json()["function"] == "echo"

    run(scenario)


def test_containers_kept_ready_by_scale_min_hold_the_pushed_code(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            await gw.register("echo", scale={"min": 1, "max": 3})
            await gw.until_counts("echo", {"ready": 1})
            await until(lambda: spare_ready(gw, "echo"), what="a spare")
            pushed = await gw.http.put("/system/function/echo/code", json=push(7))
            assert pushed.status_code == 200, pushed.text
            # The retired one is replaced at a tick, by a generic container loaded with it.
            await gw.until_counts("echo", {"ready": 1})
            answer = await gw.call("echo")
            assert answer.text == "version 7"
            assert answer.headers["x-faas-start"] in ("prewarm", "warm")

    run(scenario)


def test_functions_generic_runtimes_cannot_serve_are_refused_with_the_reason(
    stack: Stack,
) -> None:
    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            labels = {keys.LABEL_DEPS: "true", keys.LABEL_BASE_IMAGE: BASE_ID}
            stack.engine.add_image("echo:deps", FIXTURES / "echo", labels=labels)
            await gw.register("echo", image="echo:deps")
            await until(
                lambda: _reason(gw), what="the image's code checked", timeout=10
            )  # fmt: skip
            refused = await gw.http.put("/system/function/echo/code", json=push(1))
            assert refused.status_code == 409
            assert "requirements.txt" in refused.json()["error"]["message"]
            missing = await gw.http.put("/system/function/nope/code", json=push(1))
            assert missing.status_code == 404
            bad = await gw.http.put(
                "/system/function/echo/code", json={"files": [{"path": "../x", "data": ""}]}
            )
            assert bad.status_code == 400 and "files[0].path" in bad.text

    run(scenario)


async def _reason(gw: FakeGateway) -> bool:
    reason = (await gw.describe("echo"))["generic"]["reason"]
    return "requirements.txt" in (reason or "")


def test_folder_code_leaves_out_the_manifest_requirements_and_bytecode(tmp_path: Path) -> None:
    (tmp_path / "faas.yaml").write_text("name: x\n")
    (tmp_path / "requirements.txt").write_text("requests\n")
    (tmp_path / "handler.py").write_text("x = 1\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("y = 2\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    files = folder_code(tmp_path)
    assert [f.path for f in files] == ["handler.py", "lib/util.py"]
    code_hash, back = from_json(to_json(files), 1)
    assert code_hash == to_json(files)["code_hash"]
    assert [(f.path, f.data, f.mtime) for f in back] == [
        ("handler.py", b"x = 1\n", 1),
        ("lib/util.py", b"y = 2\n", 1),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "files"),
        ({"files": []}, "files"),
        ({"files": [{"path": "/etc/passwd", "data": ""}]}, "files[0].path"),
        ({"files": [{"path": "a//b", "data": ""}]}, "files[0].path"),
        ({"files": [{"path": "a.py", "data": "%%%"}]}, "files[0].data"),
        ({"files": [{"path": "a.py", "data": "", "mode": 4096}]}, "files[0].mode"),
        ({"files": [{"path": "a.py", "data": ""}, {"path": "a.py", "data": ""}]}, "files[1].path"),
    ],
)
def test_bad_pushes_name_the_field(body: object, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        from_json(body, 0)
    assert caught.value.message.startswith(field + ":")


def test_the_watch_sees_edits_and_knows_which_need_a_build(tmp_path: Path) -> None:
    from faas.cli.dev import changed, needs_build, snapshot
    from faas.manifest.spec import parse_manifest

    (tmp_path / "faas.yaml").write_text("name: x\n")
    (tmp_path / "handler.py").write_text("x = 1\n")
    before = snapshot(tmp_path)
    assert set(before) == {"faas.yaml", "handler.py"}
    (tmp_path / "handler.py").write_text("x = 22\n")  # another size: seen whatever the clock
    (tmp_path / "requirements.txt").write_text("requests\n")
    after = snapshot(tmp_path)
    assert changed(before, after) == {"handler.py", "requirements.txt"}
    code = parse_manifest({"name": "x"})
    image = parse_manifest({"name": "x", "contract": "http", "image": "nginx:1"})
    assert needs_build({"requirements.txt"}, code, code)
    assert not needs_build({"handler.py", "faas.yaml"}, code, code)
    assert needs_build({"faas.yaml"}, code, image)
