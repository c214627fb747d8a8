"""`faas run PATH`: build a function folder and call it once in a container of its own, with no
gateway, Redis or registration (SAM's `sam local invoke`). The container is hardened and
started exactly as the pool starts one (faas.pool.lifecycle), labelled with a gateway id of
its own, and removed afterwards, also on Ctrl-C or a failed start. Its log follows the answer.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import click

from faas.cli.functions import _read_data, parse_headers
from faas.cli.group import Context, cli, pass_ctx
from faas.contracts.base import HOP_BY_HOP, CallRequest, CallResponse
from faas.contracts.transport import ConnectionLost
from faas.errors import BadRequest
from faas.manifest.spec import FunctionSpec
from faas.settings import Settings


async def run_once(
    settings: Settings, spec: FunctionSpec, image: str, request: CallRequest
) -> tuple[CallResponse, bytes]:
    """Start one container for `spec`, send it `request`, remove it: (response, its log)."""
    from faas.engines.docker import DockerEngine
    from faas.pool.lifecycle import Lifecycle

    gateway_id = f"run-{secrets.token_hex(4)}"  # labels the container: cleanup finds only it
    lifecycle = Lifecycle(DockerEngine(), settings, gateway_id, lambda: "")
    try:
        started = await lifecycle.start(spec, image)
        try:
            call_id = f"run-{secrets.token_hex(4)}"
            try:
                response = await started.endpoint.call(request, call_id, spec.timeout)
            except ConnectionLost:  # it died: an init error, out of memory, a crash
                raise await lifecycle.diagnose(spec, started.container_id) from None
            log = await lifecycle.engine.logs(started.container_id)
        finally:
            await asyncio.shield(lifecycle.remove(started.container_id, started.endpoint))
    finally:
        await lifecycle.close()
    return response, log


@cli.command("run")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-d", "--data", default="", help="Request body; @file reads a file, @- stdin.")
@click.option("-H", "--header", "headers", multiple=True, help="Header NAME:VALUE (repeatable).")
@click.option(
    "-X", "--method", default=None, help="HTTP method [default POST with data, else GET]."
)
@click.option("--path", default="/", show_default=True, help="Path after the function's name.")
@click.option("-i", "--include", is_flag=True, help="Print the status line and headers too.")
@click.option("-q", "--quiet", is_flag=True, help="Do not show build progress or the log.")
@pass_ctx
def run(
    ctx: Context,
    folder: Path,
    data: str,
    headers: tuple[str, ...],
    method: str | None,
    path: str,
    include: bool,
    quiet: bool,
) -> None:
    """Build FOLDER and call it once in a container, without a gateway; print its answer,
    then its log. Exit 1 when it answers with an error status."""
    from faas.build.folder import build_folder
    from faas.engines.docker import DockerBackend

    body = _read_data(data)
    if not path.startswith("/"):
        raise BadRequest(f"--path {path!r} must start with '/'")
    target, _, query = path.partition("?")
    progress = (lambda line: None) if quiet else (lambda line: click.echo(f"  {line}", err=True))
    spec, built = build_folder(DockerBackend(), folder, ctx.settings, progress=progress)
    if spec.secrets or spec.redis is not None:
        raise BadRequest(f"{spec.name} uses secrets or a Redis binding: deploy it to a gateway")
    request = CallRequest(
        method=(method or ("POST" if body else "GET")).upper(),
        target=target.encode(),
        query=query.encode(),
        headers=[(k.encode(), v.encode()) for k, v in parse_headers(headers).items()],
        body=body,
    )
    response, log = asyncio.run(run_once(ctx.settings, spec, built.tag, request))
    if include:
        click.echo(f"HTTP {response.status}", err=True)
        for key, value in response.headers:
            if key.lower() in HOP_BY_HOP:
                continue
            click.echo(f"{key.decode('latin-1')}: {value.decode('latin-1')}", err=True)
        click.echo("", err=True)
    sys.stdout.buffer.write(response.body)
    if response.body and not response.body.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    if not quiet and log:
        click.echo(f"--- log of {spec.name} ---", err=True)
        click.echo(log.decode("utf-8", "replace").rstrip("\n"), err=True)
    if response.status >= 400:
        sys.exit(1)
