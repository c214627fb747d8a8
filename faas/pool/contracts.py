"""Which contract starts a function's instances: the one its manifest names (`contract:`).

Native functions share one `NativeContract`, and so do Lambda images (their Runtime API shim
takes calls as faas's runtime does: faas.contracts.lambda_image); HTTP images get one
`HttpImageContract` per port.
Task images (`contract: task`) have no long-lived instance to place: `faas.pool.tasks` runs
one container per call instead (asking for their contract here is a BadRequest).
"""

from __future__ import annotations

from faas.contracts.base import Contract, Endpoint
from faas.contracts.http_image import HttpImageContract
from faas.contracts.native import NativeContract
from faas.errors import BadRequest
from faas.manifest.spec import FunctionSpec
from faas.settings import Settings


class ContractChoice:
    def __init__(self, settings: Settings, native: NativeContract) -> None:
        self._settings = settings
        self._native = native
        self._http: dict[int, HttpImageContract] = {}

    def of(self, spec: FunctionSpec) -> Contract[Endpoint]:
        if spec.on_runtime or spec.contract == "lambda-image":
            return self._native  # faas's runtime, or the Runtime API shim speaking as it does
        if spec.contract == "http":
            contract = self._http.get(spec.port)
            if contract is None:
                contract = self._http[spec.port] = HttpImageContract(self._settings, spec.port)
            return contract
        raise BadRequest(
            f"function {spec.name!r} is a task (`contract: task`): it runs one container per "
            "call and keeps none to start ahead"
        )
