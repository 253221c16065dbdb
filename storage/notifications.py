"""Dashboard notifications in the database: the ingest upsert, reads, the email sweeps' queries.

Nothing here decides a rule or composes an email: ``usecases/notifications.py`` says when a
message counts as unread and what an email shows; this module keeps one row per (recipient,
conversation) in step with the messages and loads what the sweeps need, set-based.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import ARRAY, Integer, and_, any_, bindparam, case, exists, func, literal, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from pipeline.notifications import UnreadMessage
from storage import bulk
from storage.db import is_postgres
from storage.models import Attachment, Conversation, ConversationRead, Message, Notification, User
from storage.models.base import UTCDateTime
from storage.outbox import NoticeRequest, enqueue_notices

NOTIFICATIONS = Notification.__table__


# --- Ingest: one upsert per message, one update per read ----------------------------------------


def record_unread(session: Session, conversation_id: int, recipient_id: int, message_id: int, sent_at: datetime,
                  email_due_at: datetime, now: datetime) -> None:
    """Count a message as unread for ``recipient_id`` (one statement), unless they already read past it."""
    session.execute(_unread_upsert("postgresql" if is_postgres(session) else "sqlite"), {
        "b_recipient": recipient_id, "b_conversation": conversation_id, "b_sent_at": sent_at,
        "b_message": message_id, "b_due": email_due_at, "b_now": now})


@cache
def _unread_upsert(dialect_name: str) -> Any:
    # Built once per dialect with bind parameters: constructing this statement per message cost
    # more than running it (py-spy on `peerguard import`, 2026-12-06).
    n = NOTIFICATIONS.c
    sent_at = bindparam("b_sent_at", type_=UTCDateTime())
    already_read = exists().where(ConversationRead.conversation_id == bindparam("b_conversation"),
                                  ConversationRead.user_id == bindparam("b_recipient"), ConversationRead.last_read_at >= sent_at)
    source = select(bindparam("b_recipient", type_=Integer()), bindparam("b_conversation", type_=Integer()), literal(1),
                    sent_at, sent_at, bindparam("b_message", type_=Integer()), bindparam("b_due", type_=UTCDateTime()),
                    bindparam("b_now", type_=UTCDateTime())).where(~already_read)
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    insert = dialect.insert(NOTIFICATIONS).from_select(
        ["recipient_id", "conversation_id", "unread_count", "first_unread_at", "latest_at", "latest_message_id",
         "email_due_at", "updated_at"], source)
    new = insert.excluded
    streak = n.unread_count > 0  # an unread streak goes on; otherwise this message starts one
    newer = or_(~streak, new.latest_at >= n.latest_at)
    return insert.on_conflict_do_update(index_elements=["recipient_id", "conversation_id"], set_={
        "unread_count": case((streak, n.unread_count + 1), else_=1),
        "first_unread_at": case((and_(streak, n.first_unread_at <= new.first_unread_at), n.first_unread_at),
                                else_=new.first_unread_at),
        "latest_at": case((newer, new.latest_at), else_=n.latest_at),
        "latest_message_id": case((newer, new.latest_message_id), else_=n.latest_message_id),
        "read_at": None,
        "email_due_at": case((and_(streak, n.email_due_at.is_not(None)), n.email_due_at), else_=new.email_due_at),
        "emailed_at": case((streak, n.emailed_at), else_=None),
        "emailed_through": case((streak, n.emailed_through), else_=None),
        "updated_at": new.updated_at,
    })


def record_read(session: Session, conversation_id: int, reader_id: int, at: datetime) -> None:
    """The reader has seen the conversation up to ``at``: end the streak, or recount what is newer."""
    params = {"b_reader": reader_id, "b_conversation": conversation_id, "b_at": at}
    ended, recount = _read_updates()
    session.execute(ended, params)
    session.execute(recount, params)


@cache
def _read_updates() -> tuple[Any, Any]:
    n = NOTIFICATIONS.c
    at = bindparam("b_at", type_=UTCDateTime())
    mine = and_(n.recipient_id == bindparam("b_reader"), n.conversation_id == bindparam("b_conversation"), n.unread_count > 0)
    ended = update(NOTIFICATIONS).where(mine, n.latest_at <= at).values(_READ_VALUES | {"read_at": at})
    # A receipt that stops short of the newest message leaves the newer ones unread.
    later = and_(Message.conversation_id == bindparam("b_conversation"), Message.sender_id != bindparam("b_reader"),
                 Message.sent_at > at)
    recount = update(NOTIFICATIONS).where(mine, n.latest_at > at, n.first_unread_at <= at).values(
        unread_count=select(func.count()).where(later).scalar_subquery(),
        first_unread_at=select(func.min(Message.sent_at)).where(later).scalar_subquery(),
    )
    return ended, recount


_READ_VALUES: dict[str, Any] = {"unread_count": 0, "first_unread_at": None, "email_due_at": None,
                                "emailed_at": None, "emailed_through": None}


# --- Ingest of a run of messages: the same statements' effect, one load and one write ------------


class MessageNotice(NamedTuple):
    """One new message as the notifications see it: who gains an unread, who has read by replying."""

    conversation_id: int
    recipient_id: int
    sender_id: int
    message_id: int
    sent_at: datetime


class ReadNotice(NamedTuple):
    """A read receipt among a run's messages: the reader saw the conversation up to ``at``."""

    conversation_id: int
    reader_id: int
    at: datetime


_ROW_FIELDS = ("unread_count", "first_unread_at", "latest_at", "latest_message_id", "read_at", "email_due_at",
               "emailed_at", "emailed_through", "updated_at")


def record_messages(session: Session, notices: Sequence[MessageNotice | ReadNotice], now: datetime,
                    later: Mapping[ReadNotice, tuple[int, datetime | None]] | None = None) -> RowsPlan | None:
    """``record_unread`` for each recipient, then ``record_read`` for each sender whose receipt moves, set-based.

    Loads the touched rows (locked on PostgreSQL) and the read receipts once, applies the two
    statements' rules message by message in memory (a reply moves its sender's receipt, as
    ``mark_read`` does; a ``ReadNotice`` moves its reader's) and writes each changed row once; the
    receipts are the caller's to write. Returns the plan written: ``ended``, the ids of stored rows a
    reply or receipt left read (their unsent emails are the caller's to withdraw), and which receipts
    moved; or None, having written nothing, when a reply or receipt reads only part of a streak (the
    per-message recount counts messages in SQL): the caller then runs the per-message statements.
    A row another writer inserts meanwhile makes the insert fail (StorageRefused by the caller's savepoint).

    The same as ``load_message_rows``, ``plan_message_rows`` and ``write_message_rows`` in turn;
    the importer runs the plan (no database) while the server stores the messages.
    """
    plan = plan_message_rows(load_message_rows(session, notices), notices, now, later)
    if plan is None:
        return None
    write_message_rows(session, plan)
    return plan


class LoadedRows(NamedTuple):
    """The notification rows and read receipts some messages touch, as loaded (``load_message_rows``)."""

    rows: dict[tuple[int, int], dict[str, Any]]
    reads: dict[tuple[int, int], datetime]


class RowsPlan(NamedTuple):
    """What ``record_messages`` writes: new rows, changed rows, the stored rows a reply or receipt left
    read, and for each ``ReadNotice`` in order whether its receipt moved."""

    new_rows: list[dict[str, Any]]
    changed_rows: list[dict[str, Any]]
    ended: list[int]
    receipts_moved: list[bool] = []


def load_message_rows(session: Session,
                      notices: Sequence[MessageNotice | ReadNotice | tuple[int, int, int]]) -> LoadedRows:
    """Lock and load the rows (conversation, recipient) and (conversation, sender) of the notices
    (a receipt's: (conversation, reader)), and their receipts.

    Only the first three fields of a message notice are read, so the rows can be loaded before the
    messages have ids.
    """
    conversations = sorted({n[0] for n in notices})
    # The rows the notices touch: each recipient's and each sender's (by the unique index, not a scan).
    pairs: set[tuple[int, int]] = set()
    for n in notices:
        if isinstance(n, ReadNotice):
            pairs.add((n.conversation_id, n.reader_id))
        else:
            pairs.update(((n[0], n[1]), (n[0], n[2])))
    return LoadedRows(_load_rows(session, sorted(pairs)), _load_reads(session, conversations))


def plan_message_rows(loaded: LoadedRows, notices: Sequence[MessageNotice | ReadNotice], now: datetime,
                      later: Mapping[ReadNotice, tuple[int, datetime | None]] | None = None) -> RowsPlan | None:
    """The rows ``record_messages`` writes, computed in memory (no database); None when a reply, or a
    receipt missing from ``later``, reads part of a streak.

    ``loaded`` must cover the notices (``load_message_rows`` of them or of more); it is used up.
    ``later``: ``messages_after`` of the receipts, taken before these messages were stored; a receipt
    that reads part of a streak is then recounted here as ``record_read`` recounts it in SQL (the
    other participant's messages after it: those stored, and those of the notices before it).
    """
    rows, reads = loaded
    before = {key: dict(row) for key, row in rows.items()}
    ended: dict[int, None] = {}  # an ordered set: a list's ``in`` made this loop quadratic (0.7 s of 20,000 messages)
    moved: list[bool] = []
    sent: dict[int, list[tuple[int, datetime]]] = {}  # the notices' messages so far, by conversation
    for notice in notices:
        if isinstance(notice, ReadNotice):
            key, at = (notice.conversation_id, notice.reader_id), notice.at
            moved.append(key not in reads or reads[key] < at)
            if not moved[-1]:
                continue  # ``mark_read`` never moves a receipt backwards
            reads[key] = at
            if not _apply_read(rows, key[0], key[1], at):
                if later is None:
                    return None
                _recount(rows[key], at, later.get(notice, (0, None)), sent.get(key[0], ()), key[1])
        else:
            _apply_unread(rows, reads, notice, now)
            sent.setdefault(notice.conversation_id, []).append((notice.sender_id, notice.sent_at))
            key, at = (notice.conversation_id, notice.sender_id), notice.sent_at
            if key in reads and reads[key] >= at:
                continue  # the receipt does not move, so the reply reads nothing new
            reads[key] = at
            if not _apply_read(rows, key[0], key[1], at):
                return None
        row = rows.get(key)
        if row is not None and row["id"] is not None and row["unread_count"] == 0:
            ended[row["id"]] = None
    new_rows = [row for row in rows.values() if row["id"] is None]
    changed_rows = [row for key, row in rows.items() if row["id"] is not None and row != before[key]]
    return RowsPlan(new_rows, changed_rows, list(ended), moved)


@cache
def _load_rows_query(postgres: bool):
    """Built once: building the select cost more than running it. Locked on PostgreSQL, in id order.

    By (recipient, conversation) pairs, which the unique index finds: notifications has no index
    on the conversation alone, so a lookup by conversation read the whole table (0.06-0.17 s a
    batch, or a single message, at 600,000 rows).
    """
    n = NOTIFICATIONS.c
    columns = (n.id, n.recipient_id, n.conversation_id, *(n[f] for f in _ROW_FIELDS))
    if postgres:
        return text(
            "SELECT " + ", ".join(f"n.{c.name}" for c in columns) + " FROM notifications AS n"
            " JOIN unnest(CAST(:recipients AS integer[]), CAST(:conversations AS integer[]))"
            " AS wanted (recipient_id, conversation_id)"
            " ON n.recipient_id = wanted.recipient_id AND n.conversation_id = wanted.conversation_id"
            " ORDER BY n.id FOR UPDATE OF n"
        ).columns(*columns)
    return (select(*columns).where(tuple_(n.recipient_id, n.conversation_id).in_(bindparam("pairs", expanding=True)))
            .order_by(n.id))


@cache
def _load_reads_query(postgres: bool):
    r = ConversationRead.__table__.c
    return select(r.conversation_id, r.user_id, r.last_read_at).where(
        bulk.member_of_set(r.conversation_id, "conversations", postgres))


def _load_rows(session: Session, keys: list[tuple[int, int]]) -> dict[tuple[int, int], dict[str, Any]]:
    """The notification rows of these (conversation, recipient) pairs, by the same key."""
    found: dict[tuple[int, int], dict[str, Any]] = {}
    postgres = is_postgres(session)
    query = _load_rows_query(postgres)
    for chunk in bulk.lookup_chunks(keys, postgres):
        params = ({"recipients": [r for _, r in chunk], "conversations": [c for c, _ in chunk]} if postgres
                  else {"pairs": [(r, c) for c, r in chunk]})
        for row in session.execute(query, params).mappings():
            found[(row["conversation_id"], row["recipient_id"])] = dict(row)
    return found


def _load_reads(session: Session, conversations: list[int]) -> dict[tuple[int, int], datetime]:
    found: dict[tuple[int, int], datetime] = {}
    postgres = is_postgres(session)
    query = _load_reads_query(postgres)
    for chunk in bulk.lookup_chunks(conversations, postgres):
        rows = session.execute(query, {"conversations": chunk})
        found.update(((c, u), at) for c, u, at in rows)
    return found


def _apply_unread(rows: dict[tuple[int, int], dict[str, Any]], reads: dict[tuple[int, int], datetime],
                  notice: MessageNotice, now: datetime) -> None:
    """What ``_unread_upsert`` does to the recipient's row (the email is first looked at when sent)."""
    key = (notice.conversation_id, notice.recipient_id)
    read = reads.get(key)
    if read is not None and read >= notice.sent_at:
        return
    sent = notice.sent_at
    row = rows.get(key)
    if row is None:
        rows[key] = {"id": None, "recipient_id": notice.recipient_id, "conversation_id": notice.conversation_id,
                     "unread_count": 1, "first_unread_at": sent, "latest_at": sent, "latest_message_id": notice.message_id,
                     "read_at": None, "email_due_at": sent, "emailed_at": None, "emailed_through": None, "updated_at": now}
        return
    streak = row["unread_count"] > 0
    newer = not streak or sent >= row["latest_at"]
    row.update({
        "unread_count": row["unread_count"] + 1 if streak else 1,
        "first_unread_at": row["first_unread_at"] if streak and row["first_unread_at"] <= sent else sent,
        "latest_at": sent if newer else row["latest_at"],
        "latest_message_id": notice.message_id if newer else row["latest_message_id"],
        "read_at": None,
        "email_due_at": row["email_due_at"] if streak and row["email_due_at"] is not None else sent,
        "emailed_at": row["emailed_at"] if streak else None,
        "emailed_through": row["emailed_through"] if streak else None,
        "updated_at": now,
    })


def _apply_read(rows: dict[tuple[int, int], dict[str, Any]], conversation_id: int, reader_id: int, at: datetime) -> bool:
    """What ``record_read`` does to the reader's row; False when it would recount (a partial read)."""
    row = rows.get((conversation_id, reader_id))
    if row is None or row["unread_count"] <= 0:
        return True
    if row["latest_at"] <= at:
        row.update(_READ_VALUES | {"read_at": at})
        return True
    return row["first_unread_at"] > at


def _recount(row: dict[str, Any], at: datetime, stored: tuple[int, datetime | None],
             sent: Sequence[tuple[int, datetime]], reader_id: int) -> None:
    """``record_read``'s recount of a receipt that stops inside the streak: the other participant's
    messages after ``at``, those ``stored`` (count, earliest) and those ``sent`` in this run so far."""
    times = [t for sender, t in sent if sender != reader_id and t > at]
    firsts = [t for t in (stored[1], min(times, default=None)) if t is not None]
    row["unread_count"] = stored[0] + len(times)
    row["first_unread_at"] = min(firsts, default=None)


def messages_after(session: Session, receipts: Sequence[ReadNotice]) -> dict[ReadNotice, tuple[int, datetime | None]]:
    """For each receipt, the other participant's stored messages after it: how many, and the earliest.

    What ``record_read``'s recount reads, taken before a run's messages are stored (the run's own
    are counted by ``plan_message_rows``). Receipts with none are left out.
    """
    if not receipts:
        return {}
    wanted = sorted(set(receipts))
    if is_postgres(session):
        rows = session.execute(_MESSAGES_AFTER_PG, {
            "conversations": [r.conversation_id for r in wanted], "readers": [r.reader_id for r in wanted],
            "ats": [r.at.astimezone(UTC) for r in wanted]})
        return {ReadNotice(c, u, at): (count, first) for c, u, at, count, first in rows}
    m = Message.__table__.c
    found: dict[ReadNotice, tuple[int, datetime | None]] = {}
    for receipt in wanted:
        count, first = session.execute(select(func.count(), func.min(m.sent_at)).where(
            m.conversation_id == receipt.conversation_id, m.sender_id != receipt.reader_id,
            m.sent_at > receipt.at)).one()
        if count:
            found[receipt] = (count, first)
    return found


_MESSAGES_AFTER_PG = text(
    "SELECT r.conversation_id, r.reader_id, r.at, count(*) AS later_count, min(m.sent_at) AS later_first"
    " FROM unnest(CAST(:conversations AS integer[]), CAST(:readers AS integer[]), CAST(:ats AS timestamptz[]))"
    " AS r (conversation_id, reader_id, at)"
    " JOIN messages AS m ON m.conversation_id = r.conversation_id AND m.sender_id <> r.reader_id AND m.sent_at > r.at"
    " GROUP BY r.conversation_id, r.reader_id, r.at"
).columns(conversation_id=Integer, reader_id=Integer, at=UTCDateTime(), later_count=Integer,
           later_first=UTCDateTime())


def write_message_rows(session: Session, plan: RowsPlan) -> None:
    """Write a ``plan_message_rows`` plan: the new rows inserted, the changed ones updated."""
    new_rows, changed_rows = plan.new_rows, plan.changed_rows
    connection = session.connection()
    postgres = is_postgres(session)
    # COPY (storage/bulk.py) takes the rows' values as they are: every datetime here is aware, and
    # PostgreSQL stores the instant, so no conversion to UTC first (80,000 calls an import).
    if postgres and len(new_rows) >= bulk.COPY_FROM_ROWS:
        # No RETURNING needed, and the rows keep their order (and so their ids).
        bulk.copy_into(session, "notifications", _NEW_COLUMNS, ([row[c] for c in _NEW_COLUMNS] for row in new_rows),
                       binary_types=_NEW_TYPES)
    elif new_rows:
        connection.execute(NOTIFICATIONS.insert(), [{k: v for k, v in row.items() if k != "id"} for row in new_rows])
    if postgres and len(changed_rows) >= bulk.COPY_FROM_ROWS:
        bulk.copy_to_scratch(session, "import_notifications", _SCRATCH_ROWS,
                             ([row[f] for f in _SCRATCH_FIELDS] for row in changed_rows), binary=True)
        connection.execute(_UPDATE_SCRATCH_ROWS_PG)
        return
    changed = [{"b_id": row["id"], **{f"b_{f}": row[f] for f in _ROW_FIELDS}} for row in changed_rows]
    if changed and postgres:
        # One statement with one array a column: an executemany of a thousand updates costs a round trip each.
        connection.execute(_UPDATE_ROWS_PG, {f"b_{f}": [_utc(row[f"b_{f}"]) for row in changed]
                                             for f in ("id", *_ROW_FIELDS)})
    elif changed:
        n = NOTIFICATIONS.c
        connection.execute(update(NOTIFICATIONS).where(n.id == bindparam("b_id"))
                           .values({f: bindparam(f"b_{f}") for f in _ROW_FIELDS}), changed)


_ROW_TYPES = {"id": "integer", "unread_count": "integer", "latest_message_id": "integer"}
_UPDATE_ROWS_PG = text(
    "UPDATE notifications AS n SET " + ", ".join(f"{f} = v.{f}" for f in _ROW_FIELDS)
    + " FROM unnest(" + ", ".join(f"CAST(:b_{f} AS {_ROW_TYPES.get(f, 'timestamptz')}[])" for f in ("id", *_ROW_FIELDS))
    + ") AS v (" + ", ".join(("id", *_ROW_FIELDS)) + ") WHERE n.id = v.id"
)


_NEW_COLUMNS = ("recipient_id", "conversation_id", *_ROW_FIELDS)
_NEW_TYPES = tuple(_ROW_TYPES.get(c, "integer" if c.endswith("_id") else "timestamptz") for c in _NEW_COLUMNS)
_SCRATCH_FIELDS = ("id", *_ROW_FIELDS)
_SCRATCH_ROWS = tuple((f, _ROW_TYPES.get(f, "timestamptz")) for f in _SCRATCH_FIELDS)
_UPDATE_SCRATCH_ROWS_PG = text(
    "UPDATE notifications AS n SET " + ", ".join(f"{f} = v.{f}" for f in _ROW_FIELDS)
    + " FROM pg_temp.import_notifications AS v WHERE n.id = v.id"
)


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value



def mark_all_read(session: Session, recipient_id: int, now: datetime) -> int:
    """End every unread streak of a recipient (the dashboard's "mark all read"); returns rows changed."""
    n = NOTIFICATIONS.c
    return session.execute(update(NOTIFICATIONS).where(n.recipient_id == recipient_id, n.unread_count > 0)
                           .values(_READ_VALUES | {"read_at": now, "updated_at": now})
                           .execution_options(synchronize_session=False)).rowcount


_WITHDRAW_READ = text("""
    UPDATE email_outbox SET status = 'dead', last_error = :reason
    WHERE status IN ('queued', 'failed') AND idempotency_key LIKE (
        SELECT 'new-message:' || CAST(n.id AS VARCHAR(20)) || ':%' FROM notifications AS n
        WHERE n.recipient_id = :reader AND n.conversation_id = :conversation AND n.unread_count = 0)
""")

_WITHDRAW_ALL_READ = text("""
    UPDATE email_outbox SET status = 'dead', last_error = :reason
    WHERE status IN ('queued', 'failed') AND notice = 'new-message' AND EXISTS (
        SELECT 1 FROM notifications AS n
        WHERE n.recipient_id = :reader AND n.unread_count = 0
          AND email_outbox.idempotency_key LIKE 'new-message:' || CAST(n.id AS VARCHAR(20)) || ':%')
""")


def withdraw_read_emails(session: Session, reader_id: int, conversation_id: int | None, reason: str) -> int:
    """Mark unsent new-message emails of streaks the reader has ended as dead (one conversation, or all); returns how many."""
    if conversation_id is None:
        return session.execute(_WITHDRAW_ALL_READ, {"reader": reader_id, "reason": reason}).rowcount or 0
    params = {"reader": reader_id, "conversation": conversation_id, "reason": reason}
    return session.execute(_WITHDRAW_READ, params).rowcount or 0


def withdraw_emails_of(session: Session, notification_ids: Sequence[int], reason: str) -> int:
    """``withdraw_read_emails`` for many notification rows at once: their unsent new-message emails become dead."""
    if not notification_ids:
        return 0
    wanted = {str(i) for i in notification_ids}
    # Unsent new-message emails are few (the sweep sends them within seconds); their key names the row.
    candidates = session.execute(text(
        "SELECT id, idempotency_key FROM email_outbox WHERE status IN ('queued', 'failed') AND notice = 'new-message'"))
    ids = [email_id for email_id, key in candidates if key.startswith("new-message:") and key.split(":")[1] in wanted]
    if not ids:
        return 0
    return session.execute(text("UPDATE email_outbox SET status = 'dead', last_error = :reason WHERE id = :id"),
                           [{"id": i, "reason": reason} for i in ids]).rowcount or 0

# --- The dashboard -------------------------------------------------------------------------------


class NotificationRow(NamedTuple):
    """One notification as the API shows it (the marketplace's ids only)."""

    id: int
    conversation: str
    subject: str | None
    sender: str
    sender_name: str
    unread_count: int
    first_unread_at: datetime | None
    latest_at: datetime
    latest_message: str | None
    read_at: datetime | None


def list_notifications(session: Session, recipient_id: int, unread_only: bool, limit: int,
                       after: tuple[datetime, int] | None) -> list[NotificationRow]:
    """A recipient's notifications, newest first, from after the keyset ``after`` (latest_at, id)."""
    n = NOTIFICATIONS.c
    other = aliased(User)
    latest = aliased(Message)
    query = (
        select(n.id, Conversation.external_id, Conversation.subject, other.external_id, other.name, n.unread_count,
               n.first_unread_at, n.latest_at, latest.external_id, n.read_at)
        .join(Conversation, Conversation.id == n.conversation_id)
        .join(other, other.id == case((Conversation.buyer_id == n.recipient_id, Conversation.seller_id),
                                      else_=Conversation.buyer_id))
        .outerjoin(latest, latest.id == n.latest_message_id)
        .where(n.recipient_id == recipient_id)
        .order_by(n.latest_at.desc(), n.id.desc())
        .limit(limit)
    )
    if unread_only:
        query = query.where(n.unread_count > 0)
    if after is not None:
        at, row_id = after
        query = query.where(or_(n.latest_at < at, and_(n.latest_at == at, n.id < row_id)))
    return [NotificationRow(*row) for row in session.execute(query)]


def unread_totals(session: Session, recipient_id: int) -> tuple[int, int]:
    """(conversations with unread messages, unread messages) of a recipient."""
    n = NOTIFICATIONS.c
    row = session.execute(select(func.count(), func.coalesce(func.sum(n.unread_count), 0))
                          .where(n.recipient_id == recipient_id, n.unread_count > 0)).one()
    return int(row[0]), int(row[1])


def notification_counts(session: Session) -> tuple[int, int]:
    """(notifications, unread ones) in the whole database (the demo's summary)."""
    n = NOTIFICATIONS.c
    row = session.execute(select(func.count(), func.count().filter(n.unread_count > 0))).one()
    return int(row[0]), int(row[1])


# --- Preferences ---------------------------------------------------------------------------------


def set_notify(session: Session, user_id: int, notify: str) -> bool:
    """Store a user's new-message email choice; True if it changed."""
    return bool(session.execute(update(User).where(User.id == user_id, User.notify != notify).values(notify=notify)
                                .execution_options(synchronize_session=False)).rowcount)


# --- The new-message sweep ----------------------------------------------------------------------


class DueNotification(NamedTuple):
    """A notification whose email is due, with its recipient and conversation, as plain values."""

    id: int
    recipient_id: int
    conversation_id: int
    first_unread_at: datetime | None
    emailed_at: datetime | None
    emailed_through: datetime | None
    conversation_external_id: str
    subject: str | None
    recipient_external_id: str
    recipient_name: str
    recipient_email: str | None
    recipient_timezone: str | None
    notify: str


def due_query(now: datetime, limit: int, postgres: bool) -> Any:
    """The sweep's select of due notifications, locked (SKIP LOCKED) on PostgreSQL (the bench EXPLAINs it)."""
    n = NOTIFICATIONS.c
    due = (select(n.id, n.recipient_id, n.conversation_id, n.first_unread_at, n.emailed_at, n.emailed_through)
           .where(n.email_due_at.is_not(None), n.email_due_at <= now).order_by(n.email_due_at).limit(limit))
    # SKIP LOCKED lets two sweeps split the due rows; SQLite serialises writers anyway.
    return due.with_for_update(skip_locked=True) if postgres else due


def lock_due(session: Session, now: datetime, limit: int) -> list[DueNotification]:
    """Up to ``limit`` notifications whose email is due at ``now``, oldest first, locked for this transaction."""
    due = session.execute(due_query(now, limit, is_postgres(session))).all()
    if not due:
        return []
    # Recipients and conversations in a second query by primary key: joined to the locking
    # select, the planner hashed all 100,000 conversations for 2,000 rows (4x slower in the bench).
    details = {row[0]: row[1:] for row in session.execute(
        select(NOTIFICATIONS.c.id, Conversation.external_id, Conversation.subject, User.external_id, User.name,
               User.email, User.timezone, User.notify)
        .join(Conversation, Conversation.id == NOTIFICATIONS.c.conversation_id)
        .join(User, User.id == NOTIFICATIONS.c.recipient_id)
        .where(_among(session, NOTIFICATIONS.c.id, [row[0] for row in due])))}
    return [DueNotification(*row, *details[row[0]]) for row in due]


def unread_messages(session: Session, due: Sequence[DueNotification]) -> dict[int, list[UnreadMessage]]:
    """Every unread message of these notifications, by notification: the other party's, from the streak's first on."""
    if not due:
        return {}
    n = NOTIFICATIONS.c
    rows = session.execute(
        select(n.id, Message.id, Message.external_id, User.name, Message.sent_at,
               case((Message.scanned_at.is_not(None), Message.masked_body)))
        .join(Message, and_(Message.conversation_id == n.conversation_id, Message.sender_id != n.recipient_id,
                            Message.sent_at >= n.first_unread_at))
        .join(User, User.id == Message.sender_id)
        .where(_among(session, n.id, [d.id for d in due]))
    )
    found: dict[int, list[UnreadMessage]] = {}
    for notification_id, *values in rows:
        found.setdefault(notification_id, []).append(UnreadMessage(*values))
    return found


def attachment_names(session: Session, message_ids: Sequence[int]) -> dict[int, list[str]]:
    """Original file names of these messages' attachments, in order."""
    if not message_ids:
        return {}
    names: dict[int, list[str]] = {}
    rows = session.execute(select(Attachment.message_id, Attachment.original_name)
                           .where(_among(session, Attachment.message_id, message_ids))
                           .order_by(Attachment.message_id, Attachment.position))
    for message_id, name in rows:
        names.setdefault(message_id, []).append(name)
    return names


def _among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids``: one array parameter on PostgreSQL (an IN list of 2,000 parameters cost
    psycopg half a second to rewrite), an expanded IN on SQLite."""
    if is_postgres(session):
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(list(ids))


class NotificationUpdate(TypedDict):
    """The columns the sweep writes for one notification (a plain dict: it travels as JSON)."""

    id: int
    email_due_at: datetime | None
    emailed_at: datetime | None
    emailed_through: datetime | None


_UPDATE_RECORDSET = text("""
    UPDATE notifications AS n
    SET email_due_at = v.email_due_at, emailed_at = v.emailed_at, emailed_through = v.emailed_through
    FROM json_to_recordset(CAST(:rows AS json))
         AS v(id integer, email_due_at timestamptz, emailed_at timestamptz, emailed_through timestamptz)
    WHERE n.id = v.id
""")


def write_sweep(session: Session, updates: Sequence[NotificationUpdate], notices: Sequence[NoticeRequest],
                now: datetime) -> int:
    """Two set-based statements for a batch (notifications, outbox); returns emails queued."""
    if updates and is_postgres(session):
        session.execute(_UPDATE_RECORDSET, {"rows": json.dumps(list(updates), default=_iso)})
    elif updates:
        n = NOTIFICATIONS.c
        session.execute(update(NOTIFICATIONS).where(n.id == bindparam("row_id")).values(
            email_due_at=bindparam("email_due_at"), emailed_at=bindparam("emailed_at"),
            emailed_through=bindparam("emailed_through")),
            [{"row_id": u["id"], **{k: v for k, v in u.items() if k != "id"}} for u in updates])
    return enqueue_notices(session, notices, now)


def _iso(value: Any) -> str:
    return value.isoformat()


# --- The daily digest ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestCandidate:
    """A daily-digest user with unread conversations."""

    user_id: int
    external_id: str
    name: str
    email: str | None
    timezone: str | None
    last_digest_on: date | None


def digest_candidates(session: Session) -> list[DigestCandidate]:
    """Users who chose the daily digest and have unread notifications."""
    n = NOTIFICATIONS.c
    has_unread = exists().where(n.recipient_id == User.id, n.unread_count > 0)
    rows = session.execute(select(User.id, User.external_id, User.name, User.email, User.timezone, User.last_digest_on)
                           .where(User.notify == "daily", has_unread).order_by(User.id))
    return [DigestCandidate(*row) for row in rows]


class DigestLine(NamedTuple):
    """One unread conversation of a digest: the other party, counts and the newest scanned message's masked text."""

    conversation_external_id: str
    subject: str | None
    other_name: str
    unread_count: int
    latest_at: datetime
    preview: str | None


def digest_lines(session: Session, recipient_id: int, unread_since: datetime) -> list[DigestLine]:
    """A recipient's conversations unread since ``unread_since`` or earlier, newest first, each with its newest masked text."""
    n = NOTIFICATIONS.c
    other = aliased(User)
    preview = (select(Message.masked_body)
               .where(Message.conversation_id == n.conversation_id, Message.sender_id != recipient_id,
                      Message.scanned_at.is_not(None), Message.sent_at >= n.first_unread_at)
               .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1).scalar_subquery())
    rows = session.execute(
        select(Conversation.external_id, Conversation.subject, other.name, n.unread_count, n.latest_at, preview)
        .join(Conversation, Conversation.id == n.conversation_id)
        .join(other, other.id == case((Conversation.buyer_id == n.recipient_id, Conversation.seller_id),
                                      else_=Conversation.buyer_id))
        .where(n.recipient_id == recipient_id, n.unread_count > 0, n.first_unread_at <= unread_since)
        .order_by(n.latest_at.desc(), n.id.desc())
    )
    return [DigestLine(*row) for row in rows]


def write_digest(session: Session, user_id: int, day: date, notice: NoticeRequest | None, now: datetime) -> int:
    """Record the day's digest as done and queue its email; returns emails queued."""
    session.execute(update(User).where(User.id == user_id).values(last_digest_on=day)
                    .execution_options(synchronize_session=False))
    return enqueue_notices(session, [notice] if notice else [], now)


def user_values(session: Session, external_id: str) -> Mapping[str, Any] | None:
    """A user's row id and notify choice by the marketplace's id."""
    row = session.execute(select(User.id, User.notify).where(User.external_id == external_id)).first()
    return {"id": row[0], "notify": row[1]} if row else None
