"""Deploy fails fast: a new function image starts its runtime once, without a gateway, to
import the handler (syntax errors, a misnamed handler, a missing module or dependency, an
exception at import time) before the function is registered.

The container is the one a call would start, as hardened (no network, read-only root, no
capabilities, the manifest's memory): the runtime reports an init failure as its last stderr
line (`{"faas_init_error": {...}}`, faas.runtime.loading) and exits; a handler that loads
makes it print `faas runtime: serving ...`, and the container is removed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Protocol

from faas import keys
from faas.engines.base import ContainerConfig, ContainerState
from faas.errors import BuildError
from faas.manifest.lambda_options import lambda_runtime_env
from faas.manifest.openfaas import PYTHON3_HTTP
from faas.manifest.spec import FunctionSpec

CHECK_TIMEOUT = 60.0  # an import that takes longer is reported, not waited for
_SERVING = b"faas runtime: serving"
_INIT_ERROR = b'{"faas_init_error"'
_MAX_OUTPUT = 64 * 1024
_TRACEBACK_LINES = 12


class CheckBackend(Protocol):
    """The part of the Docker backend the check needs."""

    def run_container(self, cfg: ContainerConfig) -> str: ...

    def state(self, container_id: str) -> ContainerState: ...

    def output(self, container_id: str, stream: str, max_bytes: int) -> bytes: ...

    def remove(self, container_id: str) -> None: ...


def check_environment(spec: FunctionSpec) -> dict[str, str]:
    """What the runtime sees at a real start (faas.pool.hardening.function_env), on TCP."""
    env = dict(spec.environment)
    env.update(FAAS_FUNCTION_NAME=spec.name, FAAS_HANDLER=spec.handler, FAAS_PORT="8080")
    if spec.lang == PYTHON3_HTTP:
        env["FAAS_LANG"] = spec.lang
    if spec.contract == "lambda":
        env.update(lambda_runtime_env(spec.memory))
    return env


def check_handler(
    backend: CheckBackend,
    image: str,
    spec: FunctionSpec,
    *,
    timeout: float = CHECK_TIMEOUT,
    extra_labels: Mapping[str, str] | None = None,
) -> None:
    """Start `image` once and import its handler; BuildError with the runtime's own message."""
    if not spec.on_runtime:
        return  # an image function: no handler of ours to import
    labels = {
        keys.LABEL_MANAGED: "true",
        keys.LABEL_ROLE: keys.ROLE_CHECK,
        keys.LABEL_FUNCTION: spec.name,
        **(extra_labels or {}),
    }
    cfg = ContainerConfig(
        image=image,
        name=f"faas-check-{spec.name}-{uuid.uuid4().hex[:8]}",
        labels=labels,
        environment=check_environment(spec),
        memory=spec.memory,
        cpus=1.0,  # the manifest's cpus are checked against the host at registration
    )
    container_id = backend.run_container(cfg)
    try:
        stderr = _wait_for_verdict(backend, container_id, timeout)
    finally:
        backend.remove(container_id)
    if _SERVING in stderr:
        return
    raise BuildError(describe_failure(spec, stderr))


def _wait_for_verdict(backend: CheckBackend, container_id: str, timeout: float) -> bytes:
    """The container's stderr once it serves or has exited; a note when `timeout` passed."""
    deadline = time.monotonic() + timeout
    interval = 0.02
    while True:
        state = backend.state(container_id)
        stderr = backend.output(container_id, "stderr", _MAX_OUTPUT)
        if _SERVING in stderr:
            return stderr
        if not state.running:
            if state.oom_killed:
                stderr += b"\n(killed by its memory limit while importing: raise `memory`)"
            return stderr
        if time.monotonic() > deadline:
            return stderr + f"\n(still importing after {timeout:g}s)".encode()
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)


def describe_failure(spec: FunctionSpec, stderr: bytes) -> str:
    """`NAME: the handler does not load: MESSAGE (CODE)` and the traceback's last lines."""
    text = stderr.decode(errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    report = next((line for line in reversed(lines) if line.lstrip().startswith('{"faas_init')), "")
    if report:
        try:
            error = json.loads(report)["faas_init_error"]
            message, code = str(error["message"]), str(error["code"])
        except (ValueError, KeyError, TypeError):
            message, code = report, "Runtime.InitError"
        traceback = [line for line in lines if line is not report][-_TRACEBACK_LINES:]
        head = f"{spec.name}: the handler {spec.handler} does not load: {message} ({code})"
        return "\n".join([head, *traceback])
    if not lines:
        return f"{spec.name}: the runtime exited before loading {spec.handler}, saying nothing"
    tail = lines[-_TRACEBACK_LINES:]
    return "\n".join([f"{spec.name}: the handler {spec.handler} did not load:", *tail])
