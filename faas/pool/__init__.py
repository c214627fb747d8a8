"""The call path and the warm-container pool: which instance serves a call, and its lifecycle.

Imports: engines, contracts, build, registry, manifest and the shared base modules; never
`gateway`, `faas.queue`, `faas.stack` or `faas.cli`.
"""
