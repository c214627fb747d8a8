"""Container engines: how function instances are created, found and removed.

The only layer that talks to a container engine. `base` is the seam (`Engine` and the data it
exchanges); `faas.engines.docker` is the one package that imports `docker` (its `backend`
module), and its errors are translated there into `faas.errors`. Imports: `faas.errors`,
`faas.keys`, `faas.settings`, `faas.units` and the standard library only.
"""
