"""`faas dead-letters list/show/redrive`: async calls and trigger items that gave up."""

from __future__ import annotations

import time

import click

from faas.cli.group import Context, cli, output_option, pass_ctx, table, to_json
from faas.errors import BadRequest


@cli.group("dead-letters")
def dead_letters() -> None:
    """Async calls and trigger items that gave up: list, show, redrive."""


@dead_letters.command("list")
@click.option("--function", "function", metavar="NAME", help="Only this function's.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@output_option
@pass_ctx
def dead_letters_list(ctx: Context, function: str | None, limit: int, output: str) -> None:
    """List dead letters, newest first; the error is the last column, whole (its first line:
    a cut would break the JSON many errors quote)."""
    with ctx.client() as client:
        letters = client.dead_letters(function, limit)
    if output == "json":
        click.echo(to_json(letters))
        return
    if not letters:
        click.echo("no dead letters")
        return
    rows = [["ID", "CALL", "FUNCTION", "REASON", "ATTEMPTS", "DEAD AT", "ERROR"]]
    for d in letters:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["dead_at"]))
        error = first_line(d["error"]["message"])
        rows.append(
            [d["id"], d["call_id"], d["function"], d["reason"], str(d["attempts"]), when, error]
        )
    table(rows)


def first_line(message: str) -> str:
    """The message's first line, whole: never cut inside a quoted JSON string."""
    lines = message.strip().splitlines()
    return lines[0] + (" (more: dead-letters show)" if len(lines) > 1 else "") if lines else ""


@dead_letters.command("show")
@click.argument("letter_id", metavar="ID")
@pass_ctx
def dead_letters_show(ctx: Context, letter_id: str) -> None:
    """Show one dead letter with its request, as JSON."""
    with ctx.client() as client:
        click.echo(to_json(client.dead_letter(letter_id)))


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
