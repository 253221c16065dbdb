"""Response deadlines in the database: what the sync and the due-sweep read and write, and statistics.

Nothing here decides a rule or composes an email: ``usecases/responses.py`` plans, this module
loads what the plans need and writes them (set-based where the due-sweep needs the speed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import bindparam, case, func, insert, null, select, text, update
from sqlalchemy.orm import Session, aliased

from pipeline.responses import SellerProfile, TimelineMessage
from storage import bulk
from storage.db import is_postgres
from storage.models.core import Conversation, Message, User
from storage.models.responses import EmailPreference, ResponseDeadline, ResponseDeadlineEvent, ResponseSyncCursor
from storage.outbox import NoticeRequest, enqueue_notices

DEADLINES = ResponseDeadline.__table__
EVENTS = ResponseDeadlineEvent.__table__


class DeadlineEvent(TypedDict):
    """One history line of a deadline (a plain dict: it travels to PostgreSQL as JSON)."""

    deadline_id: int
    at: datetime
    kind: str
    stage: int | None
    detail: str | None


# --- Sync: messages -> deadlines -----------------------------------------------------------------


@dataclass(frozen=True)
class KnownDeadline:
    """A deadline already stored for a conversation and not superseded."""

    id: int
    started_by: int
    answered_by: int | None
    started_at: datetime
    stage_sent: int


@dataclass(frozen=True)
class ConversationTimeline:
    """A conversation's messages as the response rules see them, and its current deadlines."""

    id: int
    external_id: str
    seller_id: int
    seller_away: bool
    messages: list[TimelineMessage]
    deadlines: list[KnownDeadline]


def unsynced_messages(session: Session, limit: int) -> list[tuple[int, int]]:
    """(message id, conversation id) of up to ``limit`` messages the sync has not seen, oldest first."""
    _lock_cursor(session)
    return [tuple(row) for row in session.execute(  # type: ignore[misc]
        select(Message.id, Message.conversation_id)
        .where(Message.deadline_synced_at.is_(None))
        .order_by(Message.id)
        .limit(limit)
    )]


def _lock_cursor(session: Session) -> ResponseSyncCursor:
    # Locking the single cursor row serialises concurrent syncs, so two sweeps never race on
    # the same deadlines. Which messages are synced is marked per message (an importer that
    # commits late with lower ids is still seen); the row keeps the highest id for reference.
    cursor = session.scalars(select(ResponseSyncCursor).where(ResponseSyncCursor.id == 1).with_for_update()).first()
    if cursor is None:
        cursor = ResponseSyncCursor(id=1, last_message_id=0)
        session.add(cursor)
        session.flush()
    return cursor


def mark_synced(session: Session, message_ids: Sequence[int], now: datetime) -> int:
    """Record that the sync has seen these messages; returns how many it had not seen before."""
    marked = 0
    statement = _mark_synced(is_postgres(session))
    for start in range(0, len(message_ids), 5000):
        marked += session.execute(statement, {"ids": list(message_ids[start : start + 5000]), "now": now}).rowcount
    cursor = _lock_cursor(session)
    cursor.last_message_id = max(cursor.last_message_id, *message_ids)
    return marked


@cache
def _mark_synced(postgres: bool):
    messages = Message.__table__.c
    return (update(Message.__table__)
            .where(bulk.member_of(messages.id, "ids", postgres), messages.deadline_synced_at.is_(None))
            .values(deadline_synced_at=bindparam("now")))


def load_timelines(session: Session, conversation_ids: Sequence[int]) -> list[ConversationTimeline]:
    """Each conversation's timeline, seller and current deadlines (locked on PostgreSQL), by id."""
    ids = sorted(set(conversation_ids))
    conversations = session.execute(
        select(Conversation.id, Conversation.external_id, Conversation.buyer_id, Conversation.seller_id, User.away)
        .join(User, User.id == Conversation.seller_id).where(Conversation.id.in_(ids)).order_by(Conversation.id)
    ).all()
    messages = _timelines(session, {c.id: (c.buyer_id, c.seller_id) for c in conversations})
    deadlines = _known_deadlines(session, ids)
    return [ConversationTimeline(c.id, c.external_id, c.seller_id, bool(c.away), messages.get(c.id, []), deadlines.get(c.id, []))
            for c in conversations]


def _timelines(session: Session, parties: dict[int, tuple[int, int]]) -> dict[int, list[TimelineMessage]]:
    timelines: dict[int, list[TimelineMessage]] = {}
    rows = session.execute(
        select(Message.id, Message.conversation_id, Message.sender_id, Message.sent_at)
        .where(Message.conversation_id.in_(list(parties)))
    )
    for message_id, conversation_id, sender_id, sent_at in rows:
        buyer_id, seller_id = parties[conversation_id]
        role = {buyer_id: "buyer", seller_id: "seller"}.get(sender_id, "other")
        timelines.setdefault(conversation_id, []).append(TimelineMessage(message_id, role, sent_at))
    return timelines


def _known_deadlines(session: Session, conversation_ids: Sequence[int]) -> dict[int, list[KnownDeadline]]:
    c = DEADLINES.c
    query = (select(c.conversation_id, c.id, c.started_by_message_id, c.answered_by_message_id, c.started_at, c.stage_sent)
             .where(c.conversation_id.in_(conversation_ids), c.superseded_at.is_(None)).order_by(c.id))
    if is_postgres(session):
        query = query.with_for_update()
    found: dict[int, list[KnownDeadline]] = {}
    for conversation_id, *values in session.execute(query):
        found.setdefault(conversation_id, []).append(KnownDeadline(*values))
    return found


def open_deadline(session: Session, conversation: ConversationTimeline, started_at: datetime, started_by: int,
                  next_due_at: datetime | None) -> int:
    """Store a new deadline for ``conversation``; returns its id."""
    return session.execute(
        insert(DEADLINES).values(
            conversation_id=conversation.id, seller_id=conversation.seller_id, started_at=started_at,
            started_by_message_id=started_by, stage_sent=0, away=conversation.seller_away, next_due_at=next_due_at,
        ).returning(DEADLINES.c.id)
    ).scalar_one()



def open_deadlines(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Store new deadlines (rows of the same columns) in one statement; returns their ids in order."""
    if not rows:
        return []
    if is_postgres(session) and len(rows) >= bulk.COPY_FROM_ROWS:
        ids = bulk.insert_returning_ids(session, DEADLINES, rows)
        if ids is not None:
            return ids
    result = session.execute(insert(DEADLINES).returning(DEADLINES.c.id, sort_by_parameter_order=True), list(rows))
    return list(result.scalars())

def update_deadline(session: Session, deadline_id: int, values: Mapping[str, Any]) -> None:
    """Set some columns of one deadline."""
    session.execute(update(DEADLINES).where(DEADLINES.c.id == deadline_id).values(**values))


def add_events(session: Session, events: Sequence[DeadlineEvent]) -> None:
    """Append history lines."""
    if is_postgres(session) and len(events) >= bulk.COPY_FROM_ROWS and bulk.copy_table_rows(session, EVENTS, events):
        return
    if events:
        session.execute(EVENTS.insert(), list(events))


# --- The due-sweep ----------------------------------------------------------------------------


class DueDeadline(NamedTuple):
    """A due deadline with its seller and conversation, as plain values (no ORM identity map).

    A named tuple rather than a frozen dataclass: built once per due row, and a frozen
    dataclass's ``__init__`` costs one ``object.__setattr__`` call per field.
    """

    id: int
    conversation_id: int
    seller_id: int
    started_at: datetime
    stage_sent: int
    away: bool
    breached_at: datetime | None
    conversation_external_id: str
    seller_external_id: str
    seller_name: str
    seller: SellerProfile
    listing: str | None
    order_ref: str | None
    buyer_name: str
    masked_text: str | None
    """The start of the waiting message's masked copy; None while it is not scanned (never the raw text)."""


class DeadlineUpdate(TypedDict):
    """The columns the sweep writes for one deadline (a plain dict: it travels as JSON)."""

    deadline_id: int
    stage_sent: int
    next_due_at: datetime | None
    breached_at: datetime | None
    away: bool


def lock_due(session: Session, now: datetime, limit: int) -> list[DueDeadline]:
    """Up to ``limit`` deadlines due at ``now``, oldest first, locked (SKIP LOCKED) for this transaction."""
    # SKIP LOCKED lets two sweeps split the due rows instead of queueing on each other; SQLite
    # has no row locks (its writers are serialised anyway), so there the plain select is enough.
    # Seller and conversation come in the same query: one round trip, no 2,000-id IN list to plan.
    return [_due(row) for row in session.execute(due_query(now, limit, is_postgres(session)))]


def lock_due_of_sellers(session: Session, now: datetime, seller_ids: Sequence[int], exclude: Sequence[int]) -> list[DueDeadline]:
    """Every other deadline of these sellers due at ``now`` (not in ``exclude``), locked like ``lock_due``.

    A full batch ends at ``limit`` rows, possibly in the middle of a seller's due conversations;
    the sweep adds the rest of them so a seller's conversations at one stage make one email per sweep.
    """
    if not seller_ids:
        return []
    query = due_query(now, None, is_postgres(session), sellers=seller_ids, exclude=exclude)
    return [_due(row) for row in session.execute(query)]


def due_query(now: datetime, limit: int | None, postgres: bool, sellers: Sequence[int] | None = None,
              exclude: Sequence[int] = ()) -> Any:
    """The due-sweep's select (exposed so the benchmark can EXPLAIN exactly this query)."""
    c = DEADLINES.c
    due = (
        select(c.id, c.conversation_id, c.seller_id, c.started_at, c.stage_sent, c.away, c.breached_at,
               c.started_by_message_id)
        .where(c.next_due_at.is_not(None), c.next_due_at <= now)
        .order_by(c.next_due_at)
        .limit(limit)
    )
    if sellers is not None:
        due = due.where(c.seller_id.in_(list(sellers)))
        if exclude:
            due = due.where(c.id.not_in(list(exclude)))
    if postgres:
        due = due.with_for_update(skip_locked=True)
    # Lock and limit in a CTE so the planner walks the partial index in order and stops after
    # ``limit`` rows; joining outside keeps that plan (a join inside would sort every due row).
    due = due.cte("due")
    buyer = aliased(User)
    # The notice names the buyer, the listing and the order, and quotes the waiting message's
    # MASKED copy (only its start: a message may be 256 KiB); an unscanned message has none.
    masked = case((Message.scanned_at.is_not(None), func.substr(Message.masked_body, 1, QUOTE_CHARS)), else_=null())
    return (
        select(due.c.id, due.c.conversation_id, due.c.seller_id, due.c.started_at, due.c.stage_sent, due.c.away,
               due.c.breached_at, Conversation.external_id, User.external_id, User.name, User.email, User.timezone,
               User.away, EmailPreference.response_reminders_opted_out, Conversation.subject, Conversation.order_ref,
               buyer.name, masked)
        .join(Conversation, Conversation.id == due.c.conversation_id)
        .join(User, User.id == due.c.seller_id)
        .join(buyer, buyer.id == Conversation.buyer_id)
        .join(Message, Message.id == due.c.started_by_message_id)
        .outerjoin(EmailPreference, EmailPreference.user_id == due.c.seller_id)
    )


QUOTE_CHARS = 600
"""How much of a waiting message's masked copy the due-sweep reads (emails quote at most 200)."""


def _due(row: Any) -> DueDeadline:
    email, tz, away, opted_out = row[10:14]
    return DueDeadline(*row[:10], SellerProfile(row[2], email, tz, bool(away), bool(opted_out)), *row[14:])


def write_sweep(session: Session, updates: Sequence[DeadlineUpdate], events: Sequence[DeadlineEvent],
                notices: Sequence[NoticeRequest], now: datetime) -> int:
    """Three set-based statements for a whole batch (deadlines, events, outbox); returns emails queued."""
    if updates:
        if is_postgres(session):
            _write_recordsets(session, updates, events)
        else:
            _write_executemany(session, updates, events)
    return enqueue_notices(session, notices, now)


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


def _write_recordsets(session: Session, updates: Sequence[DeadlineUpdate], events: Sequence[DeadlineEvent]) -> None:
    # PostgreSQL: one statement per table whose rows travel as one JSON document; per-row
    # statements (even pipelined) cost more than the sweep's whole decision logic.
    session.execute(_UPDATE_RECORDSET, {"rows": _json(updates)})
    if events:
        session.execute(_EVENTS_RECORDSET, {"rows": _json(events)})


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(rows, default=lambda value: value.isoformat())


def _write_executemany(session: Session, updates: Sequence[DeadlineUpdate], events: Sequence[DeadlineEvent]) -> None:
    c = DEADLINES.c
    session.execute(
        update(DEADLINES).where(c.id == bindparam("deadline_id")).values(
            stage_sent=bindparam("stage_sent"), next_due_at=bindparam("next_due_at"),
            breached_at=bindparam("breached_at"), away=bindparam("away"),
        ),
        list(updates),
    )
    add_events(session, events)


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A nested transaction: an error inside undoes only what was written inside."""
    with session.begin_nested():
        yield


def postpone(session: Session, deadline_id: int, until: datetime, event: DeadlineEvent) -> None:
    """Move a deadline's next look to ``until`` and record why (a row that could not be processed)."""
    update_deadline(session, deadline_id, {"next_due_at": until})
    add_events(session, [event])


# --- Preferences and statistics ----------------------------------------------------------------


def set_response_reminders(session: Session, user_id: int, opted_out: bool, now: datetime) -> None:
    """Record a seller's choice to receive or stop response reminders."""
    preference = session.get(EmailPreference, user_id)
    if preference is None:
        session.add(EmailPreference(user_id=user_id, response_reminders_opted_out=opted_out, changed_at=now))
    else:
        preference.response_reminders_opted_out, preference.changed_at = opted_out, now
