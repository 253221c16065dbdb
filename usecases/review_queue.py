"""Reading the review queue (`peerguard review list`): entries in priority order, by the marketplace's ids.

Kept apart from ``usecases.review`` (decisions, strikes, escalation, emails and webhooks) so the
read-only command imports only this, the pure rules and a plain-SQL read: see ``storage.direct``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.review import effective_priority
from storage.direct import Reader
from storage.review_queue import QueueRow, queue_rows


@dataclass(frozen=True)
class QueueEntry:
    """One line of ``review list``; conversation, message and sender by the marketplace's ids."""

    id: int
    status: str
    kind: str
    priority: float
    score: float
    high_severity: bool
    sender: str
    sender_id: str
    conversation_id: str
    message_id: str
    opened_at: datetime
    claimed_by: str | None
    resolved_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "kind": self.kind, "priority": self.priority,
            "score": round(self.score, 3), "high_severity": self.high_severity, "sender": self.sender,
            "sender_id": self.sender_id, "conversation_id": self.conversation_id, "message_id": self.message_id,
            "opened_at": self.opened_at.isoformat(), "claimed_by": self.claimed_by,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


def queue_entry(row: QueueRow, now: datetime) -> QueueEntry:
    """The listing line of a stored row at ``now``: the aged priority, and the claimant while the claim lasts."""
    claim_live = row.claim_expires_at is not None and row.claim_expires_at > now
    return QueueEntry(
        row.id, row.status, row.kind, effective_priority(row.rank, now), row.score, row.high_severity, row.sender,
        row.sender_id, row.conversation_id, row.message_id, row.opened_at, row.claimant if claim_live else None,
        row.resolved_at,
    )


def list_queue(reader: Reader, now: datetime, status: str = "pending", kind: str | None = None,
               limit: int = 50) -> list[QueueEntry]:
    """Items with this status (and kind), pending ones in priority order."""
    return [queue_entry(row, now) for row in queue_rows(reader, status, kind, limit)]
