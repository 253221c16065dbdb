"""``peerguard sellers``: response-time statistics and reminder preferences."""

from __future__ import annotations

import json

import click

from peerguard.cli._common import PeerGuardUsageError, open_app, parse_now, read_only


@click.group()
def sellers() -> None:
    """Seller response times and reminder preferences."""


@sellers.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per seller, as a list.")
@click.option("--seller", "seller_email", metavar="EMAIL", help="Only this seller.")
@click.option("--now", "now_text", metavar="ISO-8601", help="Measure the 30 days before this time.")
def stats(as_json: bool, seller_email: str | None, now_text: str | None) -> None:
    """Median response time and share answered within 1 h and 24 h over the last 30 days.

    Obligations while a seller was marked away are left out; open ones count against a share
    only once they are older than its limit.
    """
    from usecases.response_stats import seller_rows

    now = parse_now(now_text)
    with read_only() as (settings, reader):
        rows = seller_rows(reader, settings.responses, now, seller_email)
    if as_json:
        click.echo(json.dumps([{"seller_id": r.external_id, "email": r.email, "name": r.name, **r.stats.as_dict()} for r in rows], indent=2))
        return
    if not rows:
        click.echo("No seller obligations in the last 30 days.")
        return
    lines = [f"{'seller':<32} {'asked':>6} {'answered':>8} {'median':>9} {'<=1h':>6} {'<=24h':>6}"]
    for row in rows:
        s = row.stats
        lines.append(f"{(row.email or row.name)[:32]:<32} {s.obligations:>6} {s.answered:>8} "
                     f"{_duration(s.median_response_seconds):>9} {_share(s.share_within_target):>6} {_share(s.share_within_limit):>6}")
    # One write: click.echo per line cost more than the statistics themselves for 10,000 sellers.
    click.echo("\n".join(lines))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@sellers.command("reminders")
@click.argument("email")
@click.argument("choice", type=click.Choice(["on", "off"]))
def reminders(email: str, choice: str) -> None:
    """Switch a seller's response reminders on or off (breach notices always go out)."""
    from datetime import UTC, datetime

    from storage.db import transaction
    from storage.responses import set_response_reminders
    from storage.users import user_id_by_email

    app = open_app()
    with transaction(app.session_factory) as session:
        user_id = user_id_by_email(session, email)
        if user_id is None:
            raise PeerGuardUsageError(f"no user with email {email!r}", exit_code=4)
        set_response_reminders(session, user_id, choice == "off", datetime.now(UTC))
    click.echo(f"response reminders {choice} for {email}")
