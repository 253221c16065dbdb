"""The email outbox: enqueue in the caller's transaction, claim with SKIP LOCKED, record outcomes.

Delivery protocol (why a crash cannot send the same email twice):

1. ``claim_emails`` moves due rows to ``sending`` with a fresh claim token and a lease, in its own
   committed transaction; PostgreSQL's ``FOR UPDATE SKIP LOCKED`` lets dispatchers claim disjoint
   rows without waiting, and the status guard in the UPDATE keeps SQLite (no SKIP LOCKED) correct.
2. ``mark_send_started`` commits ``send_started_at`` for one row just before the SMTP transaction,
   guarded by the claim token, so a dispatcher whose lease was taken away never sends.
3. ``record_sent`` / ``record_failure`` commit the outcome right after the SMTP transaction.

A dispatcher that dies between 2 and 3 leaves a row in ``sending`` with ``send_started_at`` set:
the server may or may not have accepted the message. ``reap_expired_leases`` moves such rows to
``dead`` with an "outcome unknown" error instead of retrying them, trading a (rare, visible,
requeueable) lost email for never sending a duplicate. Rows whose lease expired before
``send_started_at`` was written were never handed to the server and simply go back to the queue.
Each message also carries a Message-ID derived from its idempotency key, so even a manual requeue
is recognisable as the same message by the receiving side.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from storage.db import is_postgres, transaction
from storage.models.outbox import OutboxEmail

CLAIMABLE = ("queued", "failed")
OUTCOME_UNKNOWN = "outcome unknown: the sender stopped after handing the message to the server; not retried to avoid a duplicate"


@dataclass(frozen=True)
class NoticeRequest:
    """One email to enqueue: notice name, recipient, JSON context, and its idempotency key."""

    notice: str
    recipient_address: str
    recipient_name: str
    context: Mapping[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class ClaimedEmail:
    """An outbox row this dispatcher holds a lease on."""

    id: int
    notice: str
    recipient_address: str
    recipient_name: str
    context: dict[str, Any]
    idempotency_key: str
    attempts: int
    claim_token: str


def enqueue_notices(session: Session, requests: Sequence[NoticeRequest], now: datetime) -> int:
    """Add emails in the caller's transaction; a key already present is skipped. Returns rows added."""
    if not requests:
        return 0
    dialect = postgresql if is_postgres(session) else sqlite
    statement = (
        dialect.insert(OutboxEmail)
        .values([_row(request, now) for request in requests])
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxEmail.id)
    )
    # RETURNING counts only the rows really inserted; rowcount is unreliable for multi-row VALUES.
    return len(session.execute(statement).all())


def _row(request: NoticeRequest, now: datetime) -> dict[str, Any]:
    return {
        "notice": request.notice,
        "recipient_address": request.recipient_address,
        "recipient_name": request.recipient_name[:200],
        "context": dict(request.context),
        "idempotency_key": request.idempotency_key,
        "status": "queued",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def claim_emails(
    session_factory: sessionmaker[Session], now: datetime, lease_now: datetime, limit: int, lease: timedelta
) -> list[ClaimedEmail]:
    """Lease up to ``limit`` due emails to this caller; concurrent callers get disjoint rows."""
    token = str(uuid.uuid4())
    with transaction(session_factory) as session:
        due = (
            select(OutboxEmail.id)
            .where(OutboxEmail.status.in_(CLAIMABLE), OutboxEmail.next_attempt_at <= now)
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
            .limit(limit)
        )
        if is_postgres(session):
            due = due.with_for_update(skip_locked=True)
        ids = list(session.scalars(due))
        if not ids:
            return []
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(ids), OutboxEmail.status.in_(CLAIMABLE))
            .values(status="sending", claim_token=token, claimed_until=lease_now + lease, send_started_at=None)
        )
        rows = session.scalars(select(OutboxEmail).where(OutboxEmail.claim_token == token).order_by(OutboxEmail.id))
        return [_claimed(row) for row in rows]


def _claimed(row: OutboxEmail) -> ClaimedEmail:
    return ClaimedEmail(
        row.id, row.notice, row.recipient_address, row.recipient_name, dict(row.context),
        row.idempotency_key, row.attempts, row.claim_token or "",
    )


def mark_send_started(session_factory: sessionmaker[Session], email: ClaimedEmail, lease_now: datetime) -> bool:
    """Commit that this row is about to be handed to the server; False if our claim was lost."""
    with transaction(session_factory) as session:
        result = session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email.id, OutboxEmail.claim_token == email.claim_token, OutboxEmail.status == "sending")
            .values(send_started_at=lease_now, attempts=OutboxEmail.attempts + 1)
        )
        return result.rowcount == 1


def record_sent(session_factory: sessionmaker[Session], email: ClaimedEmail, provider_id: str, sent_at: datetime) -> None:
    """Record a delivered email; this wins even over a reaper that gave up on the row."""
    with transaction(session_factory) as session:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email.id, OutboxEmail.status != "sent")
            .values(status="sent", provider_message_id=provider_id[:500], sent_at=sent_at, claim_token=None,
                    claimed_until=None, last_error=None)
        )


def record_failure(
    session_factory: sessionmaker[Session],
    email: ClaimedEmail,
    error: str,
    retry_at: datetime | None,
) -> None:
    """Record a failed attempt: retry at ``retry_at``, or mark the row dead when it is None."""
    values: dict[str, Any] = {"last_error": error[:2000], "claim_token": None, "claimed_until": None}
    values |= {"status": "failed", "next_attempt_at": retry_at} if retry_at else {"status": "dead"}
    with transaction(session_factory) as session:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email.id, OutboxEmail.claim_token == email.claim_token)
            .values(**values)
        )


def release_unsent(session_factory: sessionmaker[Session], emails: Sequence[ClaimedEmail], retry_at: datetime, reason: str) -> None:
    """Give back rows this dispatcher claimed but never handed to the server (transport down)."""
    if not emails:
        return
    with transaction(session_factory) as session:
        for email in emails:
            session.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == email.id, OutboxEmail.claim_token == email.claim_token,
                       OutboxEmail.send_started_at.is_(None))
                .values(status="failed" if email.attempts else "queued", next_attempt_at=retry_at,
                        claim_token=None, claimed_until=None, last_error=reason[:2000])
            )


def reap_expired_leases(session_factory: sessionmaker[Session], lease_now: datetime) -> dict[str, int]:
    """Requeue expired leases that never reached the server; give up on those that might have."""
    expired = and_(OutboxEmail.status == "sending", OutboxEmail.claimed_until < lease_now)
    with transaction(session_factory) as session:
        requeued = session.execute(
            update(OutboxEmail)
            .where(expired, OutboxEmail.send_started_at.is_(None))
            .values(status="queued", claim_token=None, claimed_until=None)
        ).rowcount
        unknown = session.execute(
            update(OutboxEmail)
            .where(expired, OutboxEmail.send_started_at.is_not(None))
            .values(status="dead", claim_token=None, claimed_until=None, last_error=OUTCOME_UNKNOWN)
        ).rowcount
    return {"requeued": requeued or 0, "outcome_unknown": unknown or 0}


def requeue(session: Session, email_id: int, now: datetime) -> bool:
    """Put a dead or failed email back in the queue (staff decision after an outcome-unknown)."""
    result = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == email_id, or_(OutboxEmail.status == "dead", OutboxEmail.status == "failed"))
        .values(status="queued", next_attempt_at=now, claim_token=None, claimed_until=None, send_started_at=None)
    )
    return result.rowcount == 1


def outbox_counts(session: Session) -> dict[str, int]:
    """How many emails are in each status."""
    from sqlalchemy import func

    rows = session.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status))
    return {status: count for status, count in rows}
