"""The email outbox: enqueue in the caller's transaction, claim with SKIP LOCKED, record outcomes.

Delivery protocol (why a crash cannot send the same email twice, and why it loses none):

1. ``claim_emails`` moves due rows to ``sending`` with a fresh claim token, a lease and the
   claiming dispatcher's id (``claimer``), in a durable commit; PostgreSQL's ``FOR UPDATE SKIP
   LOCKED`` lets dispatchers claim disjoint rows without waiting, and the status guard in the
   UPDATE keeps SQLite (no SKIP LOCKED) correct.
2. ``DeliveryLog.begin_send`` commits ``send_started_at`` for one row after the message body and
   just before the DATA terminator (the transport calls it back at that point), guarded by the
   claim token, so a dispatcher whose claim was taken away never completes a message. Until the
   terminator is sent the server cannot have accepted the message.
3. ``DeliveryLog.sent`` / ``failed`` / ``give_back`` record the outcome, written with the next commit.

While a dispatcher runs it beats its ``outbox_claimers`` row (``ClaimerHeartbeat``). The reaper
releases the claims of a claimer whose heartbeat stopped within seconds, and of any claim whose
lease expired: rows without ``send_started_at`` were never completed and go back to the queue;
rows with it become dead "outcome unknown" (the terminator went out, the reply never came back
to anyone), trading a rare, visible, requeueable email for never sending a duplicate.

The DeliveryLog commits with ``synchronous_commit = off`` on PostgreSQL: a durable commit costs an
fsync (about 4 ms on this machine), which would cap delivery near 120 emails/s. An asynchronous
commit survives a crash of the dispatcher (the server already has it) but not a crash of the
database server. A live dispatcher knows its outcomes in memory and rewrites them after it
reconnects (``DeliveryLog.reconnect``), so only the double fault (database crash and the
dispatcher dead) leaves doubt: the reaper then treats a dead claimer's claims made before the
server started (``pg_postmaster_start_time``) as outcome unknown, and waits ``RESTART_GRACE``
after a restart so live dispatchers can reconnect first. Each message also carries a Message-ID
derived from its idempotency key, so even a manual requeue is recognisable as the same message.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, delete, false, func, insert, literal, null, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import is_postgres, transaction
from storage.models.outbox import OUTBOX_STATUSES as _STATUSES
from storage.models.outbox import OutboxClaimer, OutboxEmail

log = logging.getLogger(__name__)

OUTBOX = OutboxEmail.__table__
CLAIMABLE = ("queued", "failed")
OUTCOME_UNKNOWN = "outcome unknown: the sender stopped after handing the message to the server; not retried to avoid a duplicate"
HEARTBEAT_EVERY = timedelta(seconds=2)
CLAIMER_STALE = timedelta(seconds=10)  # a claimer silent this long is dead; its claims are released
RESTART_GRACE = timedelta(seconds=30)  # after a database restart, live dispatchers reconnect first


class ProgressLost(Exception):
    """The database connection broke while recording delivery progress; the caller knows what it did."""


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
        added = _enqueue_recordset(session, requests, now)
    else:
        statement = sqlite.insert(OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"])
        # SQLite's rowcount for an executemany is the number of rows really inserted.
        added = max(session.execute(statement, [_row(request, now) for request in requests]).rowcount, 0)
    if added:
        session.info[_ADDED] = True  # ring_mail_after_commit rings once this transaction commits
    return added


_ADDED = "peerguard.outbox_added"


def ring_mail_after_commit(session_factory: sessionmaker[Session], ring: Callable[[], None]) -> None:
    """Call ``ring`` after every commit of a session from ``session_factory`` that added emails.

    This is how a staff alert or an account notice leaves within seconds of the decision that
    queued it, whichever use case wrote it; the outbox sweep stays as the safety net.
    """
    from sqlalchemy import event

    def after_commit(session: Session) -> None:
        if session.info.pop(_ADDED, False):
            try:
                ring()
            except Exception:  # noqa: BLE001 - a lost ring only delays the email to the next sweep
                log.warning("could not ring the mail dispatcher; the next outbox sweep sends the email")

    def after_rollback(session: Session) -> None:
        session.info.pop(_ADDED, None)

    event.listen(session_factory, "after_commit", after_commit)
    event.listen(session_factory, "after_rollback", after_rollback)


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
    session_factory: sessionmaker[Session], now: datetime, lease_now: datetime, limit: int, lease: timedelta,
    claimer: str | None = None,
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
            .values(status="sending", claim_token=token, claimed_until=lease_now + lease, send_started_at=None,
                    claimer=claimer)
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
    turns into outcome-unknown, never into a resend. Every outcome of the batch stays in memory
    until ``close`` has made them durable, so after a lost connection ``reconnect`` writes them
    all again (each write is idempotent). A broken connection surfaces as ``ProgressLost``.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pending: list[tuple[ClaimedEmail, dict[str, Any]]] = []
        self._written: list[tuple[ClaimedEmail, dict[str, Any]]] = []
        self._sent_and_started_sql = _compiled_for(engine)
        try:
            self._conn: Any = self._open()
        except ProgressLost:
            self._conn = None  # the first write reconnects (or reports ProgressLost to the caller)

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> Any:
        # Each progress statement is its own transaction (autocommit saves a COMMIT round trip);
        # the rows touched are independent, so nothing needs them to commit together.
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self._engine.dialect.name == "postgresql":
                # Asynchronous commit for progress marks only (see the module docstring).
                conn.execute(text("SET synchronous_commit = off"))
        except DBAPIError as exc:
            raise ProgressLost(str(exc)) from exc
        return conn

    def begin_send(self, email: ClaimedEmail, lease_now: datetime) -> bool:
        """Commit pending outcomes and this email's start; False if our claim was lost."""
        try:
            self._connection()
            return self._begin_send(email, lease_now)
        except DBAPIError as exc:
            raise ProgressLost(str(exc)) from exc

    def _begin_send(self, email: ClaimedEmail, lease_now: datetime) -> bool:
        if len(self._pending) == 1 and self._pending[0][1]["status"] == "sent":
            done, values = self._pending[0]
            started = self._sent_and_started(done, values, email, lease_now)
            self._written.append(self._pending.pop())
            return started
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

    def failed(self, email: ClaimedEmail, error: str, retry_at: datetime | None, count_attempt: bool = False) -> None:
        """Remember a failed attempt: retry at ``retry_at``, or dead when it is None.

        ``count_attempt`` adds the attempt a refusal before the terminator (a 4xx to RCPT) did
        not record through ``begin_send``, so such refusals still run out of retries.
        """
        values: dict[str, Any] = {"last_error": error[:2000], "claim_token": None, "claimed_until": None}
        values |= {"status": "failed", "next_attempt_at": retry_at} if retry_at else {"status": "dead"}
        if count_attempt:
            values["attempts"] = email.attempts + 1
        self._pending.append((email, values))

    def give_back(self, email: ClaimedEmail, retry_at: datetime, reason: str) -> None:
        """Remember that this email never reached the terminator: it goes back to the queue uncounted."""
        self._pending.append((email, {"status": "failed" if email.attempts else "queued", "next_attempt_at": retry_at,
                                      "claim_token": None, "claimed_until": None, "send_started_at": None,
                                      "attempts": email.attempts, "last_error": reason[:2000]}))

    def reconnect(self) -> None:
        """Open a fresh connection and write every outcome of this batch again; ProgressLost if it fails."""
        if self._conn is not None:
            try:
                self._conn.invalidate()
            except Exception:  # noqa: BLE001 - the old connection is gone either way
                pass
            self._conn = None
        self._conn = self._open()
        self._pending[:0], self._written = self._written, []
        self.flush()

    def flush(self) -> None:
        """Write what is pending and make it durable (one fsync for the whole batch)."""
        self._connection()
        try:
            self._write_pending()
            if self._engine.dialect.name == "postgresql":
                # A durable commit flushes the log up to itself, so every asynchronous commit of
                # this batch is durable too; txid_current() makes it a real (logged) transaction.
                self._conn.execute(text("SET synchronous_commit = on"))
                self._conn.execute(text("SELECT txid_current()"))
                self._conn.execute(text("SET synchronous_commit = off"))
        except DBAPIError as exc:
            raise ProgressLost(str(exc)) from exc
        self._written.clear()

    def close(self) -> None:
        """Write what is pending and give the connection back."""
        if self._conn is not None and self._conn.closed:
            return
        try:
            self.flush()
        finally:
            if self._conn is not None:
                self._conn.close()

    def _write_pending(self) -> None:
        while self._pending:
            email, values = self._pending[0]
            # "sent" wins even over a reaper that gave up on the row; other outcomes need our claim.
            guard = OUTBOX.c.status != "sent" if values.get("status") == "sent" else OUTBOX.c.claim_token == email.claim_token
            self._conn.execute(update(OUTBOX).where(OUTBOX.c.id == email.id, guard).values(**values))
            self._written.append(self._pending.pop(0))


class ClaimerHeartbeat:
    """Registers this dispatcher in ``outbox_claimers`` and beats the row from a thread until stopped.

    A beat that fails (the database is restarting) is simply tried again at the next beat; the
    reaper allows ``CLAIMER_STALE`` of silence and ``RESTART_GRACE`` after a restart.
    """

    def __init__(self, engine: Engine, clock: Callable[[], datetime], every: timedelta = HEARTBEAT_EVERY) -> None:
        self.id = str(uuid.uuid4())
        self._engine, self._clock, self._every = engine, clock, every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-heartbeat", daemon=True)

    def __enter__(self) -> ClaimerHeartbeat:
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(insert(OutboxClaimer).values(id=self.id, pid=os.getpid(), host=socket.gethostname()[:255],
                                                      started_at=now, heartbeat_at=now))
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(OutboxClaimer).where(OutboxClaimer.id == self.id))
        except DBAPIError:
            log.warning("could not remove outbox claimer %s; the reaper will treat it as dead", self.id)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with self._engine.begin() as conn:
                    conn.execute(update(OutboxClaimer).where(OutboxClaimer.id == self.id)
                                 .values(heartbeat_at=self._clock()))
            except DBAPIError as exc:
                log.warning("outbox heartbeat failed (retrying): %s", exc.__class__.__name__)


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
    """Give back rows this dispatcher claimed and never took to the DATA terminator (transport down)."""
    if not emails:
        return
    with transaction(session_factory) as session:
        for email in emails:
            session.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == email.id, OutboxEmail.claim_token == email.claim_token)
                .values(status="failed" if email.attempts else "queued", next_attempt_at=retry_at,
                        claim_token=None, claimed_until=None, claimer=None, send_started_at=None,
                        last_error=reason[:2000])
            )


def reap_expired_leases(session_factory: sessionmaker[Session], lease_now: datetime, lease: timedelta) -> dict[str, int]:
    """Release claims whose lease expired or whose claimer stopped beating.

    Rows that never reached the DATA terminator go back to the queue; those that did become
    outcome unknown. See the module docstring for the database-restart rule.
    """
    live = select(OutboxClaimer.id).where(OutboxClaimer.heartbeat_at >= lease_now - CLAIMER_STALE)
    dead_claimer = and_(OutboxEmail.claimer.is_not(None), OutboxEmail.claimer.not_in(live))
    with transaction(session_factory) as session:
        abandoned = and_(OutboxEmail.status == "sending", or_(OutboxEmail.claimed_until < lease_now, dead_claimer))
        unsure: Any = false()
        if is_postgres(session):
            started = _server_started_at(session)
            if lease_now < started + RESTART_GRACE:
                # Just restarted: live dispatchers are reconnecting to write what they know.
                abandoned = and_(OutboxEmail.status == "sending", OutboxEmail.claimed_until < lease_now)
            # Claims older than the server's start may have lost their asynchronous marks.
            unsure = OutboxEmail.claimed_until < started + lease
        requeued = session.execute(
            update(OutboxEmail)
            .where(abandoned, OutboxEmail.send_started_at.is_(None), ~unsure)
            .values(status="queued", claim_token=None, claimed_until=None, claimer=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        unknown = session.execute(
            update(OutboxEmail)
            .where(abandoned)
            .values(status="dead", claim_token=None, claimed_until=None, claimer=None, last_error=OUTCOME_UNKNOWN)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.execute(delete(OutboxClaimer).where(OutboxClaimer.heartbeat_at < lease_now - lease))
    return {"requeued": requeued or 0, "outcome_unknown": unknown or 0}


# Fold the signed per-status changes the triggers append (migration 0017) into one row per
# status. On PostgreSQL one statement deletes and re-inserts from the same snapshot, so a change
# committed meanwhile is either folded or left for next time, never lost or counted twice; the
# advisory lock keeps concurrent dispatchers from folding at once (the second one skips).
_COMPACT_LOCK = 0x5047_0017
_COMPACT_POSTGRESQL = text("""
    WITH folded AS (DELETE FROM email_outbox_counts RETURNING status, n)
    INSERT INTO email_outbox_counts (status, n)
    SELECT status, sum(n) FROM folded GROUP BY status HAVING sum(n) <> 0
""")


def compact_status_counts(session_factory: sessionmaker[Session]) -> int:
    """Fold ``email_outbox_counts`` into one row per status (the sums stay the same); returns the rows folded away."""
    with transaction(session_factory) as session:
        before = session.execute(text("SELECT count(*) FROM email_outbox_counts")).scalar_one()
        if before <= len(_STATUSES):
            return 0
        if is_postgres(session):
            if not session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _COMPACT_LOCK}).scalar_one():
                return 0
            session.execute(_COMPACT_POSTGRESQL)
        else:
            # SQLite has one writer at a time, and this transaction is it.
            last = session.execute(text("SELECT max(id) FROM email_outbox_counts")).scalar_one()
            session.execute(text("INSERT INTO email_outbox_counts (status, n) SELECT status, sum(n) FROM email_outbox_counts "
                                 "WHERE id <= :last GROUP BY status HAVING sum(n) <> 0"), {"last": last})
            session.execute(text("DELETE FROM email_outbox_counts WHERE id <= :last"), {"last": last})
        after = session.execute(text("SELECT count(*) FROM email_outbox_counts")).scalar_one()
    return max(before - after, 0)


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


def requeue_unknown(session: Session, since: datetime | None, now: datetime) -> int:
    """Put every dead "outcome unknown" email (created at or after ``since``) back in the queue."""
    where = [OutboxEmail.status == "dead", OutboxEmail.last_error == OUTCOME_UNKNOWN]
    if since is not None:
        where.append(OutboxEmail.created_at >= since)
    result = session.execute(
        update(OutboxEmail).where(*where)
        .values(status="queued", next_attempt_at=now, claim_token=None, claimed_until=None, claimer=None,
                send_started_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


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
