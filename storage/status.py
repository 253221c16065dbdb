"""Read-only counts and ages for the operational picture (``peerguard status``, ``outbox status``, the metrics gauges).

Each backlog query reads one partial or ordered index (unscanned messages, pending outbox rows,
the review queue, due deadlines, pending webhook deliveries), so the picture stays cheap as
history grows. The statements are plain SQL over a ``storage.direct.Reader``: the commands run
them on the bare driver (no SQLAlchemy import), the metrics on a session (``SessionReader``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.direct import Reader, placeholders, utc


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


_BACKLOGS = {
    "unscanned": "SELECT count(*), min(recorded_at) FROM messages WHERE scanned_at IS NULL",
    "review_pending": "SELECT count(*), min(opened_at) FROM review_items WHERE status = 'pending'",
    "deadlines_due": "SELECT count(*), min(next_due_at) FROM response_deadlines "
                     "WHERE next_due_at IS NOT NULL AND next_due_at <= :now",
    "webhooks_pending": "SELECT count(*), min(created_at) FROM webhook_deliveries WHERE status = 'pending'",
}
_OUTBOX_OLDEST_WAITING = "SELECT min(next_attempt_at) FROM email_outbox WHERE status IN ('queued', 'failed', 'sending')"


def snapshot(reader: Reader, now: datetime) -> Snapshot:
    """Read the backlogs; ``now`` decides which response deadlines are due."""
    backlogs = {name: _backlog(reader, sql, {"now": now} if ":now" in sql else None) for name, sql in _BACKLOGS.items()}
    [(oldest_waiting,)] = reader.rows(_OUTBOX_OLDEST_WAITING)
    return Snapshot(outbox=outbox_counts(reader), outbox_oldest_waiting=utc(oldest_waiting), **backlogs)


def _backlog(reader: Reader, sql: str, parameters: dict | None) -> Backlog:
    [(count, oldest)] = reader.rows(sql, parameters)
    return Backlog(count or 0, utc(oldest))


# The triggers of migration 0017 keep signed changes per status in email_outbox_counts, written in
# the transaction of each change, so their sum is the exact count at this read's snapshot; the
# table holds a few rows per status (storage.outbox.compact_status_counts folds them), where
# counting email_outbox itself read the whole history (a million emails: 0.3-0.5 s).
_OUTBOX_COUNTS = ("SELECT status, CAST(sum(n) AS BIGINT) FROM email_outbox_counts "
                  "GROUP BY status HAVING sum(n) <> 0")


def outbox_counts(reader: Reader) -> dict[str, int]:
    """How many emails are in each status (statuses without any are left out)."""
    return {status: count for status, count in reader.rows(_OUTBOX_COUNTS)}


def scan_times(reader: Reader, message_ids: list[int]) -> list[tuple[datetime, datetime]]:
    """``(recorded_at, scanned_at)`` in UTC of the scanned messages among ``message_ids``."""
    if not message_ids:
        return []
    listed, parameters = placeholders("m", message_ids)
    rows = reader.rows(f"SELECT recorded_at, scanned_at FROM messages WHERE id IN ({listed}) AND scanned_at IS NOT NULL",
                       parameters)
    return [(utc(recorded), utc(scanned)) for recorded, scanned in rows]

