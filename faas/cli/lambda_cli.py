"""Lambda users' commands: `faas deploy template.yaml` (a SAM template, through
`deploy_template`), `faas invoke NAME --event event.json` (`invoke_event`, the Lambda Invoke
API) and `faas event generate apigateway|sqs|schedule` (like `sam local generate-event`)."""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click

from faas.cli.group import Context, cli
from faas.client import error_from
from faas.errors import BadRequest


def deploy_template(ctx: Context, path: Path, quiet: bool) -> None:
    """Build and register every AWS::Serverless::Function; print what was skipped."""
    from faas.build.handler_check import check_handler
    from faas.build.images import build_function_image
    from faas.engines.docker import DockerBackend
    from faas.manifest.sam import load_template

    template = load_template(path)
    backend = DockerBackend()
    with ctx.client() as client:
        for function in template.functions:
            spec = function.spec
            click.echo(f"building {function.logical_id} ({function.code})")
            built = build_function_image(
                backend,
                function.code,
                spec.name,
                base_image=ctx.settings.base_image,
                ca_bundle=ctx.settings.build_ca_bundle,
                progress=(lambda line: None) if quiet else (lambda line: click.echo(f"  {line}")),
            )
            check_handler(backend, built.tag, spec)  # a handler that cannot load fails here
            record = client.register(spec.to_manifest(), built.tag, built.code_hash)
            verb = "deployed" if record.get("version", 1) == 1 else "updated"
            click.echo(f"{verb} {spec.name} ({built.tag}): {record['url']}")
            for route in function.routes:
                method, _, route_path = route.partition(" ")
                click.echo(f"  {method} {record['url']}{route_path}")
            for trigger in spec.triggers:
                click.echo(f"  trigger: {trigger}")
    for line in template.skipped:
        click.echo(f"skipped: {line}", err=True)
    if not template.functions:
        raise BadRequest(f"{path}: no AWS::Serverless::Function that faas can deploy")


def invoke_event(ctx: Context, name: str, event_file: str, log: bool) -> None:
    """POST the event file through the Lambda Invoke API and print the function's result."""
    if event_file == "-":
        payload = sys.stdin.buffer.read()
    else:
        try:
            payload = Path(event_file).read_bytes()
        except OSError as exc:
            raise BadRequest(f"--event: cannot read {event_file}: {exc.strerror}") from None
    try:
        json.loads(payload or b"{}")
    except ValueError as exc:
        raise BadRequest(f"--event: {event_file} is not JSON ({exc})") from None
    headers = {"Content-Type": "application/json"}
    if log:
        headers["X-Amz-Log-Type"] = "Tail"
    with ctx.client() as client:
        response = client.request(
            "POST", f"/2015-03-31/functions/{name}/invocations", content=payload, headers=headers
        )
    if response.status_code >= 400:
        raise error_from(response)
    if log and "x-amz-log-result" in response.headers:
        click.echo(base64.b64decode(response.headers["x-amz-log-result"]).decode(), err=True)
    sys.stdout.buffer.write(response.content + b"\n")
    sys.stdout.flush()
    if "x-amz-function-error" in response.headers:
        sys.exit(1)


@cli.group()
def event() -> None:
    """Sample Lambda events, for `faas invoke NAME --event FILE`."""


@event.command("generate")
@click.argument("source", type=click.Choice(["apigateway", "apigateway-v1", "sqs", "schedule"]))
@click.option("--path", default="/hello", show_default=True, help="apigateway: the request path.")
@click.option("--method", default="GET", show_default=True, help="apigateway: the HTTP method.")
@click.option("--body", default="", help="apigateway/sqs: the body.")
@click.option("--queue", default="my-queue", show_default=True, help="sqs: the queue (stream).")
def generate(source: str, path: str, method: str, body: str, queue: str) -> None:
    """Print a sample event (apigateway is an HTTP API v2 event, apigateway-v1 a REST one)."""
    from faas.lambda_events import api_gateway_event, scheduled_event, sqs_event

    sample: Any
    if source.startswith("apigateway"):
        version = "apigateway-v1" if source == "apigateway-v1" else "apigateway-v2"
        headers = [(b"content-type", b"application/json"), (b"host", b"localhost")]
        route, _, query = path.partition("?")
        sample = api_gateway_event(
            version, method.upper(), route.encode(), query.encode(), headers, body.encode()
        )
    elif source == "sqs":
        entry = f"{int(time.time() * 1000)}-0"
        fields = {b"body": (body or "Hello from SQS!").encode()}
        sample = json.loads(sqs_event(queue, [(entry, fields, 1)]))
        sample["Records"][0]["body"] = body or "Hello from SQS!"
    else:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sample = json.loads(scheduled_event("my-function", 0, "@every 5m", now))
        sample["id"] = str(uuid.uuid4())
    click.echo(json.dumps(sample, indent=2))
