"""Function contracts: how the gateway talks to an instance once it runs.

`base` is the seam: a `Contract` places an instance before it is created (environment, binds,
network: what the engine must arrange), answers one readiness check while it starts, and gives
its `Endpoint` once it answers; the endpoint sends calls. `native` is faas's own runtime over a
Unix socket or TCP (`transport`: the keep-alive HTTP client on the warm path).

`faas.pool.lifecycle` takes a function's contract from its manifest (`contract:`, chosen in
`faas.pool.contracts`) and sees only `Contract` and `Endpoint` for function instances; generic
runtime containers stay native (their `/_/load`).

The HTTP-image contract (`http_image.py`, for images such as OpenFaaS watchdog ones) places the
instance on the functions' network with no environment or binds (`over_network`), is ready once
`GET /_/health` answers 200 (or 404: an image without it) on its `port` (8080 by default), and
its endpoint forwards the call as plain HTTP (the path without `/call`, hop-by-hop headers
stripped, chunked answers read to the end) over a `transport.Channel` to the instance's address.
Task images (`contract: task`) have no long-lived instance: `faas.pool.tasks` runs one
container per call.
Lambda images (`contract: lambda-image`, images built on the Lambda Runtime API such as
awslambdaric ones) are native instances as far as the pool can tell: `lambda_image` holds the
Runtime API shim that replaces their entrypoint, serves the Runtime API inside the container
and takes faas's calls on the instance's socket as faas's runtime does (the events themselves
are shaped by the gateway, as for `contract: lambda` handlers).

Imports: `faas.errors`, `faas.settings` and the standard library only.
"""
