"""Response deadlines in the database: sync from messages, the due-sweep, and seller statistics.

Every function is idempotent: syncing the same messages twice or sweeping the same instant twice
changes nothing the second time, which is what lets the scheduler and ``run --once`` repeat them.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from pipeline.notices import RESPONSE_CONTEXTS, MailIdentity, ResponseNoticeFacts, verify_unsubscribe_token
from pipeline.responses import (
    ConversationObligations,
    Delivery,
    ResponseObligation,
    ResponsePolicy,
    ResponseRecord,
    SellerProfile,
    SellerResponseStats,
    Stage,
    StageDecision,
    TimelineMessage,
    decide_stage,
    obligations_from_timeline,
    seller_stats,
    stage_due_at,
)
from storage.db import is_postgres, transaction
from storage.models.core import Conversation, Message, User
from storage.models.outbox import OutboxEmail
from storage.models.responses import EmailPreference, ResponseDeadline, ResponseDeadlineEvent, ResponseSyncCursor
from storage.outbox import NoticeRequest, enqueue_notices

log = logging.getLogger(__name__)

# If a row fails to process, look at it again after this long rather than on every sweep.
ERROR_RETRY = timedelta(minutes=5)


# --- Sync: messages → deadlines -----------------------------------------------------------------


def sync_new_messages(session_factory: sessionmaker[Session], now: datetime, policy: ResponsePolicy, batch_size: int = 2000) -> Counter[str]:
    """Bring deadlines up to date with every message the sync has not seen yet."""
    totals: Counter[str] = Counter()
    while True:
        with transaction(session_factory) as session:
            cursor = _cursor(session)
            rows = session.execute(
                select(Message.id, Message.conversation_id)
                .where(Message.deadline_synced_at.is_(None))
                .order_by(Message.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return totals
            totals.update(sync_conversations(session, {c for _, c in rows}, now, policy))
            session.execute(
                update(Message).where(Message.id.in_([m for m, _ in rows])).values(deadline_synced_at=now)
            )
            cursor.last_message_id = max(cursor.last_message_id, rows[-1][0])
            totals["messages"] += len(rows)


def _cursor(session: Session) -> ResponseSyncCursor:
    # Locking the single cursor row serialises concurrent syncs, so two sweeps never race on
    # the same deadlines. Which messages are synced is marked per message (an importer that
    # commits late with lower ids is still seen); the row keeps the highest id for reference.
    cursor = session.scalars(select(ResponseSyncCursor).where(ResponseSyncCursor.id == 1).with_for_update()).first()
    if cursor is None:
        cursor = ResponseSyncCursor(id=1, last_message_id=0)
        session.add(cursor)
        session.flush()
    return cursor


def sync_conversations(session: Session, conversation_ids: Iterable[int], now: datetime, policy: ResponsePolicy) -> Counter[str]:
    """Recompute the deadlines of these conversations from all their messages."""
    ids = sorted(set(conversation_ids))
    conversations = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(ids)))}
    away = dict(session.execute(select(User.id, User.away).where(User.id.in_({c.seller_id for c in conversations.values()}))).all())
    timelines = _timelines(session, conversations)
    existing = _existing_deadlines(session, ids)
    counts: Counter[str] = Counter()
    for conversation_id, conversation in conversations.items():
        computed = obligations_from_timeline(timelines.get(conversation_id, []), now)
        if computed.future_message_ids:
            log.warning("conversation %s: messages %s are dated in the future; treated as sent now",
                        conversation_id, list(computed.future_message_ids))
        counts.update(_reconcile(session, conversation, computed, existing.get(conversation_id, []),
                                 bool(away.get(conversation.seller_id)), now, policy))
    return counts


def _timelines(session: Session, conversations: dict[int, Conversation]) -> dict[int, list[TimelineMessage]]:
    timelines: dict[int, list[TimelineMessage]] = {}
    rows = session.execute(
        select(Message.id, Message.conversation_id, Message.sender_id, Message.sent_at)
        .where(Message.conversation_id.in_(list(conversations)))
    )
    for message_id, conversation_id, sender_id, sent_at in rows:
        conversation = conversations[conversation_id]
        role = {conversation.buyer_id: "buyer", conversation.seller_id: "seller"}.get(sender_id, "other")
        timelines.setdefault(conversation_id, []).append(TimelineMessage(message_id, role, sent_at))
    return timelines


def _existing_deadlines(session: Session, conversation_ids: Sequence[int]) -> dict[int, list[ResponseDeadline]]:
    query = select(ResponseDeadline).where(ResponseDeadline.conversation_id.in_(conversation_ids))
    if is_postgres(session):
        query = query.with_for_update()
    found: dict[int, list[ResponseDeadline]] = {}
    for row in session.scalars(query):
        found.setdefault(row.conversation_id, []).append(row)
    return found


def _reconcile(
    session: Session,
    conversation: Conversation,
    computed: ConversationObligations,
    existing: list[ResponseDeadline],
    seller_away: bool,
    now: datetime,
    policy: ResponsePolicy,
) -> Counter[str]:
    counts: Counter[str] = Counter()
    by_start = {row.started_by_message_id: row for row in existing if row.superseded_at is None}
    for obligation in computed.obligations:
        row = by_start.pop(obligation.started_by, None)
        if row is None:
            _open_deadline(session, conversation, obligation, seller_away, now, policy)
            counts["opened"] += 1
        elif row.answered_by_message_id != obligation.answered_by:
            _set_answer(session, row, obligation, now, policy)
            counts["answered"] += 1
    for row in by_start.values():
        # A late-imported earlier message can move the clock start; the old row stays as history.
        row.superseded_at, row.next_due_at = now, None
        _event(session, row.id, now, "superseded")
        counts["superseded"] += 1
    return counts


def _open_deadline(
    session: Session, conversation: Conversation, obligation: ResponseObligation, seller_away: bool,
    now: datetime, policy: ResponsePolicy,
) -> None:
    row = ResponseDeadline(
        conversation_id=conversation.id, seller_id=conversation.seller_id, started_at=obligation.started_at,
        started_by_message_id=obligation.started_by, stage_sent=0, away=seller_away,
        next_due_at=stage_due_at(obligation.started_at, Stage.NONE, policy),
    )
    session.add(row)
    session.flush()
    _event(session, row.id, now, "opened", detail="seller away" if seller_away else None)
    if obligation.answered_at is not None:
        _set_answer(session, row, obligation, now, policy)


def _set_answer(session: Session, row: ResponseDeadline, obligation: ResponseObligation, now: datetime, policy: ResponsePolicy) -> None:
    row.answered_at, row.answered_by_message_id = obligation.answered_at, obligation.answered_by
    row.response_seconds = obligation.response_seconds
    if obligation.answered_at is None:
        row.next_due_at = stage_due_at(row.started_at, Stage(row.stage_sent), policy)
        _event(session, row.id, now, "reopened")
    else:
        row.next_due_at = None
        _event(session, row.id, now, "answered", detail=f"{obligation.response_seconds} s")
        _withdraw_unsent_nudges(session, row.id)


def _withdraw_unsent_nudges(session: Session, deadline_id: int) -> None:
    # A reminder still waiting in the outbox when the seller answers would only confuse them;
    # the breach notice stays, because the breach happened even if the answer came later.
    keys = [f"response-deadline:{deadline_id}:{stage.notice}" for stage in (Stage.REMINDER, Stage.FINAL_WARNING)]
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.idempotency_key.in_(keys), OutboxEmail.status.in_(("queued", "failed")))
        .values(status="dead", last_error="withdrawn: the seller answered before it was sent")
    )


def _event(session: Session, deadline_id: int, at: datetime, kind: str, stage: int | None = None, detail: str | None = None) -> None:
    session.add(ResponseDeadlineEvent(deadline_id=deadline_id, at=at, kind=kind, stage=stage, detail=detail))


# --- The due-sweep ----------------------------------------------------------------------------

DEADLINES = ResponseDeadline.__table__
EVENTS = ResponseDeadlineEvent.__table__


@dataclass
class SweepOutcome:
    """Counts of one sweep, and sellers whose time zone name had to be replaced by UTC."""

    counts: Counter[str] = field(default_factory=Counter)
    invalid_zones: dict[int, str] = field(default_factory=dict)

    def merge(self, other: SweepOutcome) -> None:
        self.counts.update(other.counts)
        self.invalid_zones.update(other.invalid_zones)


class _Seller(NamedTuple):
    profile: SellerProfile
    name: str


class _DueDeadline(NamedTuple):
    """The columns of a due deadline the sweep reads (plain values: no ORM identity map).

    Named tuples rather than frozen dataclasses: built once per due row, and a frozen
    dataclass's ``__init__`` costs one ``object.__setattr__`` call per field.
    """

    id: int
    conversation_id: int
    seller_id: int
    started_at: datetime
    stage_sent: int
    away: bool
    breached_at: datetime | None


@dataclass
class _Plan:
    """What the sweep will write for one deadline: its new columns, events and email."""

    update: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    notice: NoticeRequest | None = None


def sweep_due(
    session_factory: sessionmaker[Session], now: datetime, policy: ResponsePolicy, identity: MailIdentity,
    batch_size: int = 2000,
) -> SweepOutcome:
    """Record every stage due at ``now`` and queue its email, one committed batch at a time."""
    total = SweepOutcome()
    while True:
        try:
            with transaction(session_factory) as session:
                outcome = _sweep_batch(session, now, policy, identity, batch_size, isolate=False)
        except Exception:  # noqa: BLE001 - retried row by row below so one bad row cannot block the rest
            log.exception("due-sweep batch failed; retrying row by row")
            with transaction(session_factory) as session:
                outcome = _sweep_batch(session, now, policy, identity, batch_size, isolate=True)
        total.merge(outcome)
        if outcome.counts["examined"] < batch_size:
            return total


def _sweep_batch(
    session: Session, now: datetime, policy: ResponsePolicy, identity: MailIdentity, batch_size: int, isolate: bool
) -> SweepOutcome:
    due = _lock_due(session, now, batch_size)
    outcome = SweepOutcome()
    outcome.counts["examined"] = len(due)
    if isolate:
        for row, seller in due:
            _write_isolated(session, row, seller, now, policy, identity, outcome)
        return outcome
    _write(session, [_plan(row, seller, now, policy, identity, outcome) for row, seller in due], now, outcome)
    return outcome


def _lock_due(session: Session, now: datetime, limit: int) -> list[tuple[_DueDeadline, _Seller]]:
    # SKIP LOCKED lets two sweeps split the due rows instead of queueing on each other; SQLite
    # has no row locks (its writers are serialised anyway), so there the plain select is enough.
    # The seller comes in the same query: one round trip, and no 2,000-id IN list to plan.
    return [_due_pair(row) for row in session.execute(due_query(now, limit, is_postgres(session)))]


def due_query(now: datetime, limit: int, postgres: bool) -> Any:
    """The due-sweep's select (exposed so the benchmark can EXPLAIN exactly this query)."""
    c = DEADLINES.c
    due = (
        select(c.id, c.conversation_id, c.seller_id, c.started_at, c.stage_sent, c.away, c.breached_at)
        .where(c.next_due_at.is_not(None), c.next_due_at <= now)
        .order_by(c.next_due_at)
        .limit(limit)
    )
    if postgres:
        due = due.with_for_update(skip_locked=True)
    # Lock and limit in a CTE so the planner walks the partial index in order and stops after
    # ``limit`` rows; joining users outside keeps that plan (a join inside would sort every due row).
    due = due.cte("due")
    return (
        select(due, User.email, User.timezone, User.away, User.name, EmailPreference.response_reminders_opted_out)
        .join(User, User.id == due.c.seller_id)
        .outerjoin(EmailPreference, EmailPreference.user_id == due.c.seller_id)
    )


def _due_pair(row: Any) -> tuple[_DueDeadline, _Seller]:
    deadline = _DueDeadline(*row[:7])
    email, tz, away, name, opted_out = row[7:]
    return deadline, _Seller(SellerProfile(deadline.seller_id, email, tz, bool(away), bool(opted_out)), name)


def _write(session: Session, plans: Sequence[_Plan], now: datetime, outcome: SweepOutcome) -> None:
    """Three batched statements for the whole batch: deadlines, events, outbox rows."""
    if not plans:
        return
    if is_postgres(session):
        _write_recordsets(session, plans)
    else:
        _write_executemany(session, plans)
    notices = [plan.notice for plan in plans if plan.notice is not None]
    outcome.counts["queued_emails"] += enqueue_notices(session, notices, now)


_UPDATE_RECORDSET = text("""
    UPDATE response_deadlines AS d
    SET stage_sent = v.stage_sent, next_due_at = v.next_due_at, breached_at = v.breached_at, away = v.away
    FROM json_to_recordset(CAST(:rows AS json))
         AS v(deadline_id integer, stage_sent smallint, next_due_at timestamptz, breached_at timestamptz, away boolean)
    WHERE d.id = v.deadline_id
""")
_EVENTS_RECORDSET = text("""
    INSERT INTO response_deadline_events (deadline_id, at, kind, stage, detail)
    SELECT v.deadline_id, v.at, v.kind, v.stage, v.detail
    FROM json_to_recordset(CAST(:rows AS json))
         AS v(deadline_id integer, at timestamptz, kind text, stage smallint, detail text)
""")


def _write_recordsets(session: Session, plans: Sequence[_Plan]) -> None:
    # PostgreSQL: one statement per table whose rows travel as one JSON document; per-row
    # statements (even pipelined) cost more than the sweep's whole decision logic.
    session.execute(_UPDATE_RECORDSET, {"rows": _json([plan.update for plan in plans])})
    events = [event for plan in plans for event in plan.events]
    if events:
        session.execute(_EVENTS_RECORDSET, {"rows": _json(events)})


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=lambda value: value.isoformat())


def _write_executemany(session: Session, plans: Sequence[_Plan]) -> None:
    c = DEADLINES.c
    session.execute(
        update(DEADLINES).where(c.id == bindparam("deadline_id")).values(
            stage_sent=bindparam("stage_sent"), next_due_at=bindparam("next_due_at"),
            breached_at=bindparam("breached_at"), away=bindparam("away"),
        ),
        [plan.update for plan in plans],
    )
    events = [event for plan in plans for event in plan.events]
    if events:
        session.execute(EVENTS.insert(), events)


def _write_isolated(session: Session, row: _DueDeadline, seller: _Seller, now: datetime, policy: ResponsePolicy,
                    identity: MailIdentity, outcome: SweepOutcome) -> None:
    try:
        with session.begin_nested():
            _write(session, [_plan(row, seller, now, policy, identity, outcome)], now, outcome)
    except Exception as exc:  # noqa: BLE001 - one bad row is recorded and skipped, never retried in a loop
        log.exception("deadline %s could not be processed", row.id)
        session.execute(update(DEADLINES).where(DEADLINES.c.id == row.id).values(next_due_at=now + ERROR_RETRY))
        session.execute(EVENTS.insert(), [_event_row(row, now, "error", None, str(exc)[:500])])
        outcome.counts["errors"] += 1


def _plan(row: _DueDeadline, seller: _Seller, now: datetime, policy: ResponsePolicy, identity: MailIdentity,
          outcome: SweepOutcome) -> _Plan:
    decision = decide_stage(row.started_at, Stage(row.stage_sent), seller.profile, now, policy)
    if decision.zone.fell_back_to_utc:
        outcome.invalid_zones[seller.profile.seller_id] = seller.profile.timezone or ""
    plan = _Plan({"deadline_id": row.id, "stage_sent": row.stage_sent, "next_due_at": decision.next_due_at,
                  "breached_at": row.breached_at, "away": row.away})
    if decision.stage is None:
        if decision.held_until is not None:
            plan.events.append(_event_row(row, now, "held", None, f"quiet hours until {decision.held_until:%Y-%m-%dT%H:%M}Z"))
        outcome.counts["held" if decision.held_until else "rescheduled"] += 1
        return plan
    _record_stage(plan, row, decision, now, outcome)
    if decision.delivery == Delivery.SEND:
        plan.notice = _notice(row, decision, seller, policy, identity)
    return plan


def _record_stage(plan: _Plan, row: _DueDeadline, decision: StageDecision, now: datetime, outcome: SweepOutcome) -> None:
    stage = decision.stage
    assert stage is not None
    plan.update["stage_sent"] = int(stage)
    if decision.breached:
        plan.update["breached_at"] = now
    if decision.delivery == Delivery.SUPPRESSED_AWAY:
        plan.update["away"] = True
    skipped = ",".join(s.notice for s in decision.skipped)
    detail = f"{decision.delivery}" + (f"; superseded {skipped}" if skipped else "")
    if decision.zone.fell_back_to_utc:
        detail += "; invalid time zone, used UTC"
    plan.events.append(_event_row(row, now, "stage", int(stage), detail))
    outcome.counts[f"{stage.notice}:{decision.delivery}"] += 1


def _event_row(row: _DueDeadline, at: datetime, kind: str, stage: int | None, detail: str | None) -> dict[str, Any]:
    return {"deadline_id": row.id, "at": at, "kind": kind, "stage": stage, "detail": detail}


def _notice(row: _DueDeadline, decision: StageDecision, seller: _Seller, policy: ResponsePolicy, identity: MailIdentity) -> NoticeRequest:
    stage = decision.stage
    assert stage is not None
    facts = ResponseNoticeFacts(
        seller_id=row.seller_id, seller_name=seller.name, conversation_id=row.conversation_id,
        started_at=row.started_at, stage_due_at=row.started_at + policy.offset(stage),
        deadline=row.started_at + policy.breach_after, zone=decision.zone.zone,
    )
    return NoticeRequest(
        notice=stage.notice,
        recipient_address=(seller.profile.email or "").strip(),
        recipient_name=seller.name,
        context=RESPONSE_CONTEXTS[stage.notice](identity, facts),
        idempotency_key=f"response-deadline:{row.id}:{stage.notice}",
    )


# --- Preferences and statistics ----------------------------------------------------------------


def set_response_reminders(session: Session, user_id: int, opted_out: bool, now: datetime) -> None:
    """Record a seller's choice to receive or stop response reminders."""
    preference = session.get(EmailPreference, user_id)
    if preference is None:
        session.add(EmailPreference(user_id=user_id, response_reminders_opted_out=opted_out, changed_at=now))
    else:
        preference.response_reminders_opted_out, preference.changed_at = opted_out, now


def unsubscribe_with_token(session: Session, identity: MailIdentity, seller_id: int, token: str, now: datetime) -> bool:
    """Handle an RFC 8058 one-click unsubscribe; False (nothing changed) if the token is wrong."""
    if not verify_unsubscribe_token(identity.unsubscribe_secret, seller_id, token):
        return False
    if session.get(User, seller_id) is None:
        return False
    set_response_reminders(session, seller_id, True, now)
    return True


@dataclass(frozen=True)
class SellerStatsRow:
    """One seller's identity and response statistics."""

    seller_id: int
    email: str | None
    name: str
    stats: SellerResponseStats


def seller_response_stats(session: Session, now: datetime, policy: ResponsePolicy, seller_email: str | None = None) -> list[SellerStatsRow]:
    """Statistics for every seller with deadlines in the window (or just one, by email)."""
    query = (
        select(ResponseDeadline.seller_id, ResponseDeadline.started_at, ResponseDeadline.answered_at, ResponseDeadline.away)
        .where(ResponseDeadline.started_at >= now - policy.stats_window, ResponseDeadline.started_at <= now,
               ResponseDeadline.superseded_at.is_(None))
    )
    if seller_email is not None:
        query = query.join(User, User.id == ResponseDeadline.seller_id).where(func.lower(User.email) == seller_email.lower())
    records: dict[int, list[ResponseRecord]] = {}
    for seller_id, started_at, answered_at, away in session.execute(query):
        records.setdefault(seller_id, []).append(ResponseRecord(started_at, answered_at, away))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(list(records))))}
    return [
        SellerStatsRow(seller_id, users[seller_id].email, users[seller_id].name, seller_stats(found, now, policy))
        for seller_id, found in sorted(records.items())
    ]
