"""`DockerBackend`: the Docker Engine API, one blocking call per method; the only module that
imports `docker`.

Docker's exceptions are translated here, once, into `faas.errors`; nothing above this module
sees a `docker.errors` type. Synchronous code (builds, `faas up`) calls it directly; the
gateway's pool reaches it through `DockerEngine`. Nothing here is on the warm-call path.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import docker.types
import requests.exceptions

from faas import keys
from faas.engines.base import ContainerConfig, ContainerState, ManagedContainer
from faas.errors import BuildError, DockerError, DockerUnavailable, ImageMissing

_UNREACHABLE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError)
# Docker's json-file logs, rotated: a function that prints without end fills at most
# max-size x max-file of the host's disk (`faas logs` and the log archive read what is kept).
LOG_ROTATION = docker.types.LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"})


def _epoch(stamp: object) -> float | None:
    """Docker's RFC 3339 time (nanoseconds, 'Z') as epoch seconds; None for the zero time."""
    if not isinstance(stamp, str) or stamp.startswith("0001-"):
        return None
    main, _, fraction = stamp.rstrip("Z").partition(".")
    try:
        moment = datetime.datetime.fromisoformat(main).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None
    return moment.timestamp() + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn Docker's errors into faas errors that say what failed and what to do."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise DockerUnavailable(
            f"Docker Engine does not answer ({action}): start it (`dockerd`) or set DOCKER_HOST"
        ) from exc
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(f"{action}: image not found ({exc.explanation}); deploy again") from exc
    except docker.errors.APIError as exc:
        if exc.status_code is not None and exc.status_code >= 500 and "connect" in str(exc).lower():
            raise DockerUnavailable(f"Docker Engine failed ({action}): {exc.explanation}") from exc
        raise DockerError(f"Docker refused to {action}: {exc.explanation or exc}") from exc
    except docker.errors.DockerException as exc:
        raise DockerUnavailable(
            f"Docker Engine does not answer ({action}): {exc}; start it or set DOCKER_HOST"
        ) from exc


def _not_found(exc: DockerError) -> bool:
    """Whether Docker answered 404 (no such container or path)."""
    return isinstance(exc.__cause__, docker.errors.NotFound)


class DockerBackend:
    """Images and containers through the Docker Engine API (low-level client: one call each).

    The client connects on first use, so a gateway starts (and reports 503) while Docker is
    down, and reconnects once it is back.
    """

    def __init__(self, client: docker.DockerClient | None = None, *, timeout: float = 60.0) -> None:
        self._client = client
        self._timeout = timeout
        self._lock = threading.Lock()

    @property
    def _api(self) -> docker.APIClient:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    with _translated("connect"):
                        self._client = docker.from_env(timeout=int(self._timeout), max_pool_size=64)
                client = self._client
        return client.api

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- engine ---------------------------------------------------------------------------

    def ping(self) -> None:
        with _translated("ping"):
            self._api.ping()

    def version(self) -> dict[str, Any]:
        with _translated("read the engine version"):
            return dict(self._api.version())

    def info(self) -> dict[str, Any]:
        """`docker info`: kernel, cgroup version, runtimes, CPUs, memory."""
        with _translated("read engine info"):
            return dict(self._api.info())

    # -- images ---------------------------------------------------------------------------

    def _inspect_image(self, ref: str) -> dict[str, Any] | None:
        try:
            with _translated(f"inspect image {ref}"):
                return dict(self._api.inspect_image(ref))
        except ImageMissing:
            return None

    def image_id(self, ref: str) -> str | None:
        info = self._inspect_image(ref)
        return None if info is None else str(info["Id"])

    def image_labels(self, ref: str) -> dict[str, str] | None:
        """The image's labels ({} when it has none); None when there is no such image."""
        info = self._inspect_image(ref)
        if info is None:
            return None
        return dict((info.get("Config") or {}).get("Labels") or {})

    def image_command(self, ref: str) -> tuple[list[str], list[str]] | None:
        """The image's ENTRYPOINT and CMD (each [] when unset); None when there is no such image."""
        info = self._inspect_image(ref)
        if info is None:
            return None
        config = info.get("Config") or {}
        return list(config.get("Entrypoint") or []), list(config.get("Cmd") or [])

    def image_exists(self, ref: str) -> bool:
        return self.image_id(ref) is not None

    def build_image(
        self,
        context: IO[bytes],
        tag: str,
        labels: dict[str, str],
        progress: Callable[[str], None],
    ) -> str:
        """Build from a tar build context; stream the build's output lines to `progress`."""
        tail: list[str] = []
        with _translated(f"build {tag}"):
            stream = self._api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                labels=labels,
                rm=True,
                forcerm=True,
                decode=True,
            )
            for chunk in stream:
                if "error" in chunk:
                    detail = str(chunk["error"]).strip()
                    raise BuildError(f"building {tag} failed: {detail}\n" + "".join(tail[-15:]))
                text = chunk.get("stream") or chunk.get("status")
                if text:
                    tail.append(text if text.endswith("\n") else text + "\n")
                    for line in str(text).splitlines():
                        if line.strip():
                            progress(line)
        image = self.image_id(tag)
        if image is None:
            raise BuildError(f"building {tag} produced no image:\n" + "".join(tail[-15:]))
        return image

    def import_image(self, tarball: Path, repository: str, tag: str, changes: list[str]) -> str:
        with _translated(f"import {repository}:{tag}"):
            self._api.import_image_from_file(
                str(tarball), repository=repository, tag=tag, changes=changes
            )
        image = self.image_id(f"{repository}:{tag}")
        if image is None:
            raise BuildError(f"importing {tarball} as {repository}:{tag} produced no image")
        return image

    def pull_image(self, ref: str, progress: Callable[[str], None]) -> None:
        """Pull `ref` from its registry, passing status lines to `progress`; a registry that
        cannot be reached, or has no such image, is a DockerError saying so."""
        repository, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        with _translated(f"pull {ref}"):
            for chunk in self._api.pull(repository, tag=tag or "latest", stream=True, decode=True):
                if "error" in chunk:
                    raise DockerError(f"Docker could not pull {ref}: {chunk['error']}")
                status = chunk.get("status")
                if status and not chunk.get("progressDetail"):
                    progress(f"{chunk.get('id', '')} {status}".strip())

    def list_images(self, repository: str) -> list[tuple[str, str, int]]:
        """(repository:tag, image id, size in bytes) of every tagged image of `repository`."""
        with _translated(f"list the images of {repository}"):
            found = self._api.images(name=repository)
        return [
            (tag, str(image["Id"]), int(image.get("Size") or 0))
            for image in found
            for tag in image.get("RepoTags") or []
            if tag.rpartition(":")[0] == repository
        ]

    def images_in_use(self) -> set[str]:
        """Ids of the images any container (running or not, faas's or not) was created from."""
        with _translated("list containers"):
            return {str(c["ImageID"]) for c in self._api.containers(all=True)}

    def remove_image(self, ref: str) -> None:
        with contextlib.suppress(ImageMissing), _translated(f"remove image {ref}"):
            self._api.remove_image(ref, force=True)

    # -- networks -------------------------------------------------------------------------

    def ensure_network(self, name: str) -> str:
        """Create the bridge network if missing (labelled); return its gateway address."""
        with _translated(f"create network {name}"):
            found = self._api.networks(names=[name])
            match = [n for n in found if n["Name"] == name]
            if not match:
                self._api.create_network(
                    name, driver="bridge", labels={keys.LABEL_MANAGED: "true"}, check_duplicate=True
                )
            info = self._api.inspect_network(name)
        configs = (info.get("IPAM") or {}).get("Config") or []
        return str(configs[0].get("Gateway", "")) if configs else ""

    # -- containers -----------------------------------------------------------------------

    def create_container(self, cfg: ContainerConfig) -> str:
        """Create (not start) a container; return its id."""
        with _translated(f"create container {cfg.name}"):
            host_config = self._api.create_host_config(
                binds=[f"{host}:{inner}:rw" for host, inner in cfg.binds.items()]
                + [f"{host}:{inner}:ro" for host, inner in cfg.readonly_binds],
                mem_limit=cfg.memory,
                memswap_limit=cfg.memory,  # no swap: the limit is the limit
                nano_cpus=int(cfg.cpus * 1e9),
                pids_limit=cfg.pids_limit,
                read_only=cfg.read_only,
                tmpfs=dict(cfg.tmpfs) or None,
                cap_drop=list(cfg.cap_drop) or None,
                cap_add=list(cfg.cap_add) or None,
                security_opt=list(cfg.security_opt),
                network_mode=cfg.network or "none",
                port_bindings={port: list(hosts) for port, hosts in cfg.ports.items()} or None,
                log_config=LOG_ROTATION,
            )
            created = self._api.create_container(
                cfg.image,
                command=list(cfg.command) or None,
                entrypoint=list(cfg.entrypoint) if cfg.entrypoint is not None else None,
                name=cfg.name,
                user=cfg.user or None,
                ports=list(cfg.ports) or None,
                environment=dict(cfg.environment),
                labels=dict(cfg.labels),
                host_config=host_config,
                use_config_proxy=False,
            )
        return str(created["Id"])

    def read_archive(self, image: str, path: str, labels: Mapping[str, str]) -> bytes | None:
        """The tar of `path` in `image` (None when it has no such path).

        Copied out of a container that is created, never started, and always removed: the
        labels let a crash in between be found and cleaned up like any managed container.
        """
        with _translated(f"create a container of {image}"):
            created = self._api.create_container(
                image,
                command=["true"],  # never runs: the container only lends its filesystem
                labels=dict(labels),
                network_disabled=True,
                host_config=self._api.create_host_config(network_mode="none"),
                use_config_proxy=False,
            )
        container_id = str(created["Id"])
        try:
            with _translated(f"read {path} from {image}"):
                chunks, _stat = self._api.get_archive(container_id, path)
                return b"".join(chunks)
        except DockerError as exc:
            if _not_found(exc):
                return None
            raise
        finally:
            self.remove(container_id)

    def start_container(self, container_id: str) -> None:
        with _translated("start container"):
            self._api.start(container_id)

    def run_container(self, cfg: ContainerConfig) -> str:
        """Create and start; the container is removed if it cannot start."""
        container_id = self.create_container(cfg)
        try:
            self.start_container(container_id)
        except BaseException:
            self.remove(container_id)
            raise
        return container_id

    def state(self, container_id: str) -> ContainerState:
        try:
            with _translated("inspect container"):
                info = self._api.inspect_container(container_id)
        except DockerError as exc:
            if _not_found(exc):
                return ContainerState(exists=False)
            raise
        s = info["State"]
        return ContainerState(
            exists=True,
            running=bool(s.get("Running")),
            paused=bool(s.get("Paused")),
            exit_code=None if s.get("Running") else int(s.get("ExitCode", 0)),
            oom_killed=bool(s.get("OOMKilled")),
            finished_at=None if s.get("Running") else _epoch(s.get("FinishedAt")),
        )

    def container_ip(self, container_id: str, network: str) -> str:
        with _translated("inspect container"):
            info = self._api.inspect_container(container_id)
        return str(info["NetworkSettings"]["Networks"][network]["IPAddress"])

    def rename(self, container_id: str, name: str) -> None:
        with _translated("rename container"):
            self._api.rename(container_id, name)

    def pause(self, container_id: str) -> None:
        with _translated("pause container"):
            self._api.pause(container_id)

    def unpause(self, container_id: str) -> None:
        with _translated("resume container"):
            self._api.unpause(container_id)

    def remove(self, container_id: str) -> None:
        """Kill and remove; a container that is already gone counts as removed."""
        try:
            with _translated("remove container"):
                self._api.remove_container(container_id, force=True, v=True)
        except DockerError as exc:
            if _not_found(exc) or "already in progress" in str(exc.__cause__):
                return
            raise

    def events(self, labels: Mapping[str, str]) -> Iterator[tuple[str, str, dict[str, str]]]:
        """Container lifecycle events (id, action, attributes) until the stream breaks.

        The stream blocks: run it in a thread, and `close_events()` to end it.
        """
        selector = [keys.MANAGED_FILTER] + [f"{k}={v}" for k, v in labels.items()]
        wanted = ["die", "oom", "destroy"]
        with _translated("watch events"):
            stream = self._api.events(
                decode=True, filters={"type": "container", "label": selector, "event": wanted}
            )
            self._events = stream
            for event in stream:
                actor = event.get("Actor") or {}
                attributes = dict(actor.get("Attributes") or {})
                yield str(actor.get("ID", "")), str(event.get("Action", "")), attributes

    def close_events(self) -> None:
        stream = getattr(self, "_events", None)
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    def remove_by_name(self, name: str) -> None:
        self.remove(name)

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedContainer]:
        """Containers labelled faas.managed=true (and every label in `labels`), any state."""
        selector = [keys.MANAGED_FILTER] + [f"{k}={v}" for k, v in (labels or {}).items()]
        with _translated("list containers"):
            found = self._api.containers(all=True, filters={"label": selector})
        return [
            ManagedContainer(str(c["Id"]), dict(c.get("Labels") or {}), str(c["State"]))
            for c in found
        ]

    def wait(self, container_id: str) -> int:
        """Block until the container exits; its exit code."""
        with _translated("wait for a container"):
            return int(self._api.wait(container_id, timeout=None)["StatusCode"])

    def output(self, container_id: str, stream: str, max_bytes: int) -> bytes:
        """The first `max_bytes` + 1 bytes of the container's stdout or stderr."""
        out = bytearray()
        with _translated("read a container's output"):
            for chunk in self._api.logs(
                container_id,
                stdout=stream == "stdout",
                stderr=stream == "stderr",
                stream=True,
                follow=False,
            ):
                out += chunk
                if len(out) > max_bytes:
                    break
        return bytes(out[: max_bytes + 1])

    def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        timestamps: bool = False,
        since: float | None = None,
        until: float | None = None,
    ) -> Iterator[bytes]:
        """The container's output, one chunk per entry as it is read (never all at once);
        with `follow`, until it stops. Gone container: nothing."""
        try:
            with _translated("read logs"):
                if follow:
                    yield from self._api.logs(
                        container_id,
                        stream=True,
                        follow=True,
                        tail=tail if tail is not None else "all",
                        timestamps=timestamps,
                        since=since,
                    )
                else:
                    yield from self._api.logs(
                        container_id,
                        stream=True,
                        follow=False,  # docker-py's default follows a stream
                        tail=tail if tail is not None else "all",
                        timestamps=timestamps,
                        since=since,
                        until=until,
                    )
        except DockerError as exc:
            if _not_found(exc):
                return
            raise
