"""Docker as a container engine: `DockerBackend` (blocking, for builds and `faas up`) and
`DockerEngine` (the async `Engine` the gateway uses). Only `backend` imports `docker`."""

from faas.engines.docker.backend import DockerBackend
from faas.engines.docker.engine import DockerEngine

__all__ = ["DockerBackend", "DockerEngine"]
