"""Read-only counts and ages for the operational picture (``peerguard status``, the metrics gauges).

Each query reads one partial or ordered index (unscanned messages, pending outbox rows, the
review queue, due deadlines, pending webhook deliveries), so the picture stays cheap as history grows.
The queries name Core table columns, not mapped attributes: a process that only reads this picture
(``peerguard status``) never pays for configuring the ORM mappers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Message, OutboxEmail, ResponseDeadline, ReviewItem, WebhookDelivery

MESSAGES, OUTBOX, REVIEW_ITEMS = Message.__table__.c, OutboxEmail.__table__.c, ReviewItem.__table__.c
DEADLINES, WEBHOOK_DELIVERIES = ResponseDeadline.__table__.c, WebhookDelivery.__table__.c


@dataclass(frozen=True)
class Backlog:
    """How many items wait and since when (``oldest`` is None when nothing waits)."""

    count: int
    oldest: datetime | None


@dataclass(frozen=True)
class Snapshot:
    """Every backlog PeerGuard has, as of one read."""

    unscanned: Backlog
    outbox: dict[str, int] = field(default_factory=dict)
    outbox_oldest_waiting: datetime | None = None
    review_pending: Backlog = Backlog(0, None)
    deadlines_due: Backlog = Backlog(0, None)
    webhooks_pending: Backlog = Backlog(0, None)


def snapshot(session: Session, now: datetime) -> Snapshot:
    """Read the backlogs; ``now`` decides which response deadlines are due."""
    outbox = {status: count for status, count in
              session.execute(select(OUTBOX.status, func.count()).group_by(OUTBOX.status))}
    return Snapshot(
        unscanned=_backlog(session, MESSAGES.recorded_at, MESSAGES.scanned_at.is_(None)),
        outbox=outbox,
        outbox_oldest_waiting=session.scalar(
            select(func.min(OUTBOX.next_attempt_at)).where(OUTBOX.status.in_(("queued", "failed", "sending")))),
        review_pending=_backlog(session, REVIEW_ITEMS.opened_at, REVIEW_ITEMS.status == "pending"),
        deadlines_due=_backlog(session, DEADLINES.next_due_at, DEADLINES.next_due_at.is_not(None),
                               DEADLINES.next_due_at <= now),
        webhooks_pending=_backlog(session, WEBHOOK_DELIVERIES.created_at, WEBHOOK_DELIVERIES.status == "pending"),
    )


def _backlog(session: Session, column, *where) -> Backlog:  # noqa: ANN001 - any mapped datetime column
    count, oldest = session.execute(select(func.count(), func.min(column)).where(*where)).one()
    return Backlog(count or 0, _aware(oldest))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back min() of a UTC column as a naive value or a string; normalise both.
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    from datetime import UTC

    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def commit_to_scan_seconds(session: Session, message_ids: list[int]) -> list[float]:
    """For scanned messages among ``message_ids``: seconds from being recorded to being scanned."""
    rows = session.execute(select(Message.recorded_at, Message.scanned_at)
                           .where(Message.id.in_(message_ids), Message.scanned_at.is_not(None)))
    return [max(0.0, (scanned - recorded).total_seconds()) for recorded, scanned in rows]
