"""No work: answers 200 with the request body (empty by default)."""


def handle(event, context):
    return event.body
