"""Queries of the detection stage: what is unscanned, a message's context, storing findings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, case, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.bulk import insert_json_rows, int_array, member_of, text_array
from storage.direct import pyformat
from storage.models import ContactFinding, Conversation, Message, User


class ScannableMessage(NamedTuple):
    """A message as the detector sees it: text, role and place in its conversation.

    A named tuple, not a frozen dataclass: the scan stage makes one per context row (about
    110,000 for 20,000 messages), and a frozen dataclass's ``__init__`` (one ``object.__setattr__``
    a field) cost more than reading the row.
    """

    id: int
    conversation_id: int
    role: str  # "buyer" or "seller"
    body: str
    sent_at: datetime


@dataclass(frozen=True)
class FindingRecord:
    """A finding ready to store, with spans already mapped to message ids."""

    conversation_id: int
    scope: str
    kind: str
    value: str
    match: str
    score: float
    detector_version: str
    spans: tuple[tuple[int, int, int], ...]  # (message_id, start, end)

    @property
    def message_ids(self) -> list[int]:
        return sorted({span[0] for span in self.spans})

    def fingerprint(self) -> str:
        """Identity of a finding across re-scans."""
        key = json.dumps([self.scope, self.kind, self.value, self.detector_version, list(self.spans)])
        return hashlib.sha256(key.encode()).hexdigest()


def _scannable(row) -> ScannableMessage:
    return ScannableMessage(row.id, row.conversation_id, row.role, row.body, row.sent_at)


def unscanned_ids(session: Session, limit: int, recorded_before: datetime | None = None) -> list[int]:
    """Ids of messages the detector has not seen, oldest first."""
    query = select(Message.id).where(Message.scanned_at.is_(None))
    if recorded_before is not None:
        query = query.where(Message.recorded_at < recorded_before)
    return list(session.scalars(query.order_by(Message.recorded_at, Message.id).limit(limit)))


@cache
def _batch_queries(postgres: bool):
    """The batch and context reads, built once on Core tables with one array parameter (per dialect).

    Built per call as ORM selects with an expanding IN list, they cost more client CPU than the
    rows they read: compiling and ORM row loading, and psycopg re-parsing 200 placeholders.
    """
    c, m = Conversation.__table__.c, Message.__table__.c
    role = case((m.sender_id == c.seller_id, "seller"), else_="buyer").label("role")
    columns = (m.id, m.conversation_id, role, m.body, m.sent_at)  # ScannableMessage's fields, in order
    order = (m.conversation_id, m.sent_at, m.id)
    joined = select(*columns).join(Conversation.__table__, c.id == m.conversation_id)
    batch = joined.where(member_of(m.id, "ids", postgres)).order_by(*order)
    unscanned = batch.where(m.scanned_at.is_(None))
    if postgres:
        unscanned = unscanned.with_for_update(skip_locked=True, of=Message.__table__)
    context = joined.where(member_of(m.conversation_id, "conversations", postgres)).order_by(*order)
    return batch, unscanned, context


@cache
def _lock_query(postgres: bool):
    """``load_messages``' unscanned read, ids only: the same rows, order and locks, without the bodies."""
    if postgres:
        return _LOCK_UNSCANNED
    m = Message.__table__.c
    return select(m.id).where(member_of(m.id, "ids", postgres), m.scanned_at.is_(None)).order_by(m.conversation_id, m.sent_at, m.id)


# The batch's unscanned rows, each looked up by its key and locked (skipping rows another scanner
# holds). Not ``id = ANY(:ids) AND scanned_at IS NULL``: planned for the array in hand, that read
# every message (a sequential scan, or the partial index of unscanned ones: all of them after a
# bulk import) for 200 ids — 1.2 ms a batch instead of 0.2 on bench/run_once_bench.py's 20,000.
# ``LIMIT 1`` keeps each lookup a lookup (the planner cannot turn the lateral join into a hash join).
_UNSCANNED_ROWS = """
        SELECT m.id, m.conversation_id, m.sent_at FROM unnest(CAST(:ids AS integer[])) AS i(id)
        CROSS JOIN LATERAL (SELECT id, conversation_id, sent_at FROM messages WHERE messages.id = i.id AND scanned_at IS NULL
                            LIMIT 1 FOR UPDATE SKIP LOCKED) AS m"""
_LOCK_UNSCANNED = text(f"SELECT u.id FROM ({_UNSCANNED_ROWS}) AS u ORDER BY u.conversation_id, u.sent_at, u.id")


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def load_messages(session: Session, ids: Sequence[int], only_unscanned: bool = True) -> list[ScannableMessage]:
    """The messages with these ids (skipping scanned ones unless asked), in conversation order.

    On PostgreSQL the rows are locked and rows another scanner holds are skipped, so two
    workers handed the same ids (a re-enqueue by the catch-up sweep) never scan a message twice.
    """
    batch, unscanned, _ = _batch_queries(_postgres(session))
    rows = session.execute(unscanned if only_unscanned else batch, {"ids": list(ids)}).all()
    return [ScannableMessage(*row) for row in rows]


def lock_unscanned(session: Session, ids: Sequence[int]) -> tuple[int, ...]:
    """The ids ``load_messages(session, ids)`` would return, locked the same way, without reading the messages.

    For a writer that read the batch earlier (`run --once`'s detection in other processes): if the
    answer equals what it read, nothing changed hands and it need not read the bodies again.
    """
    postgres = _postgres(session)
    return tuple(session.execute(_lock_query(postgres), {"ids": int_array(ids) if postgres else list(ids)}).scalars().all())


def conversation_context(session: Session, batch: Sequence[ScannableMessage],
                         before: int | None = None) -> dict[int, list[ScannableMessage]]:
    """The messages of the batch's conversations up to the batch's newest one, in order.

    With ``before``, only the ``before`` messages preceding each conversation's first message of
    the batch and those after it (what detection looks at); otherwise all of them. One query for
    the whole batch, the conversations read whole and trimmed here: the SQLite scan path, and the
    reference ``read_batch``'s PostgreSQL read (limited by the query) is tested against.
    """
    first: dict[int, tuple[datetime, int]] = {}
    latest: dict[int, tuple[datetime, int]] = {}
    for message in batch:
        key = (message.sent_at, message.id)
        first[message.conversation_id] = min(first.get(message.conversation_id, key), key)
        latest[message.conversation_id] = max(latest.get(message.conversation_id, key), key)
    if not latest:
        return {}
    context: dict[int, list[ScannableMessage]] = {cid: [] for cid in latest}
    _, _, query = _batch_queries(_postgres(session))
    for row in session.execute(query, {"conversations": list(latest)}):
        message = ScannableMessage(*row)
        if (message.sent_at, message.id) <= latest[message.conversation_id]:
            context[message.conversation_id].append(message)
    if before is not None:
        for cid, messages in context.items():
            start = next(i for i, m in enumerate(messages) if (m.sent_at, m.id) >= first[cid])
            context[cid] = messages[max(0, start - before) :]
    return context


def read_batch(session: Session, ids: Sequence[int], before: int,
               lock: bool = True) -> tuple[list[ScannableMessage], dict[int, list[ScannableMessage]]]:
    """``load_messages(session, ids)`` and ``conversation_context`` of what it returns with ``before``, in one statement on PostgreSQL.

    The batch's rows are locked and rows another scanner holds skipped, as ``load_messages`` does;
    the batch is the context's rows that are the batch's (the context holds each of them, in the
    same order). Two queries read the batch twice and sent its first and last positions back as
    four arrays (psycopg dumps array items in Python, timestamps the dearest).

    ``lock=False``: the batch is every unscanned message of ``ids``, nothing locked — for a reader
    whose transaction ends at once (a lock it released cannot guard anything) and that locks the
    rows again when it writes (``lock_unscanned``). (Locking a row writes it: EXPLAIN ANALYZE put
    the locking read a few per cent dearer.)

    The rows (about 1,100 a batch of 200 on the bench corpus) come straight from psycopg's cursor,
    as tuples: SQLAlchemy's result rows cost more than the statement's own handling here.
    """
    if not _postgres(session):
        batch = load_messages(session, ids)
        return batch, conversation_context(session, batch, before)
    # The session's connection, in its transaction (begun by SQLAlchemy), as storage.bulk.copy_into uses it.
    import psycopg  # only PostgreSQL sessions come here

    statement = _READ_BATCH if lock else _READ_BATCH_UNLOCKED
    try:
        with session.connection().connection.driver_connection.cursor() as cursor:
            cursor.execute(statement, {"ids": int_array(ids), "before": before})
            rows = cursor.fetchall()
    except psycopg.Error as exc:  # raised as a statement run through the session would be (is_deadlock reads it)
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    batch: list[ScannableMessage] = []
    context: dict[int, list[ScannableMessage]] = {}
    conversation: list[ScannableMessage] = []
    current = None
    for message_id, conversation_id, role, body, sent_at, new in rows:
        message = ScannableMessage(message_id, conversation_id, role, body, sent_at)
        if conversation_id != current:
            current, conversation = conversation_id, []
            context[conversation_id] = conversation
        conversation.append(message)
        if new:
            batch.append(message)
    return batch, context


# The batch's rows (locked, skipping rows another scanner holds, and marked in the last column)
# and, per conversation of the batch (b: its first (fat, fid) and last (lat, lid) batch message),
# the ``before`` messages preceding its first batch message, then the messages from it to its last
# one, both read through ix_messages_conversation_sent.
_READ_BATCH_SQL = f"""
    WITH batch AS MATERIALIZED ({_UNSCANNED_ROWS}
    ), b AS (
        SELECT conversation_id AS cid,
               (array_agg(sent_at ORDER BY sent_at, id))[1] AS fat, (array_agg(id ORDER BY sent_at, id))[1] AS fid,
               (array_agg(sent_at ORDER BY sent_at DESC, id DESC))[1] AS lat,
               (array_agg(id ORDER BY sent_at DESC, id DESC))[1] AS lid
        FROM batch GROUP BY conversation_id
    )
    SELECT m.id, m.conversation_id, CASE WHEN m.sender_id = c.seller_id THEN 'seller' ELSE 'buyer' END AS role,
           m.body, m.sent_at, m.id IN (SELECT id FROM batch) AS new
    FROM b
    JOIN conversations c ON c.id = b.cid
    CROSS JOIN LATERAL (
        (SELECT id, conversation_id, sender_id, body, sent_at FROM messages
         WHERE conversation_id = b.cid AND (sent_at, id) < (b.fat, b.fid)
         ORDER BY sent_at DESC, id DESC LIMIT :before)
        UNION ALL
        (SELECT id, conversation_id, sender_id, body, sent_at FROM messages
         WHERE conversation_id = b.cid AND (sent_at, id) >= (b.fat, b.fid) AND (sent_at, id) <= (b.lat, b.lid))
    ) AS m
    ORDER BY m.conversation_id, m.sent_at, m.id
"""
_READ_BATCH = pyformat(_READ_BATCH_SQL)
_READ_BATCH_UNLOCKED = pyformat(_READ_BATCH_SQL.replace("FOR UPDATE SKIP LOCKED", ""))


@dataclass(frozen=True)
class StoredFinding:
    """A finding just inserted, with its row id: the fields review items are opened from, as the row holds them."""

    id: int
    conversation_id: int
    message_id: int
    kind: str
    value: str
    score: float
    detector_version: str
    spans: list  # [{"message_id": int, "start": int, "end": int}]
    message_ids: list


def save_scans(session: Session, masked: dict[int, str], findings: Sequence[FindingRecord], now: datetime) -> list[int]:
    """Store findings (once each) and mark the messages scanned; return the new finding ids."""
    return [finding.id for finding in store_scans(session, masked, findings, now)]


def store_scans(session: Session, masked: dict[int, str], findings: Sequence[FindingRecord], now: datetime,
                unchanged: frozenset[int] | set[int] = frozenset(), locked: bool = False) -> list[StoredFinding]:
    """``save_scans``, returning the new findings themselves (in id order) from the rows in hand, not read back.

    ``unchanged``: ids of ``masked`` whose masked body is their body; on PostgreSQL the database
    copies it instead of receiving it again (most of a batch: psycopg dumps every text of an
    array parameter in Python). ``locked``: this transaction holds the row locks of ``masked``'s
    messages (``lock_unscanned``, ``read_batch``), so they are updated where each was found
    (``_SET_MASKED_LOCKED``).
    """
    rows = {record.fingerprint(): _finding_row(record, now) for record in findings}
    stored = []
    if rows:
        returned = (insert_json_rows(session, ContactFinding.__table__, list(rows.values()), ["id", "fingerprint"], "(fingerprint)")
                    if _postgres(session) else None)
        if returned is None:
            returned = session.execute(_insert_findings_statement(session.get_bind().dialect.name, True), list(rows.values())).all()
        for row_id, fingerprint in sorted(returned):
            row = rows[fingerprint]
            stored.append(StoredFinding(row_id, row["conversation_id"], row["message_id"], row["kind"], row["value"],
                                        row["score"], row["detector_version"], row["spans"], row["message_ids"]))
    _set_masked(session, masked, now, unchanged, locked)
    return stored


def replace_masked(session: Session, masked: dict[int, str]) -> None:
    """Store new masked copies of messages scanned earlier (a later message completed a split detail)."""
    _set_masked(session, masked, None)


_SET_MASKED = text("""
    UPDATE messages SET masked_body = COALESCE(v.body, messages.body), scanned_at = COALESCE(CAST(:now AS timestamptz), messages.scanned_at)
    FROM unnest(CAST(:ids AS integer[]), CAST(:bodies AS text[])) AS v(id, body)
    WHERE messages.id = v.id AND messages.id = ANY(CAST(:ids AS integer[]))
""")
# The second condition on ``id`` only steers the plan: planned for the arrays in hand, the join
# alone hashed every message of the table (a sequential scan) to update 200 of them.

# Rows this transaction has locked: each found by its key (``LIMIT 1``: a lookup, never a hash of the
# table) and updated at that place (a TID scan): 1.9 ms a batch against 2.6 for ``_SET_MASKED``
# (EXPLAIN ANALYZE). Only for locked rows: a row another transaction updates meanwhile would no
# longer be at that place, and the recheck would skip it where the ``id`` join waits and updates it.
_SET_MASKED_LOCKED = text("""
    UPDATE messages SET masked_body = COALESCE(v.body, messages.body), scanned_at = COALESCE(CAST(:now AS timestamptz), messages.scanned_at)
    FROM unnest(CAST(:ids AS integer[]), CAST(:bodies AS text[])) AS v(id, body)
    CROSS JOIN LATERAL (SELECT m.ctid AS place FROM messages m WHERE m.id = v.id LIMIT 1) AS found
    WHERE messages.ctid = found.place
""")


def _set_masked(session: Session, masked: dict[int, str], now: datetime | None, unchanged: frozenset[int] | set[int] = frozenset(),
                locked: bool = False) -> None:
    """Masked bodies (and, with ``now``, the scan time) of many messages: one statement on PostgreSQL
    (where the ``unchanged`` ones, masked body = body, go as NULL: the database copies the body)."""
    if not masked:
        return
    if session.get_bind().dialect.name == "postgresql":
        bodies = [None if mid in unchanged else body for mid, body in masked.items()] if unchanged else list(masked.values())
        session.execute(_SET_MASKED_LOCKED if locked else _SET_MASKED,
                        {"now": now, "ids": int_array(masked), "bodies": text_array(bodies)})
        return
    extra = {"scanned_at": now} if now is not None else {}
    session.execute(update(Message), [{"id": mid, "masked_body": body, **extra} for mid, body in masked.items()])


def insert_finding_rows(session: Session, rows: dict[str, dict]) -> list[int]:
    """Insert finding rows keyed by fingerprint, skipping fingerprints already stored; return the new ids."""
    if not rows:
        return []
    # Many parameter sets for one statement built once: SQLAlchemy sends them as multi-row VALUES
    # ("insertmanyvalues"), in order, with a compiled form it caches; a .values(list) statement
    # was compiled again for every batch.
    return sorted(session.scalars(_insert_findings_statement(session.get_bind().dialect.name), list(rows.values())))


@cache
def _insert_findings_statement(dialect_name: str, with_fingerprint: bool = False):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = ContactFinding.__table__
    returned = (table.c.id, table.c.fingerprint) if with_fingerprint else (table.c.id,)
    return dialect.insert(table).on_conflict_do_nothing(index_elements=["fingerprint"]).returning(*returned)


def _finding_row(record: FindingRecord, now: datetime) -> dict:
    return dict(
        fingerprint=record.fingerprint(), conversation_id=record.conversation_id,
        message_id=max(record.message_ids), scope=record.scope, kind=record.kind, value=record.value[:500],
        match=record.match, score=record.score, detector_version=record.detector_version,
        spans=[{"message_id": m, "start": s, "end": e} for m, s, e in record.spans],
        message_ids=record.message_ids, found_at=now,
    )


def findings_by_kind(session: Session) -> dict[str, int]:
    """How many findings of each kind are stored."""
    from sqlalchemy import func

    rows = session.execute(select(ContactFinding.kind, func.count()).group_by(ContactFinding.kind))
    return {kind: n for kind, n in rows}


def most_flagged_conversation(session: Session) -> str | None:
    """The external id of the conversation with the most findings, if any."""
    from sqlalchemy import func

    return session.scalar(
        select(Conversation.external_id)
        .join(ContactFinding, ContactFinding.conversation_id == Conversation.id)
        .group_by(Conversation.id, Conversation.external_id)
        .order_by(func.count().desc(), Conversation.id)
        .limit(1)
    )


@cache
def _draft_queries():
    """Built once with bind parameters (the compose-time check runs them per request; building
    these selects cost about as much as running them), on Core tables: no ORM set-up per call."""
    c, m, u = Conversation.__table__.c, Message.__table__.c, User.__table__.c
    conversation_id = select(c.id).where(c.external_id == bindparam("conversation"))
    role = case((m.sender_id == c.seller_id, "seller"), else_="buyer").label("role")
    recent = (select(m.id, m.conversation_id, m.body, m.sent_at, role)
              .join(Conversation.__table__, c.id == m.conversation_id)
              .where(m.conversation_id == bindparam("conversation_id"))
              .order_by(m.sent_at.desc(), m.id.desc()).limit(bindparam("limit")))
    participant = (select(c.buyer_id, c.seller_id, u.id).join(User.__table__, u.external_id == bindparam("user"))
                   .where(c.external_id == bindparam("conversation")))
    return conversation_id, recent, participant


def recent_messages(session: Session, conversation_external_id: str, limit: int) -> list[ScannableMessage] | None:
    """The conversation's newest ``limit`` messages, oldest first; None for an unknown conversation."""
    find, recent, _ = _draft_queries()
    conversation_id = session.execute(find, {"conversation": conversation_external_id}).scalar()
    if conversation_id is None:
        return None
    rows = session.execute(recent, {"conversation_id": conversation_id, "limit": limit}).all()
    return [_scannable(row) for row in reversed(rows)]


def participant_role(session: Session, conversation_external_id: str, user_external_id: str) -> str | None:
    """buyer or seller when the user takes part in the conversation, else None."""
    _, _, participant = _draft_queries()
    row = session.execute(participant, {"conversation": conversation_external_id, "user": user_external_id}).first()
    if row is None:
        return None
    buyer_id, seller_id, user_id = row
    return "buyer" if user_id == buyer_id else "seller" if user_id == seller_id else None
