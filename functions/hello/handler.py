"""Greets whoever the request body names: `curl -X POST .../function/hello -d world`."""

import os


def handle(event, context):
    who = event.text().strip() or event.query.get("name", "world")
    greeting = os.environ.get("GREETING", "Hello")
    return f"{greeting}, {who}!\n"
