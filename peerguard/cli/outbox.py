"""``peerguard outbox``: see what the email outbox holds and requeue what staff decide to resend."""

from __future__ import annotations

import json

import click

from peerguard.cli._common import PeerGuardUsageError, open_app


@click.group()
def outbox() -> None:
    """The email outbox shared by every notice."""


@outbox.command("status")
def status() -> None:
    """How many emails are queued, sending, sent, failed (will retry) and dead."""
    from storage.outbox import outbox_counts

    app = open_app()
    with app.session_factory() as session:
        counts = outbox_counts(session)
    for name in ("queued", "sending", "sent", "failed", "dead"):
        click.echo(f"{name:<8} {counts.get(name, 0)}")


@outbox.command("list")
@click.option("--status", "status_", default="dead", show_default=True,
              type=click.Choice(["queued", "sending", "sent", "failed", "dead"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True)
def list_(status_: str, limit: int, as_json: bool) -> None:
    """Emails in one status, newest first, with their last error."""
    from storage.outbox import list_emails

    app = open_app()
    with app.session_factory() as session:
        items = [email.to_json() for email in list_emails(session, status_, limit)]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo(f"{item['id']:>8} {item['notice']:<24} {item['to']:<32} attempts={item['attempts']} {item['last_error'] or ''}")


@outbox.command("requeue")
@click.argument("email_id", type=int)
def requeue(email_id: int) -> None:
    """Send a dead or failed email again (for example after an "outcome unknown")."""
    from datetime import UTC, datetime

    from storage.db import transaction
    from storage.outbox import requeue as requeue_email

    app = open_app()
    with transaction(app.session_factory) as session:
        if not requeue_email(session, email_id, datetime.now(UTC)):
            raise PeerGuardUsageError(f"email {email_id} does not exist or is not dead or failed", exit_code=4)
    click.echo(f"email {email_id} queued again; the next `peerguard run --once` or dispatch sends it")
