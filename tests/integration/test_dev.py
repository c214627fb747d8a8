"""`faas dev` as a user runs it: a subprocess watching a folder, against a real gateway with
generic runtimes; an edit is served without a reload or an image build, the function's log
lines reach the terminal, and Ctrl-C removes everything the session made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import docker

from faas import keys
from tests.conftest import REPO, Gateway, wait_until

HANDLER = 'def handle(event, context):\n    print("saying {word}")\n    return "{word}"\n'
EDIT_BOUND = 5.0  # seconds; the benchmark (benchmarks/dev_bench.py) measures the real figure


class Terminal:
    """A `faas dev` process and everything it printed."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faas", *args], cwd=REPO, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, fragment: str, timeout: float) -> None:
        try:
            wait_until(lambda: fragment in self.text or self.process.poll() is not None, timeout)
        finally:
            assert fragment in self.text, self.text


def containers_of(gateway: Gateway) -> list[tuple[str, str]]:
    """(name, role) of every container this gateway has."""
    client = docker.from_env()
    try:
        found = client.containers.list(
            all=True, filters={"label": f"{keys.LABEL_GATEWAY}={gateway.id}"}
        )
        return [(c.name or "", c.labels.get(keys.LABEL_ROLE, "")) for c in found]
    finally:
        client.close()


def test_an_edit_is_served_live_and_ctrl_c_leaves_nothing(
    make_gateway: Callable[..., Gateway], tmp_path: Path, base_image: str
) -> None:
    gateway = make_gateway(FAAS_GENERIC_POOL="1", FAAS_BASE_IMAGE=base_image)
    folder = tmp_path / "devloop"
    folder.mkdir()
    (folder / "faas.yaml").write_text("name: devloop\nmemory: 64Mi\n")
    (folder / "handler.py").write_text(HANDLER.format(word="one"))
    env = {**os.environ, **gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    dev = Terminal(["dev", str(folder)], env)
    try:
        dev.wait_for("watching", 300)
        assert "pushed to a generic runtime" in dev.text
        assert gateway.http.post("/function/devloop").text == "one"

        def answer() -> str:
            return gateway.http.post("/function/devloop").text

        (folder / "handler.py").write_text(HANDLER.format(word="two"))
        saved = time.monotonic()
        wait_until(lambda: answer() == "two", 30, 0.02)
        served_after = time.monotonic() - saved
        assert served_after < EDIT_BOUND, f"the edit took {served_after:.2f}s to be served"
        dev.wait_for("handler.py changed: serving in", 10)
        dev.wait_for("saying one", 15)  # the function's own log lines, in the same terminal
        dev.wait_for("saying two", 15)

        # A broken edit fails its calls with the function's own error; the fix serves again.
        (folder / "handler.py").write_text("def handle(event, context:\n")
        wait_until(lambda: gateway.http.post("/function/devloop").status_code == 502, 30)
        dev.wait_for("warning: handler.py:1: SyntaxError", 10)
        (folder / "handler.py").write_text(HANDLER.format(word="three"))
        wait_until(lambda: answer() == "three", 30)
    finally:
        dev.process.send_signal(signal.SIGINT)  # Ctrl-C
        assert dev.process.wait(120) == 0, dev.text
    assert "removed devloop" in dev.text
    assert gateway.http.get("/system/function/devloop").status_code == 404
    # Left: at most the gateway's own spare generic runtimes, none specialised for devloop.
    wait_until(
        lambda: all(
            role == keys.ROLE_GENERIC and "devloop" not in name
            for name, role in containers_of(gateway)
        ),
        30,
    )


def test_keep_leaves_the_last_edit_deployed_as_an_image(
    make_gateway: Callable[..., Gateway], tmp_path: Path, base_image: str
) -> None:
    gateway = make_gateway(FAAS_GENERIC_POOL="1", FAAS_BASE_IMAGE=base_image)
    folder = tmp_path / "devkeep"
    folder.mkdir()
    (folder / "faas.yaml").write_text("name: devkeep\nmemory: 64Mi\n")
    (folder / "handler.py").write_text(HANDLER.format(word="first"))
    env = {**os.environ, **gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    dev = Terminal(["dev", "--keep", str(folder)], env)
    try:
        dev.wait_for("watching", 300)
        (folder / "handler.py").write_text(HANDLER.format(word="kept"))
        wait_until(lambda: gateway.http.post("/function/devkeep").text == "kept", 30)
        assert "dev" in gateway.http.get("/system/function/devkeep").json()["generic"]
    finally:
        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(300) == 0, dev.text
    described = gateway.http.get("/system/function/devkeep").json()
    assert "dev" not in described["generic"]  # an ordinary deploy: the image holds the edit
    assert gateway.http.post("/function/devkeep").text == "kept"
    gateway.http.delete("/system/function/devkeep")
