"""`faas`: a thin command line over the gateway API, the image builder and the local stack.

Each command parses, calls, prints. A `FaasError` becomes one line on stderr and exit status 1;
usage errors exit 2 (click's convention).
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from faas import __version__
from faas.client import GatewayClient, error_from
from faas.errors import BadRequest, FaasError
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
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token


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


# -- stack ---------------------------------------------------------------------------------------


@cli.command()
@click.option("--workers", default=0, show_default=True, help="Extra gateways (queue consumers).")
@pass_ctx
def up(ctx: Context, workers: int) -> None:
    """Start the local stack (Redis and the gateway) in the background."""
    from faas.stack.local import Stack

    if not 0 <= workers <= 16:
        raise BadRequest(f"--workers must be from 0 to 16, got {workers}")
    status = Stack(ctx.settings, echo=click.echo).up(workers)
    click.echo(f"gateway  {status.gateway_url}  (log: {status.log})")
    click.echo(f"redis    {status.redis_url}  ({status.redis_how})")


@cli.command()
@pass_ctx
def down(ctx: Context) -> None:
    """Stop the local stack and remove every function container."""
    from faas.stack.local import Stack

    Stack(ctx.settings, echo=click.echo).down()
    click.echo("stopped")


@cli.command()
@pass_ctx
def status(ctx: Context) -> None:
    """Show whether Redis and the gateway are running."""
    from faas.stack.local import Stack

    s = Stack(ctx.settings, echo=click.echo).status()
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
    click_ctx.invoke(up)
    click_ctx.invoke(deploy, paths=tuple(paths), quiet=True)
    url = click_ctx.find_object(Context).settings.gateway_url.rstrip("/")  # type: ignore[union-attr]
    click.echo("")
    click.echo(f"vote:    {url}/function/vote")
    click.echo(f"results: {url}/function/result")
    click.echo("stop it with: faas down")


# -- functions -----------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Do not show build progress.")
@pass_ctx
def deploy(ctx: Context, paths: tuple[Path, ...], quiet: bool) -> None:
    """Build each function folder's image (unchanged code is not rebuilt) and register it."""
    from faas.build.folder import build_folder
    from faas.engines.docker import DockerBackend

    backend = DockerBackend()
    with ctx.client() as client:
        for path in paths:
            click.echo(f"building {path}")
            spec, built = build_folder(
                backend,
                path,
                ctx.settings,
                progress=(lambda line: None) if quiet else (lambda line: click.echo(f"  {line}")),
            )
            record = client.register(spec.to_manifest(), built.tag, built.code_hash)
            verb = "deployed" if record.get("version", 1) == 1 else "updated"
            click.echo(f"{verb} {spec.name} ({built.tag}): {record['url']}")


@cli.command("list")
@pass_ctx
def list_(ctx: Context) -> None:
    """List deployed functions with their containers and counters."""
    with ctx.client() as client:
        records = client.functions()
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
    _table(rows)


@cli.command()
@click.argument("name")
@pass_ctx
def describe(ctx: Context, name: str) -> None:
    """Show one function: config, image, containers, counters."""
    with ctx.client() as client:
        r = client.function(name)
    cfg = r["config"]
    click.echo(f"name:         {r['name']}")
    click.echo(f"url:          {r['url']}")
    click.echo(f"image:        {r['image']}")
    click.echo(f"handler:      {cfg['handler']}")
    click.echo(f"timeout:      {cfg['timeout']}   memory: {cfg['memory']}   cpus: {cfg['cpus']}")
    click.echo(
        f"scale:        min {cfg['scale']['min']}, max {cfg['scale']['max']}   "
        f"concurrency: {cfg['concurrency']}   keep_alive: {cfg['keep_alive']}"
    )
    click.echo(f"network:      {'yes' if cfg['network'] else 'no'}")
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
) -> None:
    """Call a function and print its response; exit 1 when it answers with an error status."""
    body = _read_data(data)
    if is_async or wait:
        extra = _headers(headers)
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        if callback:
            extra["X-Callback-Url"] = callback
        _invoke_async(ctx, name, body, method.upper(), path, extra, wait)
        return
    with ctx.client() as client:
        response = client.invoke(
            name, body, method=method.upper(), path=path, headers=_headers(headers)
        )
    if response.status_code >= 400 and "x-faas-start" not in response.headers:
        raise error_from(response)  # the gateway's own error, not the function's answer
    if include:
        click.echo(f"HTTP {response.status_code} {response.reason_phrase}", err=True)
        for key, value in response.headers.items():
            click.echo(f"{key}: {value}", err=True)
        click.echo("", err=True)
    sys.stdout.buffer.write(response.content)
    sys.stdout.flush()
    if response.status_code >= 400:
        sys.exit(1)


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
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
    if status != "succeeded":
        sys.exit(1)


@cli.command()
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@pass_ctx
def logs(ctx: Context, name: str, follow: bool, tail: int | None) -> None:
    """Print the function's container logs; each line carries its call id."""
    with ctx.client() as client:
        result = client.logs(name, tail=tail)
        for line in result["lines"]:
            click.echo(line)
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
    """Unregister a function and remove its containers."""
    with ctx.client() as client:
        client.remove(name)
    click.echo(f"removed {name}")


@cli.group("dead-letters")
def dead_letters() -> None:
    """Async calls and trigger items that gave up: list, show, redrive."""


@dead_letters.command("list")
@click.option("--function", "function", metavar="NAME", help="Only this function's.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@pass_ctx
def dead_letters_list(ctx: Context, function: str | None, limit: int) -> None:
    """List dead letters, newest first."""
    with ctx.client() as client:
        letters = client.dead_letters(function, limit)
    if not letters:
        click.echo("no dead letters")
        return
    rows = [["ID", "CALL", "FUNCTION", "REASON", "ATTEMPTS", "DEAD AT", "ERROR"]]
    for d in letters:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["dead_at"]))
        error = d["error"]["message"].splitlines()[0][:60] if d["error"]["message"] else ""
        rows.append(
            [d["id"], d["call_id"], d["function"], d["reason"], str(d["attempts"]), when, error]
        )
    _table(rows)


@dead_letters.command("show")
@click.argument("letter_id", metavar="ID")
@pass_ctx
def dead_letters_show(ctx: Context, letter_id: str) -> None:
    """Show one dead letter with its request, as JSON."""
    with ctx.client() as client:
        click.echo(_json(client.dead_letter(letter_id)))


@dead_letters.command("redrive")
@click.argument("letter_ids", metavar="[ID]...", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Redrive every dead letter.")
@click.option("--function", "function", metavar="NAME", help="With --all: only this function's.")
@pass_ctx
def dead_letters_redrive(
    ctx: Context, letter_ids: tuple[str, ...], everything: bool, function: str | None
) -> None:
    """Queue dead letters again as fresh calls (same call ids, attempts reset)."""
    if bool(letter_ids) == everything:
        raise BadRequest("give dead-letter IDs or --all (see `faas dead-letters list`)")
    with ctx.client() as client:
        if everything:
            pairs = [(r["id"], r["call_id"]) for r in client.redrive_all(function)]
        else:
            pairs = [(letter_id, client.redrive(letter_id)) for letter_id in letter_ids]
    for letter_id, call_id in pairs:
        click.echo(f"{letter_id} -> queued {call_id}")
    if not pairs:
        click.echo("nothing to redrive")


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


# -- helpers -------------------------------------------------------------------------------------


def _read_data(data: str) -> bytes:
    if not data.startswith("@"):
        return data.encode()
    if data == "@-":
        return sys.stdin.buffer.read()
    try:
        return Path(data[1:]).read_bytes()
    except OSError as exc:
        raise BadRequest(f"--data {data}: cannot read the file: {exc.strerror}") from None


def _headers(values: tuple[str, ...]) -> dict[str, str]:
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


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


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


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
