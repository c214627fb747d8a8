"""`faas up` / `faas down` / `faas status`: the local stack of Redis and gateways.

Imports: engines, registry, the HTTP client and the shared base modules; never `gateway` (the
gateway is started as a process by its import string).
"""
