"""The warm-container pool: which container serves a call, and its life from start to removal.

Where a call goes, from the gateway to the container and back:
1. `gateway.sync_calls` (or the queue's consumer, or a trigger) calls `Invoker.call`
   (invoker.py, the call path) with the function's record.
2. The call path asks the function's `FunctionPool` (policy.py, pure decisions) what to do:
   reuse an idle container (warm, or resume a paused one), create one, or wait in line (FIFO;
   429 after FAAS_QUEUE_TIMEOUT). Creating goes through `Instances` (instances.py): it
   specialises a generic spare (generic.py) or starts a container through `Lifecycle`
   (lifecycle.py, the pool's only way to the engine; hardening.py says how a container is
   confined), after the memory budget (budget.py) has made room.
3. The request goes to the container's `Endpoint` (faas.contracts) and the response back to the
   caller, with a `CallTrace` (trace.py) of its phases and start kind; accounting.py counts it
   (stats, recent calls of recent.py, Prometheus metrics of metrics.py).
Between calls, maintenance.py owns every background tick of the gateway (heartbeat, functions
changed elsewhere, orphans, engine events) and drives upkeep.py (expiry, pause, scale.min).

Imports: engines, contracts, build, registry, manifest and the shared base modules; never
`gateway`, `faas.queue`, `faas.stack` or `faas.cli`.
"""
