"""Container engines: how function instances are created, found and removed.

The only layer that talks to a container engine. `faas.engines.docker` is the one module that
imports `docker`; its errors are translated there into `faas.errors`. Imports: `faas.errors`,
`faas.keys`, `faas.settings`, `faas.units` and the standard library only.
"""
