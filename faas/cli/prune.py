"""`faas prune`: remove the function images no deployed function and no container uses.

Function images are named by a hash of their contents (faas.build.images), so every change
of code leaves the previous image behind, and `faas remove` leaves the removed function's
(another function may share it). Kept: images a function of this gateway's stack is
registered with, and images any container was created from; each kept one is named with
what keeps it. Only faas's own function images are considered, never images faas did not build.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import click

from faas.build.images import FUNCTION_REPOSITORY
from faas.cli.group import Context, cli, pass_ctx


@dataclass(frozen=True)
class Verdict:
    tag: str
    kept_by: str  # "" when the image is to be removed


def plan(
    images: list[tuple[str, str]],
    functions: dict[str, list[str]],
    container_images: set[str],
) -> list[Verdict]:
    """Each image, kept (by which functions, or by a container) or not."""
    verdicts = []
    for tag, image_id in sorted(images):
        if tag in functions:
            kept_by = "used by " + ", ".join(sorted(functions[tag]))
        elif image_id in container_images:
            kept_by = "a container was created from it"
        else:
            kept_by = ""
        verdicts.append(Verdict(tag, kept_by))
    return verdicts


@cli.command()
@click.argument("only", nargs=-1, metavar="[IMAGE]...")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@pass_ctx
def prune(ctx: Context, only: tuple[str, ...], dry_run: bool) -> None:
    """Remove function images that no deployed function and no container uses (only the
    IMAGEs given, if any); name the ones kept and why."""
    from faas.engines.docker import DockerBackend

    with ctx.client() as client:  # what is deployed: without the gateway, nothing is known
        records = client.functions()
    functions: dict[str, list[str]] = defaultdict(list)
    for record in records:
        functions[str(record["image"])].append(str(record["name"]))
    backend = DockerBackend()
    images = [(tag, image_id) for tag, image_id, _size in backend.list_images(FUNCTION_REPOSITORY)]
    if only:
        images = [image for image in images if image[0] in only]
    verdicts = plan(images, functions, backend.images_in_use())
    for verdict in verdicts:
        if verdict.kept_by:
            click.echo(f"kept     {verdict.tag}  ({verdict.kept_by})")
            continue
        if not dry_run:
            backend.remove_image(verdict.tag)
        click.echo(f"{'would remove' if dry_run else 'removed'}  {verdict.tag}")
    removed = sum(1 for v in verdicts if not v.kept_by)
    kept = len(verdicts) - removed
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {removed} image(s); kept {kept}")
