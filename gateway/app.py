"""The Starlette application and its lifespan: the composition root of a gateway process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp

from faas.build.folder import build_folder
from faas.build.images import build_runtime_image
from faas.contracts.native import close_to_others
from faas.engines.base import Engine
from faas.engines.docker import DockerBackend, DockerEngine
from faas.errors import FaasError, Unavailable
from faas.pool.generic import GenericPool
from faas.pool.invoker import Invoker
from faas.pool.lifecycle import Lifecycle
from faas.pool.maintenance import HEARTBEAT_TTL, Heartbeat, Maintenance
from faas.pool.secret_files import SecretWatch
from faas.queue.service import QueueService
from faas.registry.access import platform_client
from faas.registry.api_keys import ApiKeys
from faas.registry.catalog import Catalog
from faas.registry.limits import Limits
from faas.registry.secrets import SecretStore
from faas.registry.store import Registry
from faas.secret_box import ensure_key
from faas.settings import Settings
from faas.supervised import Supervisor, cancel_and_wait, where_tasks_wait
from gateway.api_key_routes import API_KEY_ROUTES
from gateway.async_routes import ASYNC_ROUTES
from gateway.auth import RequireCredentials, control_plane_password
from gateway.call_paths import CallPaths
from gateway.dashboard import DASHBOARD_ROUTES
from gateway.dev_code import DEV_CODE_ROUTES
from gateway.errors import HANDLERS
from gateway.openfaas_routes import OPENFAAS_ROUTES
from gateway.routes import ROUTES
from gateway.secret_routes import SECRET_ROUTES

log = logging.getLogger("gateway")

SLOW_SHUTDOWN_STEP = 20.0  # seconds before a shutdown step is reported, with where tasks wait


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    runtime_image: Callable[[], Awaitable[tuple[str, str] | None]] | None = None,
) -> ASGIApp:
    """Build the gateway; `settings` default to the FAAS_* environment, `engine` to the local
    Docker Engine (a test passes a fake one), `runtime_image` (the generic runtime image's tag
    and its base image's id, or None) to a Docker build. Other image builds always use Docker."""
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        gateway_id = secrets.token_hex(6)
        close_to_others(settings.sockets)  # 0700: no other local user reaches a socket
        backend = DockerBackend()  # connects on first use: builds only, with a fake engine
        redis = platform_client(settings)
        registry = Registry(redis)
        heartbeat = Heartbeat(registry, gateway_id, settings.home)
        secrets_store = SecretStore(redis, ensure_key(settings))
        lifecycle = Lifecycle(
            engine or DockerEngine(backend),
            settings,
            gateway_id,
            heartbeat.stack_id,
            secrets_store,
            bindings=registry.bindings,
        )

        async def docker_runtime_image() -> tuple[str, str] | None:
            return await asyncio.to_thread(_runtime_image, backend, settings.base_image)

        generic = GenericPool(
            lifecycle, settings, time.monotonic, runtime_image or docker_runtime_image
        )
        invoker = Invoker(lifecycle, settings, generic=generic, archive_logs=registry.archive_logs)
        catalog = Catalog(registry)
        loops = Supervisor()  # every background loop: one that dies turns /healthz red
        maintenance = Maintenance(
            heartbeat,
            lifecycle,
            invoker.upkeep,
            catalog.refresh,
            invoker.sync,
            removed=catalog.take_removed,
            forget=invoker.forget,
            supervisor=loops,
            revision=lambda: catalog.revision,
            record_applied=lambda revision: registry.record_applied(
                gateway_id, revision, HEARTBEAT_TTL
            ),
            next_change=registry.next_change,
        )
        await maintenance.start()
        await _deploy_folders(settings, backend, registry, catalog, invoker)
        queue = QueueService(
            redis, catalog, registry, invoker, settings, gateway_id, supervisor=loops
        )
        await queue.start()
        secret_watch = SecretWatch(
            secrets_store,
            lifecycle.secret_files,
            lambda: invoker.instances.pools.values(),
            invoker.instances.discard,
            registry.gateway_alive,
        )
        with contextlib.suppress(FaasError):  # learn the feed's revision before serving
            await secret_watch.round()
        watching = loops.spawn("faas-secret-watch", secret_watch.run())
        log.info("gateway %s ready", gateway_id)
        try:
            yield {
                "settings": settings,
                "registry": registry,
                "catalog": catalog,
                "lifecycle": lifecycle,
                "invoker": invoker,
                "metrics": invoker.metrics,
                "recent_calls": invoker.recent,
                "queue": queue,
                "supervisors": [loops],
                "api_keys": ApiKeys(redis),
                "limits": Limits(redis),
                "secrets": secrets_store,
                "secret_watch": secret_watch,
                "heartbeat": heartbeat,
                "builder": backend,  # the Lambda API's CreateFunction builds uploaded code
            }
        finally:
            await _step("secret watch", cancel_and_wait([watching]))
            # The queue before the pool closes: running async calls may finish.
            await _step("queue", queue.stop())
            await _step("maintenance", maintenance.stop())
            await _step("pool", invoker.close())
            with contextlib.suppress(Unavailable):
                await _step("registry", registry.forget_gateway(gateway_id))
            await _step("containers", lifecycle.close())
            await redis.aclose()
            backend.close()
            log.info("gateway %s stopped; its containers are removed", gateway_id)

    # OpenFaaS's routes first: they serve both shapes where the paths are the same.
    routes = OPENFAAS_ROUTES + ASYNC_ROUTES + API_KEY_ROUTES + ROUTES + SECRET_ROUTES
    routes += DASHBOARD_ROUTES + DEV_CODE_ROUTES
    app = Starlette(routes=routes, exception_handlers=HANDLERS, lifespan=lifespan)
    # Credentials guard the Starlette part only: the call paths in front of it stay open, but
    # for what a function's own manifest asks (API keys, limits, CORS, schema); the Lambda API
    # checks its own (boto3 signs with SigV4, gateway.lambda_api).
    password = control_plane_password(settings)
    return CallPaths(RequireCredentials(app, password), password)


async def _step(name: str, step: Awaitable[None]) -> None:
    """Await one shutdown step; one that hangs is named in the log with where every task waits
    (a shutdown that never ends leaves containers and a queue consumer behind)."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait([task], timeout=SLOW_SHUTDOWN_STEP)
    if not done:
        log.warning(
            "shutdown: %s still running after %gs; tasks:\n%s",
            name,
            SLOW_SHUTDOWN_STEP,
            where_tasks_wait(),
        )
    await task


async def _deploy_folders(
    settings: Settings,
    backend: DockerBackend,
    registry: Registry,
    catalog: Catalog,
    invoker: Invoker,
) -> None:
    """FAAS_DEPLOY: build and register these folders before serving (the compose demo)."""
    for folder in settings.deploy:
        try:
            spec, built = await asyncio.to_thread(build_folder, backend, folder, settings)
            record = await registry.put(spec, built.tag, built.code_hash)
        except FaasError as exc:
            log.error("FAAS_DEPLOY: %s: %s", folder, exc.message)
            continue
        catalog.put(record)
        invoker.sync(record)
        log.info("deployed %s from %s (%s)", spec.name, folder, built.tag)


def _runtime_image(backend: DockerBackend, base_image: str) -> tuple[str, str] | None:
    """The generic runtime image's tag and the base image's id; None without the base image."""
    base_id = backend.image_id(base_image)
    if base_id is None:
        return None
    return build_runtime_image(backend, base_image=base_image).tag, base_id
