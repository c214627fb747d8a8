"""The container of a Lambda image (`contract: lambda-image`, see faas.contracts.lambda_image):
the Runtime API shim as its entrypoint, the image's own ENTRYPOINT and CMD handed to it."""

from __future__ import annotations

import json
import time
from dataclasses import replace

from faas.contracts.lambda_image import SHIM_ENTRYPOINT
from faas.engines.base import ContainerConfig, Engine, ImageCommand
from faas.errors import FunctionInitError

LAMBDA_IMAGE = "lambda-image"
COMMAND_TTL = 5.0  # a tag rebuilt with another CMD is picked up this long after, at the latest
_MAX_KNOWN = 256


def lambda_image_config(cfg: ContainerConfig, command: ImageCommand) -> ContainerConfig:
    """`cfg` with the shim in front of the image's own argv (ENTRYPOINT + CMD)."""
    entrypoint, cmd = command
    env = dict(cfg.environment)
    env["FAAS_LAMBDA_COMMAND"] = json.dumps([*entrypoint, *cmd])
    env["FAAS_LAMBDA_HANDLER"] = cmd[0] if cmd else ""  # Lambda's _HANDLER: the image's CMD
    env["FAAS_MEMORY_MB"] = str(max(1, cfg.memory // (1024 * 1024)))
    return replace(cfg, entrypoint=SHIM_ENTRYPOINT, command=(), environment=env)


class ImageCommands:
    """ENTRYPOINT and CMD per image reference, asked of the engine at most every COMMAND_TTL
    seconds: an inspect costs a few milliseconds of a cold start."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._known: dict[str, tuple[float, ImageCommand]] = {}

    async def of(self, image: str) -> ImageCommand:
        found = self._known.get(image)
        if found is not None and time.monotonic() - found[0] <= COMMAND_TTL:
            return found[1]
        command = await self._engine.image_command(image)
        if command is None:
            raise FunctionInitError(f"image {image} is gone: deploy the function again")
        if not command[0] and not command[1]:
            raise FunctionInitError(
                f"image {image} has no ENTRYPOINT or CMD: a Lambda image's CMD names its "
                "handler (for example python3 -m awslambdaric app.handler)"
            )
        if len(self._known) >= _MAX_KNOWN:
            self._known.clear()
        self._known[image] = (time.monotonic(), command)
        return command
