"""Function records and gateway heartbeats in Redis (one of the two homes of `redis`).

Imports: `faas.manifest` and the shared base modules.
"""
