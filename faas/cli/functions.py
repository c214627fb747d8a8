"""`faas deploy/list/describe/invoke/logs/remove`: functions through the gateway's API."""

from __future__ import annotations

import base64
import re
import sys
import time
from pathlib import Path

import click

from faas.build.images import FUNCTION_REPOSITORY
from faas.cli.build_log import BuildLog
from faas.cli.group import Context, cli, output_option, pass_ctx, table, to_json
from faas.cli.keys import api_summary
from faas.cli.readiness import wait_until_servable
from faas.client import error_from
from faas.errors import BadRequest, FaasError

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token

# -- functions -----------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-f",
    "--yaml",
    "stack_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="An OpenFaaS stack file (stack.yml) to deploy.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the result (no progress line).")
@click.option("-v", "--verbose", is_flag=True, help="Print the whole build log as it runs.")
@click.option(
    "--no-wait", is_flag=True, help="Return once registered, before a container is ready."
)
@pass_ctx
def deploy(
    ctx: Context,
    paths: tuple[Path, ...],
    stack_files: tuple[Path, ...],
    quiet: bool,
    verbose: bool,
    no_wait: bool,
) -> None:
    """Build each function folder's image (unchanged code is not rebuilt), import its handler
    once, and register it. The build log is shown on failure, or as it runs with -v. Returns
    once a warm or generic container can serve the first call, if the manifest allows one.

    A stack.yml (with -f, or a folder holding one) deploys OpenFaaS python3-http functions;
    a SAM template (template.yaml) deploys its AWS::Serverless::Function resources."""
    from faas.build.folder import build_folder, read_folder
    from faas.cli.lambda_cli import deploy_template
    from faas.cli.stack_deploy import deploy_stack, stack_file_of
    from faas.engines.docker import DockerBackend
    from faas.manifest.sam import is_sam_template

    if not paths and not stack_files:
        raise click.UsageError("give function folders, or -f stack.yml")
    loud = verbose and not quiet
    progress = (lambda line: click.echo(f"  {line}")) if loud else (lambda line: None)
    templates: list[Path] = []
    stacks = list(stack_files)
    folders: list[Path] = []
    for path in paths:
        if is_sam_template(path):  # before stack files: both are YAML files
            templates.append(path)
        elif (found := stack_file_of(path)) is not None:
            stacks.append(found)
        else:
            read_folder(path)  # every manifest is checked before anything is built
            folders.append(path)
    for stack_file in stacks:  # a stack file may name its own gateway
        deploy_stack(ctx, stack_file, progress)
    for template in templates:
        deploy_template(ctx, template, not loud)
    if not folders:
        return
    with ctx.client(timeout=5) as client:
        client.reachable()  # before any build: a stopped gateway is said at once
    backend = DockerBackend()
    log = BuildLog(verbose=loud)
    with ctx.client() as client:
        for path in folders:
            if log.verbose:
                click.echo(f"building {path}")
            elif not quiet:
                log.start(f"building {path}")
            try:
                spec, built = build_folder(backend, path, ctx.settings, progress=log)
            except FaasError:
                log.failed()
                raise
            log.done()
            record = client.register(spec.to_manifest(), built.tag, built.code_hash)
            verb = "deployed" if record.get("version", 1) == 1 else "updated"
            if not no_wait:
                wait_until_servable(client, spec.name)
            click.echo(f"{verb} {spec.name} ({built.tag}): {record['url']}")
            lagging = record.get("lagging_gateways")
            if lagging:
                click.echo(
                    f"warning: gateway(s) {', '.join(lagging)} did not take the new code within "
                    "FAAS_DEPLOY_WAIT: they may answer with the previous code for a while",
                    err=True,
                )


@cli.command("list")
@output_option
@pass_ctx
def list_(ctx: Context, output: str) -> None:
    """List deployed functions with their containers and counters."""
    with ctx.client() as client:
        records = client.functions()
    if output == "json":
        click.echo(to_json(records))
        return
    if not records:
        click.echo("no functions deployed (see `faas deploy`)")
        return
    rows = [["NAME", "IMAGE", "SCALE", "READY", "BUSY", "PAUSED", "CALLS", "COLD", "URL"]]
    for r in records:
        c = r.get("containers", {})
        scale = r["config"]["scale"]
        rows.append(
            [
                r["name"],
                r["image"],
                f"{scale['min']}-{scale['max']}",
                str(c.get("ready", 0)),
                str(c.get("busy", 0)),
                str(c.get("paused", 0)),
                str(r.get("calls", 0)),
                str(r.get("starts", {}).get("cold", 0)),
                r["url"],
            ]
        )
    table(rows)


@cli.command()
@click.argument("name")
@output_option
@pass_ctx
def describe(ctx: Context, name: str, output: str) -> None:
    """Show one function: config, image, containers, counters."""
    with ctx.client() as client:
        r = client.function(name)
    if output == "json":
        click.echo(to_json(r))
        return
    cfg = r["config"]
    click.echo(f"name:         {r['name']}")
    click.echo(f"url:          {r['url']}")
    click.echo(f"image:        {r['image']}")
    if r.get("contract"):  # an image function (faas.manifest.images)
        click.echo(f"contract:     {r['contract']} (port {r['port']})")
        relaxed = "; ".join(r.get("relaxed") or []) or "nothing (all hardening defaults on)"
        click.echo(f"relaxed:      {relaxed}")
    else:
        lang = cfg.get("lang", "python")
        lang_note = "" if lang == "python" else f"   lang: {lang}"
        click.echo(f"handler:      {cfg['handler']}{lang_note}")
    for key in ("labels", "annotations"):
        if cfg.get(key):
            pairs = ", ".join(f"{k}={v}" for k, v in cfg[key].items())
            click.echo(f"{key + ':':<13} {pairs}")
    click.echo(f"timeout:      {cfg['timeout']}   memory: {cfg['memory']}   cpus: {cfg['cpus']}")
    click.echo(
        f"scale:        min {cfg['scale']['min']}, max {cfg['scale']['max']}   "
        f"concurrency: {cfg['concurrency']}   keep_alive: {cfg['keep_alive']}"
    )
    click.echo(f"network:      {'yes' if cfg['network'] else 'no'}")
    api = api_summary(cfg)
    if api:
        click.echo(f"api:          {api}")
    if cfg.get("environment"):  # the gateway masks the values
        click.echo(f"environment:  {', '.join(f'{k}={v}' for k, v in cfg['environment'].items())}")
    if cfg.get("secrets"):
        click.echo(f"secrets:      {', '.join(cfg['secrets'])} (files in /var/openfaas/secrets)")
    containers = ", ".join(f"{k} {v}" for k, v in r.get("containers", {}).items()) or "none"
    click.echo(f"containers:   {containers}")
    generic = r.get("generic")
    if generic:
        if generic["eligible"]:
            spares = f"cold calls load into a generic runtime ({generic['spares']} ready)"
        else:
            spares = f"not used: {generic['reason']}"
        click.echo(f"generic:      {spares}")
    starts = ", ".join(f"{k} {v}" for k, v in r.get("starts", {}).items())
    click.echo(f"calls:        {r.get('calls', 0)} ({r.get('errors', 0)} errors; starts: {starts})")
    click.echo(f"version:      {r.get('version', 1)} (updated {time.ctime(r['updated_at'])})")


@cli.command()
@click.argument("name")
@click.option(
    "-d", "--data", default="", help="Request body, or @FILE to read it from a file (@- for stdin)."
)
@click.option(
    "-H", "--header", "headers", multiple=True, metavar="K:V", help="Request header (repeatable)."
)
@click.option("-X", "--method", default="POST", show_default=True, help="HTTP method.")
@click.option("--path", default="", help="Path after /function/NAME.")
@click.option("--async", "is_async", is_flag=True, help="Queue the call and print its call id.")
@click.option("--wait", is_flag=True, help="With --async: follow the call, print its result.")
@click.option("--idempotency-key", metavar="KEY", help="With --async: queue KEY's call only once.")
@click.option("--callback", metavar="URL", help="With --async: POST the result to URL.")
@click.option("-i", "--include", is_flag=True, help="Print the status line and response headers.")
@click.option(
    "--event",
    "event_file",
    metavar="FILE",
    help="Invoke as Lambda does with this JSON event (- for stdin).",
)
@click.option("--log", is_flag=True, help="With --event: print the call's log lines to stderr.")
@pass_ctx
def invoke(
    ctx: Context,
    name: str,
    data: str,
    headers: tuple[str, ...],
    method: str,
    path: str,
    is_async: bool,
    wait: bool,
    idempotency_key: str | None,
    callback: str | None,
    include: bool,
    event_file: str | None,
    log: bool,
) -> None:
    """Call a function and print its response; exit 1 when it answers with an error status."""
    if event_file is not None:
        from faas.cli.lambda_cli import invoke_event

        invoke_event(ctx, name, event_file, log)
        return
    body = _read_data(data)
    if is_async or wait:
        extra = parse_headers(headers)
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        if callback:
            extra["X-Callback-Url"] = callback
        _invoke_async(ctx, name, body, method.upper(), path, extra, wait)
        return
    with ctx.client() as client:
        response = client.invoke(
            name, body, method=method.upper(), path=path, headers=parse_headers(headers)
        )
    if response.status_code >= 400 and "x-faas-start" not in response.headers:
        raise error_from(response)  # the gateway's own error, not the function's answer
    if include:
        click.echo(f"HTTP {response.status_code} {response.reason_phrase}", err=True)
        for key, value in response.headers.items():
            click.echo(f"{key}: {value}", err=True)
        click.echo("", err=True)
    write_body(response.content)
    if response.status_code >= 400:
        sys.exit(1)


def write_body(body: bytes) -> None:
    """The body as it is; on a terminal, ended by a newline so the prompt starts on its own
    line (as httpie does: piped or redirected output stays byte for byte the function's)."""
    sys.stdout.buffer.write(body)
    if body and not body.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def _invoke_async(
    ctx: Context,
    name: str,
    body: bytes,
    method: str,
    path: str,
    headers: dict[str, str],
    wait: bool,
) -> None:
    with ctx.client() as client:
        call_id = client.invoke_async(name, body, method=method, path=path, headers=headers)
        if not wait:
            click.echo(call_id)
            return
        click.echo(f"queued {call_id}", err=True)
        record = client.wait_call(
            call_id, lambda r: click.echo(f"{r['status']} (attempt {r['attempts']})", err=True)
        )
    result = record.get("result") or {}
    status = record["status"]
    reason = record.get("dead_letter", {}).get("reason")
    summary = f"{status}{f' ({reason})' if reason else ''}: HTTP {result.get('status', '-')}"
    click.echo(summary + f", {record['attempts']} attempt(s), call {call_id}", err=True)
    if record.get("error") and status != "succeeded":
        click.echo(f"error: {record['error']['message']}", err=True)
    if result:
        encoded = str(result.get("body", ""))
        raw = (
            base64.b64decode(encoded)
            if result.get("body_encoding") == "base64"
            else encoded.encode()
        )
        write_body(raw)
    if status != "succeeded":
        sys.exit(1)


@cli.command()
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@click.option("--before", default=None, help="Only lines before this time (pages back).")
@pass_ctx
def logs(ctx: Context, name: str, follow: bool, tail: int | None, before: str | None) -> None:
    """Print the function's container logs (the newest page); each line carries its call id."""
    with ctx.client() as client:
        result = client.logs(name, tail=tail, before=before)
        for line in result["lines"]:
            click.echo(line)
        if result.get("before") and not follow:
            click.echo(f"(older lines: faas logs {name} --before {result['before']})", err=True)
        since = float(result["now"])
        while follow:
            time.sleep(1.0)
            result = client.logs(name, since=since)
            for line in result["lines"]:
                click.echo(line)
            since = float(result["now"])


@cli.command()
@click.argument("name")
@pass_ctx
def remove(ctx: Context, name: str) -> None:
    """Unregister a function and remove its containers; its image stays until `faas prune`
    (images are shared by functions of the same code, in any stack on this Docker)."""
    with ctx.client() as client:
        image = str(client.function(name).get("image", ""))
        client.remove(name)
        others = sorted(r["name"] for r in client.functions() if r.get("image") == image)
    click.echo(f"removed {name}")
    if image.startswith(f"{FUNCTION_REPOSITORY}:"):
        users = f"used by {', '.join(others)}" if others else "`faas prune` removes it"
        click.echo(f"its image {image} is kept ({users})")


# -- input -------------------------------------------------------------------------------------


def _read_data(data: str) -> bytes:
    if not data.startswith("@"):
        return data.encode()
    if data == "@-":
        return sys.stdin.buffer.read()
    try:
        return Path(data[1:]).read_bytes()
    except OSError as exc:
        raise BadRequest(f"--data {data}: cannot read the file: {exc.strerror}") from None


def parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    """`-H NAME:VALUE` options; HTTP carries only ASCII names (tokens) and printable values."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition(":")
        key, rest = key.strip(), rest.strip()
        if not sep or not _HEADER_NAME.fullmatch(key):
            raise BadRequest(
                f"-H {value!r}: expected NAME:VALUE, NAME in ASCII letters, digits, '-'"
            )
        if not (rest.isascii() and (rest.isprintable() or not rest)):
            raise BadRequest(
                f"-H {value!r}: header values must be printable ASCII "
                "(percent-encode or base64 other text)"
            )
        out[key] = rest
    return out
