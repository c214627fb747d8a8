"""What a function container looks like: pure data, so the hardening rules are testable
without Docker and the engine only translates them into API calls. Where the instance listens
(socket folder, port, network) comes from its contract's `Placement`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from faas import keys
from faas.contracts.base import Placement
from faas.engines.base import ContainerConfig
from faas.manifest.lambda_options import lambda_runtime_env
from faas.manifest.openfaas import PYTHON3_HTTP
from faas.manifest.spec import FunctionSpec

FUNCTION_UID = "10001:10001"  # no passwd entry needed; never root
PIDS_LIMIT = 128
TMPFS_SIZE = "64m"
FUNCTION_DIR = PurePosixPath("/opt/faas/function")  # the function's code, in every image
CODE_TMPFS_SIZE = "16m"  # generic containers: room for code bundles (faas.code_bundle's cap)


def function_container(
    spec: FunctionSpec,
    image: str,
    *,
    container_name: str,
    gateway_id: str,
    placement: Placement,
    stack_id: str = "",
    service_env: Mapping[str, str] | None = None,
) -> ContainerConfig:
    """The hardened container for one instance of `spec` (see design.md, Containers);
    `service_env` tells a function with network where the gateway and Redis are."""
    env = dict(service_env or {})
    env.update(function_env(spec))
    cfg = _hardened(
        image,
        container_name,
        function_labels(spec.name, gateway_id, stack_id),
        env,
        Shape.of(spec),
        placement,
    )
    return relax(cfg, spec)


def relax(cfg: ContainerConfig, spec: FunctionSpec) -> ContainerConfig:
    """An image function's OpenFaaS-style relaxations (faas.manifest.images); nothing else."""
    if spec.on_runtime:
        return cfg
    return replace(
        cfg,
        read_only=spec.readonly_root_filesystem,
        user="" if spec.image_user else cfg.user,  # "": the image's own USER
    )


def function_env(spec: FunctionSpec) -> dict[str, str]:
    """What the function's process sees: its manifest's environment plus the runtime's own."""
    env = dict(spec.environment)
    if not spec.on_runtime:  # not faas's runtime: only its name, as OpenFaaS does
        env.update(FAAS_FUNCTION_NAME=spec.name)
        return env
    env.update(
        FAAS_FUNCTION_NAME=spec.name,
        FAAS_HANDLER=spec.handler,
        FAAS_CONCURRENCY=str(spec.concurrency),
    )
    if spec.lang == PYTHON3_HTTP:  # the runtime adapts OpenFaaS's calling convention
        env["FAAS_LANG"] = spec.lang
    if spec.contract == "lambda":
        env.update(lambda_runtime_env(spec.memory))
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
    service_env: Mapping[str, str] | None = None,
) -> ContainerConfig:
    """A pre-started runtime with no function yet, hardened like a function container.

    Its function's code arrives with `POST /_/load` into a tmpfs at FUNCTION_DIR: the same
    path as in function images, so `__file__`, the working directory and the .pyc files
    compiled at build time are the same in both kinds of container. The runtime starts as
    root with only the capabilities to change user, writes the code (root's, as in an image)
    and becomes FUNCTION_UID before importing it (faas.runtime.confine): read-only code.
    """
    labels = function_labels("", gateway_id, stack_id)
    labels[keys.LABEL_ROLE] = keys.ROLE_GENERIC
    env = dict(service_env or {})
    env["FAAS_RUN_AS"] = FUNCTION_UID
    cfg = _hardened(image, container_name, labels, env, shape, placement)
    tmpfs = dict(cfg.tmpfs)
    tmpfs[str(FUNCTION_DIR)] = f"rw,size={CODE_TMPFS_SIZE},mode=0755"
    return replace(cfg, tmpfs=tmpfs, user="0:0", cap_add=("SETUID", "SETGID"))


def _hardened(
    image: str,
    name: str,
    labels: dict[str, str],
    env: dict[str, str],
    shape: Shape,
    placement: Placement,
) -> ContainerConfig:
    env.update(placement.environment)
    return ContainerConfig(
        image=image,
        name=name,
        labels=labels,
        environment=env,
        memory=shape.memory,
        cpus=shape.cpus,
        network=placement.network,
        binds=dict(placement.binds),
    )


def function_labels(name: str, gateway_id: str, stack_id: str) -> dict[str, str]:
    return {
        keys.LABEL_MANAGED: "true",
        keys.LABEL_ROLE: keys.ROLE_FUNCTION,
        keys.LABEL_FUNCTION: name,
        keys.LABEL_GATEWAY: gateway_id,
        keys.LABEL_STACK: stack_id,
    }
