"""The `faas` command: each command parses, calls the client or the stack, and prints.

Imports anything in `faas` below it; never `gateway` (the server starts by import string).
"""
