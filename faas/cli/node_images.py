"""`faas images bootstrap-node`: the Node.js base image (FAAS_NODE_BASE_IMAGE) from Debian's
nodejs package, built as `faas images bootstrap` builds the Python one (mmdebstrap, no registry)."""

from __future__ import annotations

import click

from faas.cli.platform import images


@images.command("bootstrap-node")
@click.option("--tag", default=None, help="Tag for the image [default faas-node:bookworm].")
@click.option("--force", is_flag=True, help="Rebuild even if the image exists.")
def bootstrap_node(tag: str | None, force: bool) -> None:
    """Build the Node.js base image from Debian packages (no registry needed); print its tag."""
    from faas.build.bootstrap import (
        NODE_CHANGES,
        NODE_PACKAGES,
        NODE_TAG,
        bootstrap_base_image,
    )
    from faas.engines.docker import DockerBackend

    result = bootstrap_base_image(
        DockerBackend(),
        tag=tag or NODE_TAG,
        force=force,
        progress=lambda line: click.echo(f"  {line}", err=True),
        packages=NODE_PACKAGES,
        changes=NODE_CHANGES,
    )
    click.echo(f"use it with: export FAAS_NODE_BASE_IMAGE={result}", err=True)
    click.echo(result)
