"""`faas deploy -f stack.yml` (or a folder holding one): OpenFaaS stack files.

Every function is validated first (nothing is built when one is wrong), then each handler
folder is built on faas's runtime, as `faas deploy` builds a function folder (a `lang:
dockerfile` folder: its own Dockerfile, an HTTP image), and registered
through faas's API. The stack's `provider.gateway` is used unless `--gateway` or FAAS_GATEWAY
says otherwise.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import click

from faas.cli.group import Context
from faas.manifest.stack_yml import DOCKERFILE_LANG, find_stack_file, load_stack


def stack_file_of(path: Path) -> Path | None:
    """The stack file `path` names: the file itself, or a folder's stack.yml without faas.yaml."""
    if path.is_file() and path.suffix in (".yml", ".yaml"):
        return path
    if path.is_dir() and not (path / "faas.yaml").is_file():
        return find_stack_file(path)
    return None


def deploy_stack(ctx: Context, path: Path, progress: Callable[[str], None]) -> None:
    from faas.build.handler_check import check_handler
    from faas.build.images import build_function_image
    from faas.build.user_image import build_user_image
    from faas.engines.docker import DockerBackend

    stack = load_stack(path)
    settings = ctx.settings
    explicit = "FAAS_GATEWAY" in os.environ or click.get_current_context().find_root().params.get(
        "gateway"
    )
    if stack.gateway and not explicit:
        settings = dataclasses.replace(settings, gateway_url=stack.gateway.rstrip("/"))
    backend = DockerBackend()
    with Context(settings).client() as client:
        for function in stack.functions:
            spec = function.spec
            for note in function.notes:
                click.echo(f"note: {note}")
            kind = spec.lang if spec.on_runtime else DOCKERFILE_LANG
            click.echo(f"building {spec.name} ({kind}) from {function.folder}")
            if not spec.on_runtime:
                built = build_user_image(backend, function.folder, spec, progress)
            else:
                built = build_function_image(
                    backend,
                    function.folder,
                    spec.name,
                    base_image=settings.base_image,
                    ca_bundle=settings.build_ca_bundle,
                    progress=progress,
                )
                check_handler(backend, built.tag, spec)  # a handler that cannot load fails here
            record = client.register(spec.to_manifest(), built.tag, built.code_hash)
            verb = "deployed" if record.get("version", 1) == 1 else "updated"
            click.echo(f"{verb} {spec.name} ({built.tag}): {record['url']}")
