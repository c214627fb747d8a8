"""`faas new NAME --lang L`: a function folder from a template shipped with faas, with a handler,
a faas.yaml and a unit test that passes as it is (faas/templates/<lang>/*.tmpl, `{{name}}` and
`{{base_image}}` filled in)."""

from __future__ import annotations

from pathlib import Path

import click

from faas.cli.group import Context, cli, pass_ctx
from faas.errors import ManifestError
from faas.manifest.spec import validate_name

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANGS = ("python", "python-lambda", "node", "dockerfile")
NEXT_STEPS = {
    "python": "python -m pytest -q",
    "python-lambda": "python -m pytest -q",
    "node": "node --test",
    "dockerfile": "python -m pytest -q",
}


def render_template(lang: str, name: str, target: Path, base_image: str) -> list[Path]:
    """Write the template's files into the new folder `target`; return them."""
    target.mkdir(parents=True)
    written = []
    for source in sorted((TEMPLATES / lang).glob("*.tmpl")):
        text = source.read_text(encoding="utf-8")
        text = text.replace("{{name}}", name).replace("{{base_image}}", base_image)
        path = target / source.name.removesuffix(".tmpl")
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@cli.command("new")
@click.argument("name")
@click.option(
    "--lang",
    type=click.Choice(LANGS),
    default="python",
    show_default=True,
    help="python: handle(event, context); python-lambda: `contract: lambda`; node: Node.js; "
    "dockerfile: an HTTP server image of your own.",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Where to create the folder NAME [default: here].",
)
@pass_ctx
def new(ctx: Context, name: str, lang: str, parent: Path) -> None:
    """Create a function folder NAME from a template: handler, faas.yaml and a unit test."""
    try:
        validate_name(name, "NAME")
    except ManifestError as exc:
        raise click.BadParameter(exc.message.split(": ", 1)[-1], param_hint="NAME") from None
    target = parent / name
    if target.exists():
        raise click.ClickException(f"{target} already exists: choose another name or --dir")
    # A Dockerfile starts FROM the Python base image in use (a local one when there is no registry).
    render_template(lang, name, target, ctx.settings.base_image)
    click.echo(f"created {target} ({lang})")
    click.echo(f"  test it:   cd {target} && {NEXT_STEPS[lang]}")
    click.echo(f"  deploy it: faas deploy {target} && faas invoke {name}")
