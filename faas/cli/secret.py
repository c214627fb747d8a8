"""`faas secret create/update/list/remove`: the stack's secrets (values are never shown)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from faas.cli.group import Context, cli, pass_ctx
from faas.errors import BadRequest

F = TypeVar("F", bound=Callable[..., Any])


@cli.group()
def secret() -> None:
    """Secrets, mounted as files into functions that name them (README: Secrets)."""


def _value_options(command: F) -> F:
    command = click.option(
        "--from-literal", "literal", metavar="VALUE", help="The value (visible in shell history)."
    )(command)
    return click.option(
        "--from-file",
        "from_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read the value from a file, byte for byte.",
    )(command)


def _read_value(literal: str | None, from_file: Path | None) -> bytes:
    """--from-literal, --from-file, else stdin (a prompt that does not echo on a terminal)."""
    if literal is not None and from_file is not None:
        raise BadRequest("give --from-literal or --from-file, not both")
    if literal is not None:
        value = literal.encode("utf-8", "surrogateescape")
    elif from_file is not None:
        value = from_file.read_bytes()
    elif sys.stdin.isatty():
        value = click.prompt("value", hide_input=True).encode("utf-8", "surrogateescape")
    else:
        value = sys.stdin.buffer.read()
        if value.endswith(b"\n"):  # what `echo` and here-strings add
            value = value[:-2] if value.endswith(b"\r\n") else value[:-1]
    if not value:
        raise BadRequest("the secret's value is empty")
    return value


@secret.command("create")
@click.argument("name")
@_value_options
@pass_ctx
def secret_create(ctx: Context, name: str, literal: str | None, from_file: Path | None) -> None:
    """Create secret NAME from --from-literal, --from-file or stdin."""
    value = _read_value(literal, from_file)
    with ctx.client() as client:
        client.create_secret(name, value)
    click.echo(f"created secret {name}")


@secret.command("update")
@click.argument("name")
@_value_options
@pass_ctx
def secret_update(ctx: Context, name: str, literal: str | None, from_file: Path | None) -> None:
    """Replace secret NAME's value; running instances that use it are replaced."""
    value = _read_value(literal, from_file)
    with ctx.client() as client:
        client.update_secret(name, value)
    click.echo(f"updated secret {name}")


@secret.command("list")
@pass_ctx
def secret_list(ctx: Context) -> None:
    """List the secrets' names (values are never shown)."""
    with ctx.client() as client:
        names = client.secrets()
    click.echo("\n".join(names) if names else "no secrets (see `faas secret create`)")


@secret.command("remove")
@click.argument("name")
@pass_ctx
def secret_remove(ctx: Context, name: str) -> None:
    """Remove secret NAME (refused while a deployed function names it)."""
    with ctx.client() as client:
        client.remove_secret(name)
    click.echo(f"removed secret {name}")
