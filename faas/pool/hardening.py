"""What a function container looks like: pure data, so the hardening rules are testable
without Docker and the backend only translates them into API calls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from faas import keys
from faas.engines.base import ContainerConfig
from faas.manifest.spec import FunctionSpec

FUNCTION_UID = "10001:10001"  # no passwd entry needed; never root
RUNTIME_DIR = PurePosixPath("/run/faas")  # bind-mounted per container, holds the socket
SOCKET_NAME = "runtime.sock"
TCP_PORT = 8080
PIDS_LIMIT = 128
TMPFS_SIZE = "64m"
FUNCTION_DIR = PurePosixPath("/opt/faas/function")  # the function's code, in every image
CODE_TMPFS_SIZE = "16m"  # generic containers: room for code bundles (faas.code_bundle's cap)


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
    env = dict(placement.function_env)
    env.update(function_env(spec))
    return _hardened(
        image,
        container_name,
        function_labels(spec.name, gateway_id, stack_id),
        env,
        Shape.of(spec),
        placement,
    )


def function_env(spec: FunctionSpec) -> dict[str, str]:
    """What the function's process sees: its manifest's environment plus the runtime's own."""
    env = dict(spec.environment)
    env.update(
        FAAS_FUNCTION_NAME=spec.name,
        FAAS_HANDLER=spec.handler,
        FAAS_CONCURRENCY=str(spec.concurrency),
    )
    return env


@dataclass(frozen=True)
class Shape:
    """What a container fixes at creation and a function needs: a generic runtime container
    can take on any function of the same shape (limits and network cannot change later)."""

    memory: int
    cpus: float
    network: bool

    @classmethod
    def of(cls, spec: FunctionSpec) -> Shape:
        return cls(spec.memory, spec.cpus, spec.network)


def generic_container(
    shape: Shape,
    image: str,
    *,
    container_name: str,
    gateway_id: str,
    placement: Placement,
    stack_id: str = "",
) -> ContainerConfig:
    """A pre-started runtime with no function yet, hardened like a function container.

    Its function's code arrives with `POST /_/load` into a tmpfs at FUNCTION_DIR: the same
    path as in function images, so `__file__`, the working directory and the .pyc files
    compiled at build time are the same in both kinds of container.
    """
    labels = function_labels("", gateway_id, stack_id)
    labels[keys.LABEL_ROLE] = keys.ROLE_GENERIC
    cfg = _hardened(image, container_name, labels, dict(placement.function_env), shape, placement)
    tmpfs = dict(cfg.tmpfs)
    tmpfs[str(FUNCTION_DIR)] = f"rw,size={CODE_TMPFS_SIZE},mode=1777"
    return replace(cfg, tmpfs=tmpfs)


def _hardened(
    image: str,
    name: str,
    labels: dict[str, str],
    env: dict[str, str],
    shape: Shape,
    placement: Placement,
) -> ContainerConfig:
    binds: dict[str, str] = {}
    if placement.socket_host_dir is not None:
        env["FAAS_SOCKET"] = str(RUNTIME_DIR / SOCKET_NAME)
        binds[placement.socket_host_dir] = str(RUNTIME_DIR)
    else:
        env["FAAS_PORT"] = str(TCP_PORT)
    return ContainerConfig(
        image=image,
        name=name,
        labels=labels,
        environment=env,
        memory=shape.memory,
        cpus=shape.cpus,
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
