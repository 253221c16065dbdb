"""The review queue's listing as plain SQL over a ``storage.direct.Reader`` (`review list` without SQLAlchemy).

The same statement as ``storage.review.queue_query`` (the console's listing and ``review show``
build on that one); tests/foundation/test_direct_reads.py checks that both return the same rows.
Pending items come in queue order from the partial index ``ix_review_items_queue``; decided ones
newest decision first from ``ix_review_items_decided``. The status is written into the statement
(from the fixed list below), so both PostgreSQL and SQLite can prove the partial index applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.direct import Reader, flag, utc

STATUSES = ("pending", "confirmed", "dismissed", "ignored", "merged")

_SELECT = """
SELECT i.id, i.status, i.kind, i.priority, i.score, i.high_severity, i.opened_at, i.claim_expires_at, i.resolved_at,
       sender.email, sender.external_id, claimant.email, conversation.external_id, message.external_id
FROM review_items AS i
JOIN users AS sender ON sender.id = i.subject_user_id
JOIN conversations AS conversation ON conversation.id = i.conversation_id
JOIN messages AS message ON message.id = i.message_id
LEFT OUTER JOIN users AS claimant ON claimant.id = i.claimed_by_id
WHERE i.status = '{status}'{kind}
ORDER BY {order}
LIMIT :limit"""
_ORDER = {"pending": "i.priority DESC, i.opened_at"}
_DECIDED_ORDER = "i.resolved_at DESC, i.id DESC"


@dataclass(frozen=True)
class QueueRow:
    """One item as stored, with the marketplace's ids (c-…, m-…, u-…) of its conversation, message and sender."""

    id: int
    status: str
    kind: str
    rank: float
    score: float
    high_severity: bool
    sender: str
    sender_id: str
    conversation_id: str
    message_id: str
    opened_at: datetime
    claimant: str | None
    claim_expires_at: datetime | None
    resolved_at: datetime | None


def queue_sql(status: str, kind: str | None) -> str:
    """The listing statement for ``status`` (one of STATUSES), with a ``:kind`` filter when a kind is given."""
    if status not in STATUSES:
        raise ValueError(f"unknown review status {status!r}")
    return _SELECT.format(status=status, kind=" AND i.kind = :kind" if kind is not None else "",
                          order=_ORDER.get(status, _DECIDED_ORDER))


def queue_rows(reader: Reader, status: str = "pending", kind: str | None = None, limit: int = 50) -> list[QueueRow]:
    """Items with this status (and kind), pending ones in queue order."""
    parameters: dict[str, object] = {"limit": limit}
    if kind is not None:
        parameters["kind"] = kind
    return [_queue_row(row) for row in reader.rows(queue_sql(status, kind), parameters)]


def _queue_row(row: tuple) -> QueueRow:
    (item_id, status, kind, rank, score, high_severity, opened_at, claim_expires_at, resolved_at,
     sender_email, sender_id, claimant, conversation_id, message_id) = row
    return QueueRow(item_id, status, kind, rank, score, flag(high_severity), sender_email or sender_id, sender_id,
                    conversation_id, message_id, utc(opened_at), claimant, utc(claim_expires_at), utc(resolved_at))
