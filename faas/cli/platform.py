"""`faas up/down/status/demo`, `faas auth rotate` and `faas images bootstrap`: the local stack,
its credentials and its base image."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from faas.cli.functions import deploy
from faas.cli.group import Context, cli, output_option, pass_ctx, to_json
from faas.errors import BadRequest

# -- stack ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--workers", default=0, show_default=True, help="Extra gateways (queue consumers).")
@pass_ctx
def up(ctx: Context, workers: int) -> None:
    """Start the local stack (Redis and the gateway) in the background; first, the base image
    is pulled, or built when it is faas-python:bookworm (see `faas images bootstrap`)."""
    if not 0 <= workers <= 16:
        raise BadRequest(f"--workers must be from 0 to 16, got {workers}")
    start_stack(ctx, workers)


def start_stack(ctx: Context, workers: int = 0, rerun: str = "faas up") -> bool:
    """`faas up`; True when it started the gateway (False: it was running already)."""
    from faas.stack.local import Stack

    stack = Stack(ctx.settings, echo=click.echo)
    was_running = stack.status().gateway_ok
    status = stack.up(workers, rerun=rerun)
    click.echo(f"gateway  {status.gateway_url}  (log: {status.log})")
    click.echo(f"redis    {status.redis_url}  ({status.redis_how})")
    changed = stack.settings_changed() if was_running else []
    if changed:
        click.echo(
            f"warning: the running gateway started with other settings ({', '.join(changed)} "
            "changed since): they apply once it restarts: faas down && faas up",
            err=True,
        )
    return not was_running


@cli.command()
@pass_ctx
def down(ctx: Context) -> None:
    """Stop the local stack and remove every function container."""
    from faas.stack.local import Stack

    Stack(ctx.settings, echo=click.echo).down()
    click.echo("stopped")


@cli.command()
@output_option
@pass_ctx
def status(ctx: Context, output: str) -> None:
    """Show whether Redis and the gateway are running (exit 1 when the gateway is not)."""
    from faas.stack.local import Stack

    s = Stack(ctx.settings, echo=click.echo).status()
    if output == "json":
        click.echo(to_json({**dataclasses.asdict(s), "log": str(s.log)}))
        sys.exit(0 if s.gateway_ok else 1)
    ok = {True: "up", False: "down"}
    click.echo(
        f"gateway  {ok[s.gateway_ok]:5} {s.gateway_url}  "
        f"pid {s.gateway_pid or '-'}  functions {s.functions}"
    )
    click.echo(f"redis    {ok[s.redis_ok]:5} {s.redis_url}  ({s.redis_how})")
    if s.workers:
        click.echo(f"workers  {s.workers} extra gateways (queue consumers)")
    if not s.gateway_ok:
        sys.exit(1)


@cli.command()
@click.option(
    "--functions",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder holding vote, record-vote and result [default: the repository's functions/].",
)
@click.pass_context
def demo(click_ctx: click.Context, folder: Path | None) -> None:
    """Start the stack and deploy the serverless voting app; print the URLs to open."""
    folder = folder or Path(__file__).resolve().parents[2] / "functions"
    paths = [folder / name for name in ("record-vote", "result", "vote")]
    missing = [str(p) for p in paths if not (p / "faas.yaml").is_file()]
    if missing:
        raise BadRequest(f"--functions: no function folder at {', '.join(missing)}")
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    started = start_stack(ctx, rerun="faas demo")
    try:
        click_ctx.invoke(deploy, paths=tuple(paths), quiet=True)
    except BaseException:
        if started:  # a first run that fails leaves nothing running
            from faas.stack.local import Stack

            Stack(ctx.settings, echo=click.echo).down()
        raise
    url = ctx.settings.gateway_url.rstrip("/")
    click.echo("")
    click.echo(f"vote:    {url}/function/vote")
    click.echo(f"results: {url}/function/result")
    click.echo("stop it with: faas down")


# -- credentials ---------------------------------------------------------------------------------


@cli.group()
def auth() -> None:
    """The control plane's credentials (README: Trust model)."""


@auth.command()
@pass_ctx
def rotate(ctx: Context) -> None:
    """Replace the password with a new one; running gateways keep the old one until restarted."""
    from faas import credentials

    credentials.rotate(ctx.settings)
    click.echo(f"new password in {ctx.settings.password_file}")
    click.echo("restart the gateways to use it: faas down && faas up")


# -- images --------------------------------------------------------------------------------------


@cli.group()
def images() -> None:
    """Manage base images."""


@images.command()
@click.option("--tag", default=None, help="Tag for the image [default faas-python:bookworm].")
@click.option("--force", is_flag=True, help="Rebuild even if the image exists.")
def bootstrap(tag: str | None, force: bool) -> None:
    """Build the Python base image from Debian packages (no registry needed); print its tag."""
    from faas.build.bootstrap import DEFAULT_TAG, bootstrap_base_image
    from faas.engines.docker import DockerBackend

    result = bootstrap_base_image(
        DockerBackend(),
        tag=tag or DEFAULT_TAG,
        force=force,
        progress=lambda line: click.echo(f"  {line}", err=True),
    )
    click.echo(f"use it with: export FAAS_BASE_IMAGE={result}", err=True)
    click.echo(result)
