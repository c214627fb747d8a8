"""`faas`: a thin command line over the gateway API, the image builder and the local stack.

Each command parses, calls, prints. A `FaasError` becomes one line on stderr and exit status 1;
usage errors exit 2 (click's convention).
"""

from __future__ import annotations

import sys

import click

import faas.cli.dev  # registers `faas dev`
import faas.cli.local_run  # registers `faas run`
import faas.cli.new  # registers `faas new`
import faas.cli.node_images  # noqa: F401  (registers `faas images bootstrap-node`)
from faas.cli import (  # noqa: F401  (register commands)
    dead_letters,
    functions,
    keys,
    lambda_cli,
    platform,
    prune,
    secret,
)
from faas.cli.group import cli
from faas.errors import FaasError

__all__ = ["cli", "main"]


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FaasError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
