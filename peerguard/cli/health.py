"""``peerguard health``: liveness for compose healthchecks, read from the heartbeat files."""

from __future__ import annotations

import click

from peerguard.cli._common import load_settings


@click.command()
@click.argument("role", type=click.Choice(["worker", "scheduler", "mail"]))
@click.option("--max-age", default=90, show_default=True, type=click.IntRange(1),
              help="Seconds a heartbeat may be old before the role counts as dead.")
def health(role: str, max_age: int) -> None:
    """Exit 0 when some ROLE process beat within --max-age seconds, else 1 (for healthchecks)."""
    from storage.heartbeats import heartbeat_dir, youngest_age

    age = youngest_age(heartbeat_dir(load_settings().data_dir), f"{role}-")
    if age is None or age > max_age:
        click.echo(f"{role}: no heartbeat within {max_age} s" + ("" if age is None else f" (last {age:.0f} s ago)"))
        raise SystemExit(1)
    click.echo(f"{role}: alive (heartbeat {age:.0f} s ago)")
