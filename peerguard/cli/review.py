"""``peerguard review|strikes|stats``: the trust-and-safety queue on the command line (staff accounts: ``peerguard.cli.staff``).

Each command is one transaction around one use case of ``usecases.review`` (the web console
will call the same functions). Conversations, messages and users are shown by the marketplace's
ids (c-…, m-…, u-…); review item and strike numbers are PeerGuard's own. A refused action is a one-line error whose exit status
says why, and nothing is written:

====  ==========================================================
 2    unknown outcome or other bad usage (click)
 3    no such review item or strike
 4    the item is already resolved / the strike already overturned
 5    the item is claimed by another reviewer
 6    the acting email is not a staff member
 7    the item changed meanwhile (optimistic-locking conflict)
====  ==========================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar

import click

from peerguard.cli._common import open_app, read_only
from pipeline.review import OUTCOMES, SEVERITY

T = TypeVar("T")
STATUSES = ("pending", "confirmed", "dismissed", "ignored", "merged")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def _unit_of_work():
    """A committed transaction on the configured database (refusals become exit statuses in peerguard.cli.errors)."""
    from storage.db import transaction

    app = open_app()
    with transaction(app.session_factory) as session:
        yield app, session
    # Committed: the emails and webhook events a decision wrote go out now (with workers on Redis).
    app.doorbell.deliver_mail()
    app.doorbell.deliver_webhooks()


def _run(action: Callable[[Any, Any], T]) -> T:
    with _unit_of_work() as (context, session):
        return action(context, session)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


# --- review ------------------------------------------------------------------------------------


@click.group()
def review() -> None:
    """The trust-and-safety review queue: list, inspect, claim and decide flagged messages.

    Only staff members may claim or decide (see `peerguard staff add`); every action is kept in
    the item's history.
    """


@review.command("list")
@click.option("--status", type=click.Choice(STATUSES), default="pending", show_default=True, help="Which items to list.")
@click.option("--kind", type=click.Choice(sorted(SEVERITY)), help="Only items whose most severe finding is of this kind.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="At most this many items.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def list_(status: str, kind: str | None, limit: int, as_json: bool) -> None:
    """List review items; pending ones in priority order (severity, score, strikes, age).

    Priority is severity x 100 (payment 3, contact details 2, intent 1) + score x 20 +
    active strikes x 6 (up to 5) + 2 per day waiting. `!` marks high-severity items.
    """
    from usecases.review_queue import list_queue

    now = _now()
    with read_only() as (_settings, reader):
        entries = list_queue(reader, now, status, kind, limit)
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.to_json()))
        return
    click.echo(f"{'ITEM':>8}  {'PRIO':>7}  {'KIND':<8} {'STATUS':<9} {'SCORE':>5}  {'OPENED':<16}  {'SENDER':<28} "
               f"{'USER':<14} {'CONVERSATION':<14} {'MESSAGE':<14} CLAIMED BY")
    for e in entries:
        flag = "!" if e.high_severity else " "
        click.echo(f"{e.id:>8}{flag} {e.priority:>7.1f}  {e.kind:<8} {e.status:<9} {e.score:>5.2f}  "
                   f"{_when(e.opened_at):<16}  {e.sender[:28]:<28} {e.sender_id:<14} {e.conversation_id:<14} "
                   f"{e.message_id:<14} {e.claimed_by or '-'}")
    click.echo(f"{len(entries)} item(s)", err=True)


@review.command()
@click.argument("item", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the item as one JSON document.")
def show(item: int, as_json: bool) -> None:
    """Show ITEM: the flagged text with findings marked [[like this]], five messages before and
    after, the signals, the sender's strike history and the item's history."""
    from usecases.review import show_item

    now = _now()
    detail = _run(lambda context, session: show_item(session, item, now))
    if as_json:
        click.echo(json.dumps(_detail_json(detail), indent=2))
        return
    for line in _detail_lines(detail):
        click.echo(line)


def _detail_json(detail) -> dict[str, Any]:
    return {
        "item": detail.item.to_json(), "version": detail.version,
        "conversation": {"id": detail.conversation.external_id, "subject": detail.conversation.subject,
                         "order_id": detail.conversation.order_id},
        "resolved_by": detail.resolved_by, "resolution_note": detail.resolution_note, "signals": detail.signals,
        "messages": [{"id": m.id, "sender": m.sender, "sender_id": m.sender_id, "sent_at": m.sent_at.isoformat(), "text": m.text, "flagged": m.flagged}
                     for m in detail.messages],
        "strikes": [{"id": s.id, "item_id": s.item_id, "created_at": s.created_at.isoformat(),
                     "overturned_at": s.overturned_at.isoformat() if s.overturned_at else None} for s in detail.strikes],
        "history": detail.history, "merged_into": detail.merged_into,
    }


def _detail_lines(detail) -> list[str]:
    e = detail.item
    lines = [
        f"Item {e.id}  {e.status}  {e.kind}{'  HIGH SEVERITY' if e.high_severity else ''}  priority {e.priority:.1f}  "
        f"score {e.score:.2f}  version {detail.version}",
        f"Sender {e.sender} ({e.sender_id})  message {e.message_id}  opened {_when(e.opened_at)}"
        + (f"  claimed by {e.claimed_by}" if e.claimed_by else ""),
        _conversation_line(detail.conversation),
    ]
    if e.status == "merged":
        lines.append(f"Merged {_when(e.resolved_at)} into item {detail.merged_into}, which holds its signals now")
    elif e.status != "pending":
        lines.append(f"Resolved {_when(e.resolved_at)} by {detail.resolved_by}: {detail.resolution_note or '(no note)'}")
    lines += ["", "Signals:"] + [
        f"  {s['kind']:<8} {s['value']:<30} {s['detector_version']:<10} score {s['score']:.2f}  {s['outcome'] or 'undecided'}"
        for s in detail.signals
    ]
    lines += ["", "Conversation:"] + [
        f"{'>>' if m.flagged else '  '} {m.id:<14} {_when(m.sent_at)} {m.sender} ({m.sender_id}): {' '.join(m.text.split())}" for m in detail.messages
    ]
    lines += ["", f"Sender's strikes ({sum(1 for s in detail.strikes if not s.overturned_at)} standing):"] + [
        f"  strike {s.id}  item {s.item_id}  {_when(s.created_at)}" + (f"  overturned {_when(s.overturned_at)}" if s.overturned_at else "")
        for s in detail.strikes
    ]
    lines += ["", "History:"] + [
        f"  {h['at'][:16]}  {h['actor']:<24} {h['action']:<22} {h['from'] or ''}{' -> ' + h['to'] if h['to'] else ''}  {h['note'] or ''}"
        for h in detail.history
    ]
    return lines


def _conversation_line(conversation) -> str:
    subject = f"  \"{conversation.subject}\"" if conversation.subject else ""
    order = f"  order {conversation.order_id}" if conversation.order_id else ""
    return f"Conversation {conversation.external_id}{subject}{order}"


@review.command("claim")
@click.argument("item", type=int)
@click.option("--by", "by", required=True, metavar="EMAIL", help="The staff member claiming the item.")
def claim_(item: int, by: str) -> None:
    """Claim ITEM so other reviewers leave it alone; the claim expires after 30 minutes
    (PEERGUARD_CLAIM_MINUTES), and claiming again renews it."""
    from usecases.review import claim

    now = _now()
    claimed = _run(lambda context, session: claim(session, item, by, now, context.settings.review))
    click.echo(f"item {claimed.id} claimed by {by} until {_when(claimed.claim_expires_at)} UTC")


@review.command("resolve")
@click.argument("item", type=int)
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES), help="The decision.")
@click.option("--by", "by", required=True, metavar="EMAIL", help="The staff member deciding.")
@click.option("--note", help="Why; kept in the item's history.")
def resolve_(item: int, outcome: str, by: str, note: str | None) -> None:
    """Decide ITEM: confirmed (the sender gets a strike, and warnings or staff alerts as the
    escalation policy says), dismissed (a false positive) or ignored (no judgement)."""
    from usecases.review import resolve

    now = _now()
    result = _run(lambda context, session: resolve(session, item, outcome, by, now, context.settings, note))
    click.echo(f"item {result.item_id} {result.status}")
    if result.strike_id is not None:
        steps = ", ".join(result.steps) or "no escalation"
        click.echo(f"strike {result.strike_id} given; {result.active_strikes} active; {steps}")


# --- strikes, stats, staff --------------------------------------------------------------------


@click.group()
def strikes() -> None:
    """Strikes given to senders by confirmed review items; staff can overturn them."""


@strikes.command()
@click.argument("strike", type=int)
@click.option("--by", "by", required=True, metavar="EMAIL", help="The staff member overturning it.")
def overturn(strike: int, by: str) -> None:
    """Overturn STRIKE: it stops counting towards escalation, and a sender back under the
    restriction threshold is no longer restricted. The strike stays on record."""
    from usecases.review import overturn_strike

    now = _now()
    done = _run(lambda context, session: overturn_strike(session, strike, by, now, context.settings))
    click.echo(f"strike {done.id} overturned by {by}")


@click.group()
def stats() -> None:
    """Statistics computed from staff decisions in the review queue."""


@stats.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def detectors(as_json: bool) -> None:
    """Per detector kind and version: items, confirmed, dismissed, precision with its 95%
    Wilson interval, and the median time from flag to decision. Ignored items are not trials."""
    from usecases.review import detector_stats

    rows = _run(lambda context, session: detector_stats(session))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.to_json()))
        return
    click.echo(f"{'KIND':<8} {'VERSION':<12} {'ITEMS':>6} {'CONF':>6} {'DISM':>6} {'PRECISION':>9}  {'95% CI':<15} MEDIAN DECISION")
    for r in rows:
        precision = f"{r.precision:.3f}" if r.precision is not None else "-"
        interval = f"{r.interval[0]:.3f}-{r.interval[1]:.3f}" if r.interval else "-"
        click.echo(f"{r.kind:<8} {r.detector_version:<12} {r.items:>6} {r.confirmed:>6} {r.dismissed:>6} {precision:>9}  "
                   f"{interval:<15} {_duration(r.median_seconds_to_decision)}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"
