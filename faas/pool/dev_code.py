"""Code pushed by `faas dev`: served by generic runtimes without building an image.

A function that a generic runtime can serve (no dependencies of its own, on the gateway's base
image) needs nothing from its image but its code. `faas dev` sends the folder's files on each
edit (`PUT /system/function/{name}/code`); they replace the code read from the image for this
gateway's calls until the function is deployed again, the code is dropped
(`DELETE .../code`) or the function removed. The containers holding the old code are retired,
so the next call loads the new code into a spare (a few milliseconds), or into a generic
container started for it when no spare is left: never the stale image.

Kept in this gateway's memory only: other gateways (queue workers of `faas up --workers`)
serve the last deployed image. A development tool, not a way to deploy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from faas.build.code_bundle import CodeFile


@dataclass(frozen=True)
class DevCode:
    code_hash: str
    files: list[CodeFile]
    loaded_at: float  # epoch seconds

    def describe(self) -> dict[str, object]:
        return {"code_hash": self.code_hash, "files": len(self.files), "loaded_at": self.loaded_at}


class DevCodes:
    """Pushed code by function name."""

    def __init__(self) -> None:
        self._by_name: dict[str, DevCode] = {}

    def put(self, name: str, code_hash: str, files: list[CodeFile]) -> DevCode:
        code = DevCode(code_hash, files, time.time())
        self._by_name[name] = code
        return code

    def get(self, name: str) -> DevCode | None:
        return self._by_name.get(name)

    def drop(self, name: str) -> bool:
        return self._by_name.pop(name, None) is not None
