"""`faas key create/list/revoke`: API keys for functions with `auth: api-key`."""

from __future__ import annotations

import time
from typing import Any

import click

from faas.cli.group import Context, cli, pass_ctx, table
from faas.errors import BadRequest


@cli.group("key")
def key() -> None:
    """API keys for functions with auth: api-key: create, list, revoke."""


@key.command("create")
@click.option("--name", default="", help="What the key is for (shown by `faas key list`).")
@click.option(
    "--function", "functions", metavar="NAME", multiple=True,
    help="Only this function (repeat for more); default: every function with auth: api-key.",
)  # fmt: skip
@click.option("--rate", metavar="RATE", help="The key's own rate limit: 10/s, 600/m, 1000/h.")
@click.option("--burst", type=click.IntRange(1), help="With --rate: calls allowed at once.")
@click.option("--quota", metavar="N/PERIOD", help="The key's quota: 1000/day (minute ... month).")
@pass_ctx
def key_create(
    ctx: Context,
    name: str,
    functions: tuple[str, ...],
    rate: str | None,
    burst: int | None,
    quota: str | None,
) -> None:
    """Create a key and print it: it is shown this once, never again."""
    if burst is not None and rate is None:
        raise BadRequest("--burst goes with --rate (like --rate 10/s --burst 20)")
    rate_limit: dict[str, Any] | None = None
    if rate is not None:
        rate_limit = {"rate": rate, **({"burst": burst} if burst is not None else {})}
    with ctx.client() as client:
        created = client.create_key(
            name=name, functions=list(functions), rate_limit=rate_limit, quota=_quota(quota)
        )
    click.echo(created["key"])
    click.echo(
        f"created key {created['id']}: send it as the X-Api-Key header; "
        "it is not shown again (revoke and create another if it is lost)",
        err=True,
    )


def _quota(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    limit, slash, period = text.partition("/")
    if not (slash and limit.strip().isdigit()):
        raise BadRequest(f"--quota must look like 1000/day, got {text!r}")
    return {"limit": int(limit), "period": period.strip()}


def api_summary(config: dict[str, Any]) -> str:
    """A function's API-gateway fields on one line, for `faas describe` ("" when none)."""
    parts = [f"auth {config['auth']}"] if "auth" in config else []
    for field in ("rate_limit", "key_rate_limit"):
        if field in config:
            parts.append(f"{field} {config[field]['rate']} burst {config[field]['burst']}")
    if "quota" in config:
        parts.append(f"quota {config['quota']['limit']}/{config['quota']['period']} per key")
    if "cors" in config:
        parts.append(f"cors {','.join(config['cors']['origins'])}")
    if "request_schema" in config:
        parts.append("request_schema")
    return "; ".join(parts)


@key.command("list")
@pass_ctx
def key_list(ctx: Context) -> None:
    """List keys: id, name, prefix, functions and plan (never the key itself)."""
    with ctx.client() as client:
        found = client.keys()
    if not found:
        click.echo("no API keys (see `faas key create`)")
        return
    rows = [["ID", "NAME", "PREFIX", "FUNCTIONS", "RATE", "QUOTA", "CREATED"]]
    for k in found:
        rate, quota = k["rate_limit"], k["quota"]
        rows.append(
            [
                k["id"],
                k["name"] or "-",
                k["prefix"] + "...",
                ",".join(k["functions"]) or "*",
                f"{rate['rate']} burst {rate['burst']}" if rate else "-",
                f"{quota['limit']}/{quota['period']}" if quota else "-",
                time.strftime("%Y-%m-%d %H:%M", time.localtime(k["created_at"])),
            ]
        )
    table(rows)


@key.command("revoke")
@click.argument("key_id", metavar="ID")
@pass_ctx
def key_revoke(ctx: Context, key_id: str) -> None:
    """Revoke a key: every gateway refuses it from its next call."""
    with ctx.client() as client:
        client.revoke_key(key_id)
    click.echo(f"revoked {key_id}")
