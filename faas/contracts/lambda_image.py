"""Lambda images (`contract: lambda-image`): an image built on the Lambda Runtime API, such as
AWS's base images or any base with `awslambdaric`, runs unchanged.

Such an image's ENTRYPOINT/CMD (for example `python -m awslambdaric app.handler`) starts a
runtime client that asks the Runtime API at AWS_LAMBDA_RUNTIME_API for events. AWS's Runtime
Interface Emulator is not in `awslambdaric`, so faas serves that API itself, inside the
container: faas replaces the entrypoint with `runtime_api_shim.py` (standard library only,
passed as `python3 -I -S -c <source>`), which serves the Runtime API on the container's own
127.0.0.1, starts the image's entrypoint and command as its child, and takes faas's calls on
the instance's Unix socket exactly as faas's own runtime does. So the instance is placed,
probed, sealed and called as a native one (`NativeContract`): same socket folder, same
readiness (the shim accepts calls only once the runtime asked for its first event, that is once
the handler's module is loaded), same warm path, same isolation (`network: false` functions
stay without any network; the Runtime API never leaves the container).

Why not serve the Runtime API from the gateway over TCP instead: every Lambda-image function
would need the network (and the gateway would be reachable from it), each warm call would cost
two TCP exchanges through the gateway's loop (the runtime's long-poll `next`, then its
`response`) instead of one socket round trip, and the call would need a per-instance routing
table in the gateway. The shim costs one Python process per instance (about 8 MiB) and needs
`python3` on the image's PATH, which every awslambdaric image has.

The image's ENTRYPOINT and CMD are read from the engine and the container created with the
shim in front (`faas.pool.lambda_images`, which may import the engine's types).
"""

from __future__ import annotations

from pathlib import Path

SHIM_SOURCE = (Path(__file__).parent / "runtime_api_shim.py").read_text(encoding="utf-8")
# -I: the image's PYTHON* settings are for its runtime, not for the shim; -S: no site (faster).
SHIM_ENTRYPOINT = ("python3", "-I", "-S", "-c", SHIM_SOURCE)
