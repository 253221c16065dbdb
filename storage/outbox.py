"""The email outbox: enqueue in the caller's transaction, claim with SKIP LOCKED, record outcomes.

Delivery protocol (why a crash cannot send the same email twice):

1. ``claim_emails`` moves due rows to ``sending`` with a fresh claim token and a lease, in a
   durable commit; PostgreSQL's ``FOR UPDATE SKIP LOCKED`` lets dispatchers claim disjoint rows
   without waiting, and the status guard in the UPDATE keeps SQLite (no SKIP LOCKED) correct.
2. ``DeliveryLog.begin_send`` commits ``send_started_at`` for one row just before the SMTP
   transaction, guarded by the claim token, so a dispatcher whose lease was taken away never sends.
3. ``DeliveryLog.sent`` / ``failed`` record the outcome, written with the next commit.

A dispatcher that dies between 2 and 3 leaves a row in ``sending`` with ``send_started_at`` set:
the server may or may not have accepted the message. ``reap_expired_leases`` moves such rows to
``dead`` with an "outcome unknown" error instead of retrying them, trading a (rare, visible,
requeueable) lost email for never sending a duplicate. Rows whose lease expired before
``send_started_at`` was written were never handed to the server and simply go back to the queue.

The DeliveryLog commits with ``synchronous_commit = off`` on PostgreSQL: a durable commit costs an
fsync (about 4 ms on this machine), which would cap delivery near 120 emails/s. An asynchronous
commit survives a crash of the dispatcher (the server already has it) but not a crash of the
database server itself, so the reaper trusts per-row marks only if PostgreSQL has not restarted
since the claim (``pg_postmaster_start_time``); after a restart every expired lease is treated as
outcome unknown. Either way nothing is sent twice. Each message also carries a Message-ID derived
from its idempotency key, so even a manual requeue is recognisable as the same message.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, false, func, literal, null, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker

from storage.db import is_postgres, transaction
from storage.models.outbox import OutboxEmail

OUTBOX = OutboxEmail.__table__
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
    if is_postgres(session):
        return _enqueue_recordset(session, requests, now)
    statement = sqlite.insert(OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"])
    # SQLite's rowcount for an executemany is the number of rows really inserted.
    return max(session.execute(statement, [_row(request, now) for request in requests]).rowcount, 0)


_ENQUEUE_RECORDSET = text("""
    INSERT INTO email_outbox (notice, recipient_address, recipient_name, context, idempotency_key,
                              status, attempts, created_at, next_attempt_at)
    SELECT v.notice, v.address, v.name, v.context, v.key, 'queued', 0, :now, :now
    FROM json_to_recordset(CAST(:rows AS json)) AS v(notice text, address text, name text, context json, key text)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
""")


def _enqueue_recordset(session: Session, requests: Sequence[NoticeRequest], now: datetime) -> int:
    # One statement whose rows travel as one JSON document: at 10,000 emails a sweep, per-row
    # statements (even pipelined) or driver-side array encoding cost more than the sweep's own
    # logic, while json.dumps and PostgreSQL's JSON parser are both C. RETURNING counts inserts.
    rows = [
        {"notice": r.notice, "address": r.recipient_address, "name": r.recipient_name[:200],
         "context": dict(r.context), "key": r.idempotency_key}
        for r in requests
    ]
    return len(session.execute(_ENQUEUE_RECORDSET, {"now": now, "rows": json.dumps(rows)}).all())


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
        # Plain rows, not ORM objects: nothing here is changed through the session afterwards.
        c = OUTBOX.c
        rows = session.execute(
            select(c.id, c.notice, c.recipient_address, c.recipient_name, c.context, c.idempotency_key, c.attempts)
            .where(c.claim_token == token)
            .order_by(c.id)
        )
        return [ClaimedEmail(i, notice, address, name, dict(ctx or {}), key, attempts, token)
                for i, notice, address, name, ctx, key, attempts in rows]


def _sent_and_started_statement() -> Any:
    c = OUTBOX.c
    done, following = c.id == bindparam("done_id"), c.id == bindparam("next_id")

    def for_done(value: Any, column: Any) -> Any:
        return case((done, value), else_=column)

    return (
        update(OUTBOX)
        .where(or_(and_(done, c.status != "sent"),
                   and_(following, c.claim_token == bindparam("token"), c.status == "sending")))
        .values(
            status=for_done(literal("sent"), c.status),
            provider_message_id=for_done(bindparam("provider_id", type_=c.provider_message_id.type), c.provider_message_id),
            sent_at=for_done(bindparam("sent_at", type_=c.sent_at.type), c.sent_at),
            claim_token=for_done(null(), c.claim_token),
            claimed_until=for_done(null(), c.claimed_until),
            last_error=for_done(null(), c.last_error),
            send_started_at=case((following, bindparam("started_at", type_=c.send_started_at.type)), else_=c.send_started_at),
            attempts=case((following, c.attempts + 1), else_=c.attempts),
        )
        .returning(c.id)
    )


_SENT_AND_STARTED = _sent_and_started_statement()
_COMPILED: dict[str, tuple[str, dict[str, Any]]] = {}


def _compiled_for(engine: Engine) -> tuple[str, dict[str, Any]] | None:
    """The same statement as SQL text plus its constant parameters, for PostgreSQL only.

    Executing the Core statement makes SQLAlchemy walk its eight CASE expressions for a cache
    key on every email; running the compiled text skips that. psycopg adapts every parameter
    itself (no bind processors), so the text with its named (pyformat) parameters is equivalent.
    """
    if engine.dialect.name != "postgresql" or engine.dialect.paramstyle != "pyformat":
        return None
    key = engine.dialect.name
    if key not in _COMPILED:
        compiled = _SENT_AND_STARTED.compile(dialect=engine.dialect)
        constants = {k: v for k, v in compiled.params.items() if v is not None}
        _COMPILED[key] = (str(compiled), constants)
    return _COMPILED[key]


class DeliveryLog:
    """Per-email progress on one dedicated autocommit connection.

    An email's outcome is written just before the next email's start mark, so the dispatcher
    waits on the database once per email instead of twice; an outcome still pending when the
    dispatcher dies leaves its row ``sending`` with ``send_started_at`` set, which the reaper
    turns into outcome-unknown, never into a resend.
    """

    def __init__(self, engine: Engine) -> None:
        # Each progress statement is its own transaction (autocommit saves a COMMIT round trip);
        # the rows touched are independent, so nothing needs them to commit together.
        self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql":
            # Asynchronous commit for progress marks only (see the module docstring).
            self._conn.execute(text("SET synchronous_commit = off"))
        self._pending: list[tuple[ClaimedEmail, dict[str, Any]]] = []
        self._sent_and_started_sql = _compiled_for(engine)

    def begin_send(self, email: ClaimedEmail, lease_now: datetime) -> bool:
        """Commit pending outcomes and this email's start; False if our claim was lost."""
        if len(self._pending) == 1 and self._pending[0][1]["status"] == "sent":
            done, values = self._pending.pop()
            return self._sent_and_started(done, values, email, lease_now)
        self._write_pending()
        result = self._conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == email.id, OUTBOX.c.claim_token == email.claim_token, OUTBOX.c.status == "sending")
            .values(send_started_at=lease_now, attempts=OUTBOX.c.attempts + 1)
        )
        return result.rowcount == 1

    def _sent_and_started(self, done: ClaimedEmail, values: dict[str, Any], email: ClaimedEmail, lease_now: datetime) -> bool:
        # The common case in one statement (one round trip): the previous email is sent and the
        # next one starts. The statement is built once at import; RETURNING tells who matched.
        params = {"done_id": done.id, "provider_id": values["provider_message_id"], "sent_at": values["sent_at"],
                  "next_id": email.id, "token": email.claim_token, "started_at": lease_now}
        if self._sent_and_started_sql is not None:
            sql, constants = self._sent_and_started_sql
            result = self._conn.exec_driver_sql(sql, constants | params)
        else:
            result = self._conn.execute(_SENT_AND_STARTED, params)
        return email.id in set(result.scalars())

    def sent(self, email: ClaimedEmail, provider_id: str, sent_at: datetime) -> None:
        """Remember a delivery; it is written with the next commit."""
        self._pending.append((email, {"status": "sent", "provider_message_id": provider_id[:500], "sent_at": sent_at,
                                      "claim_token": None, "claimed_until": None, "last_error": None}))

    def failed(self, email: ClaimedEmail, error: str, retry_at: datetime | None) -> None:
        """Remember a failed attempt: retry at ``retry_at``, or dead when it is None."""
        values: dict[str, Any] = {"last_error": error[:2000], "claim_token": None, "claimed_until": None}
        values |= {"status": "failed", "next_attempt_at": retry_at} if retry_at else {"status": "dead"}
        self._pending.append((email, values))

    def close(self) -> None:
        """Write what is pending and give the connection back."""
        if self._conn.closed:
            return
        try:
            self._write_pending()
        finally:
            self._conn.close()

    def _write_pending(self) -> None:
        for email, values in self._pending:
            # "sent" wins even over a reaper that gave up on the row; other outcomes need our claim.
            guard = OUTBOX.c.status != "sent" if values.get("status") == "sent" else OUTBOX.c.claim_token == email.claim_token
            self._conn.execute(update(OUTBOX).where(OUTBOX.c.id == email.id, guard).values(**values))
        self._pending.clear()


def withdraw_queued(session: Session, idempotency_keys: Sequence[str], reason: str) -> int:
    """Mark emails with these keys that are still waiting to be sent as dead; returns how many."""
    result = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.idempotency_key.in_(list(idempotency_keys)), OutboxEmail.status.in_(CLAIMABLE))
        .values(status="dead", last_error=reason[:2000])
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class UnsentEmail:
    """An email still waiting in the outbox (queued or to be retried), locked by the caller's transaction."""

    id: int
    request: NoticeRequest


def unsent_with_key_prefix(session: Session, prefix: str) -> list[UnsentEmail]:
    """Emails not handed to a server yet whose idempotency key starts with ``prefix``, locked (a dispatcher skips them)."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (select(OutboxEmail.id, OutboxEmail.notice, OutboxEmail.recipient_address, OutboxEmail.recipient_name,
                    OutboxEmail.context, OutboxEmail.idempotency_key)
             .where(OutboxEmail.status.in_(CLAIMABLE), OutboxEmail.idempotency_key.like(pattern, escape="\\"))
             .order_by(OutboxEmail.id))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return [UnsentEmail(row[0], NoticeRequest(row[1], row[2], row[3], row[4], row[5])) for row in session.execute(query)]


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


def reap_expired_leases(session_factory: sessionmaker[Session], lease_now: datetime, lease: timedelta) -> dict[str, int]:
    """Requeue expired leases that never reached the server; give up on those that might have."""
    expired = and_(OutboxEmail.status == "sending", OutboxEmail.claimed_until < lease_now)
    with transaction(session_factory) as session:
        # Claims older than the database server's start may have lost their asynchronous marks.
        unsure = OutboxEmail.claimed_until < _server_started_at(session) + lease if is_postgres(session) else false()
        requeued = session.execute(
            update(OutboxEmail)
            .where(expired, OutboxEmail.send_started_at.is_(None), ~unsure)
            .values(status="queued", claim_token=None, claimed_until=None)
        ).rowcount
        unknown = session.execute(
            update(OutboxEmail)
            .where(expired)
            .values(status="dead", claim_token=None, claimed_until=None, last_error=OUTCOME_UNKNOWN)
        ).rowcount
    return {"requeued": requeued or 0, "outcome_unknown": unknown or 0}


def _server_started_at(session: Session) -> datetime:
    return session.execute(select(func.pg_postmaster_start_time())).scalar_one()


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
    rows = session.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status))
    return {status: count for status, count in rows}


def sent_by_notice(session: Session) -> dict[str, int]:
    """How many emails of each notice have been sent."""
    rows = session.execute(
        select(OutboxEmail.notice, func.count()).where(OutboxEmail.status == "sent").group_by(OutboxEmail.notice)
    )
    return {notice: count for notice, count in rows}


@dataclass(frozen=True)
class OutboxListing:
    """One email as ``peerguard outbox list`` shows it."""

    id: int
    notice: str
    to: str
    attempts: int
    created_at: datetime
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "notice": self.notice, "to": self.to, "attempts": self.attempts,
                "created_at": self.created_at.isoformat(), "last_error": self.last_error}


def list_emails(session: Session, status: str, limit: int) -> list[OutboxListing]:
    """Emails in one status, newest first."""
    rows = session.execute(
        select(OUTBOX.c.id, OUTBOX.c.notice, OUTBOX.c.recipient_address, OUTBOX.c.attempts, OUTBOX.c.created_at,
               OUTBOX.c.last_error).where(OUTBOX.c.status == status).order_by(OUTBOX.c.id.desc()).limit(limit)
    )
    return [OutboxListing(*row) for row in rows]
