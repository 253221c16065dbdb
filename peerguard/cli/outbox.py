"""``peerguard outbox``: see what the email outbox holds and requeue what staff decide to resend."""

from __future__ import annotations

import json

import click

from peerguard.cli._common import PeerGuardUsageError, open_app, read_only


@click.group()
def outbox() -> None:
    """The email outbox shared by every notice."""


@outbox.command("status")
def status() -> None:
    """How many emails are queued, sending, sent, failed (will retry) and dead."""
    from storage.status import outbox_counts

    with read_only() as (_settings, reader):
        counts = outbox_counts(reader)
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
@click.argument("email_id", type=int, required=False)
@click.option("--unknown", "unknown", is_flag=True,
              help='Requeue every dead "outcome unknown" email instead of one id.')
@click.option("--since", default=None, metavar="ISO",
              help="With --unknown: only emails created at or after this time (e.g. 2026-12-06T07:00:00Z).")
def requeue(email_id: int | None, unknown: bool, since: str | None) -> None:
    """Send a dead or failed email again (for example after an "outcome unknown"), or all of them with --unknown."""
    from datetime import UTC, datetime

    from storage.db import transaction
    from storage.outbox import requeue as requeue_email
    from storage.outbox import requeue_unknown

    if (email_id is None) == (not unknown):
        raise PeerGuardUsageError("give either one EMAIL_ID or --unknown", exit_code=2)
    if since is not None and not unknown:
        raise PeerGuardUsageError("--since only goes with --unknown", exit_code=2)
    since_at = _parse_since(since)
    app = open_app()
    with transaction(app.session_factory) as session:
        if unknown:
            count = requeue_unknown(session, since_at, datetime.now(UTC))
        elif not requeue_email(session, email_id, datetime.now(UTC)):
            raise PeerGuardUsageError(f"email {email_id} does not exist or is not dead or failed", exit_code=4)
    if unknown:
        click.echo(f"{count} outcome-unknown emails queued again")
    else:
        click.echo(f"email {email_id} queued again; the next `peerguard run --once` or dispatch sends it")


def _parse_since(value: str | None):  # noqa: ANN202 - datetime is imported lazily
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PeerGuardUsageError(f"--since {value!r} is not an ISO 8601 time (e.g. 2026-12-06T07:00:00Z)",
                                  exit_code=2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
