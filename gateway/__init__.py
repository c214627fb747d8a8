"""The faas gateway: a Starlette application that routes HTTP calls to function containers.

`gateway` imports `faas`; `faas` never imports `gateway` (the CLI starts it by import string).
"""
