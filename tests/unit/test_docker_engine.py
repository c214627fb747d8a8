"""DockerEngine over a stubbed low-level client: Docker's errors arrive as faas errors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest
import requests

from faas.engines.base import ContainerConfig, ContainerEvent, ContainerState
from faas.engines.docker import DockerBackend, DockerEngine
from faas.errors import (
    DockerError,
    DockerUnavailable,
    EngineUnavailable,
    FunctionInitError,
    ImageMissing,
    Unavailable,
)


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def _not_found() -> docker.errors.NotFound:
    return docker.errors.NotFound("404", _response(404), "No such container: abc")


class StubAPI:
    """The few docker-py low-level calls the tests need; `failure` is raised by every call."""

    def __init__(self, failure: BaseException | None = None) -> None:
        self.failure = failure
        self.stream: BlockingStream | None = None

    def _fail(self) -> None:
        if self.failure is not None:
            raise self.failure

    def ping(self) -> bool:
        self._fail()
        return True

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return dict(kwargs)

    def create_container(self, image: str, **kwargs: Any) -> dict[str, str]:
        self._fail()
        return {"Id": "c1"}

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self._fail()
        return {"State": {"Running": True, "Paused": False}}

    def inspect_image(self, ref: str) -> dict[str, Any]:
        self._fail()
        return {"Id": "sha256:1", "Config": {"Labels": {"faas.code-hash": "x"}}}

    def remove_container(self, container_id: str, **kwargs: Any) -> None:
        self._fail()

    def events(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self._fail()
        assert self.stream is not None
        return self.stream


class StubClient:
    def __init__(self, api: StubAPI) -> None:
        self.api = api

    def close(self) -> None:
        pass


class BlockingStream:
    """Docker's event stream: yields `events`, then blocks until closed (as the real one)."""

    def __init__(self, events: list[dict[str, Any]], then: BaseException | None = None) -> None:
        self._events = list(events)
        self._then = then
        self.blocked = threading.Event()
        self.closed = threading.Event()

    def __iter__(self) -> BlockingStream:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._events:
            return self._events.pop(0)
        if self._then is not None:
            raise self._then
        self.blocked.set()
        self.closed.wait()
        raise StopIteration

    def close(self) -> None:
        self.closed.set()


def engine(api: StubAPI) -> DockerEngine:
    return DockerEngine(DockerBackend(StubClient(api)))  # type: ignore[arg-type]


def run(engine: DockerEngine, coro: Any) -> Any:
    async def main() -> Any:
        try:
            return await coro
        finally:
            await engine.close()

    return asyncio.run(main())


CONFIG = ContainerConfig(image="faas/echo:1", name="faas-echo-1", labels={}, environment={})


def test_a_missing_image_is_image_missing_not_an_init_error() -> None:
    failure = docker.errors.ImageNotFound("404", _response(404), "No such image: faas/echo:1")
    e = engine(StubAPI(failure))
    with pytest.raises(ImageMissing) as caught:
        run(e, e.create(CONFIG))
    assert not isinstance(caught.value, FunctionInitError)
    assert caught.value.message == (
        "create container faas-echo-1: image not found (No such image: faas/echo:1); deploy again"
    )


def test_a_missing_image_has_no_labels() -> None:
    failure = docker.errors.ImageNotFound("404", _response(404), "No such image")
    e = engine(StubAPI(failure))
    assert run(e, e.image_labels("faas/echo:1")) is None


def test_an_unreachable_docker_is_docker_unavailable() -> None:
    e = engine(StubAPI(requests.exceptions.ConnectionError("refused")))
    with pytest.raises(DockerUnavailable) as caught:
        run(e, e.ping())
    error = caught.value
    assert isinstance(error, EngineUnavailable) and isinstance(error, Unavailable)
    assert (error.status, error.code) == (503, "docker_unavailable")
    assert "start it (`dockerd`) or set DOCKER_HOST" in error.message


def test_a_daemon_that_cannot_connect_is_unavailable_and_a_refusal_is_an_error() -> None:
    broken = docker.errors.APIError("500", _response(500), "cannot connect to containerd")
    e = engine(StubAPI(broken))
    with pytest.raises(DockerUnavailable):
        run(e, e.create(CONFIG))
    refused = docker.errors.APIError("409", _response(409), "name already in use")
    e = engine(StubAPI(refused))
    with pytest.raises(DockerError, match="Docker refused to create container faas-echo-1"):
        run(e, e.create(CONFIG))


def test_a_gone_container_is_removed_and_does_not_exist() -> None:
    e = engine(StubAPI(_not_found()))
    assert run(e, e.state("abc")) == ContainerState(exists=False)
    e = engine(StubAPI(_not_found()))
    run(e, e.remove("abc"))  # no error: already gone counts as removed


def test_events_arrive_in_the_loop_and_a_broken_stream_is_unavailable() -> None:
    api = StubAPI()
    event = {"Action": "die", "Actor": {"ID": "c1", "Attributes": {"faas.function": "echo"}}}
    api.stream = BlockingStream([event], then=requests.exceptions.ConnectionError("reset"))
    e = engine(api)
    seen: list[ContainerEvent] = []

    async def follow() -> None:
        async for item in e.events({"faas.gateway": "g1"}):
            seen.append(item)

    with pytest.raises(DockerUnavailable):
        run(e, follow())
    assert seen == [ContainerEvent("c1", "die", {"faas.function": "echo"})]


def test_cancelling_the_events_reader_closes_docker_stream() -> None:
    api = StubAPI()
    stream = api.stream = BlockingStream([])
    e = engine(api)

    async def cancel_while_blocked() -> None:
        reader = asyncio.ensure_future(anext(aiter(e.events({}))))
        assert await asyncio.to_thread(stream.blocked.wait, 5)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        assert stream.closed.is_set()  # before the engine closes: the reader's end did it

    run(e, cancel_while_blocked())
