"""``peerguard users``: per-user preferences by the marketplace's ids."""

from __future__ import annotations

import click

from peerguard.cli._common import PeerGuardUsageError, open_app


@click.group()
def users() -> None:
    """Per-user preferences (users are named by the marketplace's ids, e.g. u-17)."""


@users.command("notify")
@click.argument("user_id")
@click.argument("choice", type=click.Choice(["immediate", "daily", "off"]))
def notify(user_id: str, choice: str) -> None:
    """New-message emails: each conversation's as they come, one daily digest at 08:00 local, or none.

    Dashboard notifications exist whatever the choice.
    """
    from usecases.notifications import set_notify

    if not set_notify(open_app(), user_id, choice):
        raise PeerGuardUsageError(f"unknown user {user_id!r}", exit_code=3)
    click.echo(f"new-message emails {choice} for {user_id}")
