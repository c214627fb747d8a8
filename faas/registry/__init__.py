"""Function records and gateway heartbeats in Redis (one of the two homes of `redis`).

`store.Registry` writes records and their change feed (a revision bumped with every put and
delete); `catalog.Catalog` is a gateway's in-memory view that follows that feed;
`redis_errors.translated` turns Redis failures into faas errors for the registry and the queue.

Imports: `faas.manifest` and the shared base modules.
"""
