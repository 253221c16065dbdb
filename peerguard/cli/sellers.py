"""``peerguard sellers``: response-time statistics and reminder preferences."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import click

from peerguard.cli._common import PeerGuardUsageError, open_app, parse_now, read_only

if TYPE_CHECKING:
    from usecases.response_stats import SellerStatsRow


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
    from usecases.response_stats import iter_seller_rows

    now = parse_now(now_text)
    with read_only() as (settings, reader):
        # Each seller's line is made while the database still sends the next sellers' statistics.
        rows = iter_seller_rows(reader, settings.responses, now, seller_email)
        if as_json:
            import json

            found = [{"seller_id": r.external_id, "email": r.email, "name": r.name, **r.stats.as_dict()} for r in rows]
        else:
            lines = _table(rows)
    if as_json:
        click.echo(json.dumps(found, indent=2))
    elif len(lines) == 1:
        click.echo("No seller obligations in the last 30 days.")
    else:
        # One write: click.echo per line cost more than the statistics themselves for 10,000 sellers.
        click.echo("\n".join(lines))


def _table(rows: Iterable[SellerStatsRow]) -> list[str]:
    """The header and one line per seller."""
    lines = [f"{'seller':<32} {'asked':>6} {'answered':>8} {'median':>9} {'<=1h':>6} {'<=24h':>6}"]
    append = lines.append
    # The median column depends only on the whole minutes and the share columns only on the two
    # shares, which repeat a lot (1,400 and 200 distinct among 10,000 sellers on the benchmark):
    # each is formatted once.
    medians: dict[int | None, str] = {}
    shares: dict[tuple[float | None, float | None], str] = {}
    for _, _, email, name, (obligations, answered, median, within_target, within_limit) in rows:
        minutes = None if median is None else round(median / 60)
        median_text = medians.get(minutes)
        if median_text is None:
            median_text = medians[minutes] = f"{_duration(median):>9}"
        key = (within_target, within_limit)
        share_text = shares.get(key)
        if share_text is None:
            share_text = shares[key] = f"{_share(within_target):>6} {_share(within_limit):>6}"
        append(f"{(email or name)[:32]:<32} {obligations:>6} {answered:>8} {median_text} {share_text}")
    return lines


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
