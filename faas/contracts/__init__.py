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
A Lambda contract (`lambda_.py`, for images with the Runtime Interface Emulator) places it the
same way, is ready once port 8080 accepts a connection, and its endpoint encodes the call as an
API Gateway proxy event `POST /2015-03-31/functions/function/invocations` and decodes the proxy
response (`statusCode`, `headers`, `body`, `isBase64Encoded`) back into a `CallResponse`.

Imports: `faas.errors`, `faas.settings` and the standard library only.
"""
