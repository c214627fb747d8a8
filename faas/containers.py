"""What a function container looks like: pure data, so the hardening rules are testable
without Docker and the backend only translates them into API calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from faas import keys
from faas.manifest import FunctionSpec

FUNCTION_UID = "10001:10001"  # no passwd entry needed; never root
RUNTIME_DIR = PurePosixPath("/run/faas")  # bind-mounted per container, holds the socket
SOCKET_NAME = "runtime.sock"
TCP_PORT = 8080
PIDS_LIMIT = 128
TMPFS_SIZE = "64m"


@dataclass(frozen=True)
class ContainerConfig:
    """Everything the backend needs to create one container."""

    image: str
    name: str
    labels: Mapping[str, str]
    environment: Mapping[str, str]
    command: tuple[str, ...] = ()
    user: str = FUNCTION_UID
    memory: int = 128 * 1024 * 1024
    cpus: float = 0.5
    pids_limit: int = PIDS_LIMIT
    read_only: bool = True
    tmpfs: Mapping[str, str] = field(
        default_factory=lambda: {"/tmp": f"rw,size={TMPFS_SIZE},mode=1777"}
    )
    cap_drop: tuple[str, ...] = ("ALL",)
    security_opt: tuple[str, ...] = ("no-new-privileges",)
    network: str | None = None  # None: no network at all
    binds: Mapping[str, str] = field(default_factory=dict)  # host dir -> container dir (rw)
    ports: Mapping[int, list[tuple[str, int]]] = field(default_factory=dict)  # services only


@dataclass(frozen=True)
class Placement:
    """Where the gateway reaches the runtime, and what the function may reach."""

    socket_host_dir: str | None  # unix transport: host side of RUNTIME_DIR
    network: str | None  # docker network to join, None for no network
    function_env: Mapping[str, str] = field(default_factory=dict)


def function_container(
    spec: FunctionSpec,
    image: str,
    *,
    container_name: str,
    gateway_id: str,
    placement: Placement,
    stack_id: str = "",
) -> ContainerConfig:
    """The hardened container for one instance of `spec` (see design.md, Containers)."""
    env = dict(spec.environment)
    env.update(placement.function_env)
    env.update(
        FAAS_FUNCTION_NAME=spec.name,
        FAAS_HANDLER=spec.handler,
        FAAS_CONCURRENCY=str(spec.concurrency),
    )
    binds: dict[str, str] = {}
    if placement.socket_host_dir is not None:
        env["FAAS_SOCKET"] = str(RUNTIME_DIR / SOCKET_NAME)
        binds[placement.socket_host_dir] = str(RUNTIME_DIR)
    else:
        env["FAAS_PORT"] = str(TCP_PORT)
    return ContainerConfig(
        image=image,
        name=container_name,
        labels=function_labels(spec.name, gateway_id, stack_id),
        environment=env,
        memory=spec.memory,
        cpus=spec.cpus,
        network=placement.network,
        binds=binds,
    )


def function_labels(name: str, gateway_id: str, stack_id: str) -> dict[str, str]:
    return {
        keys.LABEL_MANAGED: "true",
        keys.LABEL_ROLE: keys.ROLE_FUNCTION,
        keys.LABEL_FUNCTION: name,
        keys.LABEL_GATEWAY: gateway_id,
        keys.LABEL_STACK: stack_id,
    }
