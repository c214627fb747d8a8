"""The `faas` command group: settings, the gateway client, add-on commands, output helpers."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from typing import Any

import click

from faas import __version__
from faas.client import GatewayClient
from faas.settings import Settings


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def client(self, timeout: float = 60.0) -> GatewayClient:
        return GatewayClient(self.settings.gateway_url, timeout=timeout, settings=self.settings)


pass_ctx = click.make_pass_decorator(Context)

# Commands that come with another distribution, and how to get it. An installed distribution
# registers its click command in the `faas.commands` entry-point group.
ADD_ONS = {"bench": "pip install -e ./benchmarks (the faas-bench package of a faas checkout)"}


def _add_ons() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group="faas.commands")}


def _missing(name: str) -> click.Command:
    def say_how() -> None:
        click.echo(f"Error: `faas {name}` is not installed: {ADD_ONS[name]}", err=True)
        sys.exit(1)

    return click.Command(
        name,
        callback=say_how,
        help=f"(not installed: {ADD_ONS[name]})",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


class _Cli(click.Group):
    """The built-in commands, then those of installed add-ons (loaded only when used)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *ADD_ONS, *_add_ons()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        add_on = _add_ons().get(name)
        if add_on is not None:
            loaded = add_on.load()
            return loaded if isinstance(loaded, click.Command) else None
        return _missing(name) if name in ADD_ONS else None


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--gateway", metavar="URL", help="Gateway URL [env FAAS_GATEWAY; default http://127.0.0.1:8080]"
)
@click.version_option(__version__, prog_name="faas")
@click.pass_context
def cli(ctx: click.Context, gateway: str | None) -> None:
    """A local, Docker-backed functions-as-a-service runtime."""
    settings = Settings.from_env()
    if gateway:
        settings = Settings(**{**settings.__dict__, "gateway_url": gateway})
    ctx.obj = Context(settings)


def table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the gateway's records as they are, for scripts.",
)
