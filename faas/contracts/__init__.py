"""Function contracts: how the gateway talks to an instance once it runs.

Imports: `faas.errors` and the standard library only.
"""
