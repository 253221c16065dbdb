"""Users, conversations, messages and attachments: lookups by the marketplace's ids, inserts, updates.

The importer (``usecases.importing``) decides what to write; these functions only read and write,
and translate database refusals into ``StorageRefused`` so callers need not know SQLAlchemy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage import bulk
from storage.db import is_deadlock, is_postgres
from storage.models import Attachment, Conversation, ConversationRead, Message, User

T = TypeVar("T")


class StorageRefused(Exception):
    """The database refused a write (a constraint, a lost connection, a failed commit)."""


@dataclass(frozen=True)
class ConversationRef:
    """A stored conversation's row id and participants."""

    id: int
    buyer_id: int
    seller_id: int


@dataclass(frozen=True)
class StoredMessage:
    """What an immutable message was stored with, to compare a re-import against."""

    conversation_id: int
    sender_id: int
    body: str
    sent_at: datetime


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment already in the blob store, ready to be linked to its message."""

    position: int
    original_name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ConversationParticipants:
    """A stored conversation's row id and its participants' row and external ids."""

    id: int
    buyer_id: int
    seller_id: int
    buyer: str
    seller: str

    def participant_id(self, external_id: str) -> int | None:
        """The row id of the participant with this external id; None for anyone else."""
        return self.buyer_id if external_id == self.buyer else self.seller_id if external_id == self.seller else None


class NewMessage(NamedTuple):
    """A message to insert (``insert_new_messages``), its attachments already in the blob store.

    A named tuple, not a frozen dataclass: an import makes one per message, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) cost six times as much.
    """

    external_id: str
    conversation_id: int
    sender_id: int
    body: str
    sent_at: datetime
    attachments: Sequence[StoredAttachment] = ()


@contextmanager
def unit_of_work(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One committed transaction; a failed commit raises StorageRefused.

    A deadlock (PostgreSQL chose this transaction as the victim) is raised as it is, for the
    caller to run the whole transaction again (``storage.db.is_deadlock``): it says nothing
    about the records being written.
    """
    try:
        with session_factory() as session, session.begin():
            yield session
    except SQLAlchemyError as exc:
        if is_deadlock(exc):
            raise
        raise StorageRefused(f"the commit failed: {type(exc).__name__}") from exc


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A nested transaction: an error inside undoes only what was written inside.

    A deadlock is not the record's fault: it fails the whole transaction (see ``unit_of_work``)
    instead of being answered as that record's error. Two processes applying records of one
    conversation at once (two web workers' group commits) can deadlock on its notification rows.
    """
    try:
        with session.begin_nested():
            yield
    except SQLAlchemyError as exc:
        if is_deadlock(exc):
            raise
        raise StorageRefused(f"database refused it: {type(exc).__name__}") from exc


def user_id(session: Session, external_id: str) -> int | None:
    return session.scalar(select(User.id).where(User.external_id == external_id))


def conversation(session: Session, external_id: str) -> ConversationRef | None:
    row = session.execute(select(Conversation.id, Conversation.buyer_id, Conversation.seller_id)
                          .where(Conversation.external_id == external_id)).first()
    return ConversationRef(*row) if row else None


@cache
def _conversations_with_participants_query(postgres: bool):
    """Built once: building the joined select (two aliases) cost more than running it."""
    # Core tables, not ORM entities: the ORM's per-execution set-up cost as much again as the query.
    conversation, buyer, seller = Conversation.__table__, User.__table__.alias("buyer"), User.__table__.alias("seller")
    return (select(conversation.c.external_id, conversation.c.id, conversation.c.buyer_id, conversation.c.seller_id,
                   buyer.c.external_id, seller.c.external_id)
            .join(buyer, buyer.c.id == conversation.c.buyer_id).join(seller, seller.c.id == conversation.c.seller_id)
            .where(bulk.member_of_set(conversation.c.external_id, "external_ids", postgres)))


def conversations_with_participants(session: Session, external_ids: Sequence[str]) -> dict[str, ConversationParticipants]:
    """The stored conversations among ``external_ids`` with their participants, in one query."""
    found: dict[str, ConversationParticipants] = {}
    postgres = is_postgres(session)
    query = _conversations_with_participants_query(postgres)
    for chunk in bulk.lookup_chunks(sorted(set(external_ids)), postgres):
        rows = session.execute(query, {"external_ids": chunk})
        found.update((row[0], ConversationParticipants(*row[1:])) for row in rows)
    return found


@cache
def _lookup_query(table: Any, columns: tuple[str, ...], postgres: bool) -> Any:
    """Built once: ``columns`` of ``table``'s rows whose external id is in the list ``external_ids``.

    One array parameter on PostgreSQL (``bulk.member_of_set``, a semi-join, not a linear ``= ANY``):
    an expanding list of a thousand placeholders is a query text psycopg parses again on every execution.
    """
    return select(*(table.c[c] for c in columns)).where(bulk.member_of_set(table.c.external_id, "external_ids", postgres))


def _lookup(session: Session, table: Any, columns: tuple[str, ...], external_ids: Sequence[str]) -> Iterator[Any]:
    """Rows of ``_lookup_query`` for the distinct ``external_ids`` (one query a ``bulk.lookup_chunks`` slice)."""
    postgres = is_postgres(session)
    query = _lookup_query(table, columns, postgres)
    for chunk in bulk.lookup_chunks(sorted(set(external_ids)), postgres):
        yield from session.execute(query, {"external_ids": chunk})


_STORED_MESSAGE_COLUMNS = ("external_id", "conversation_id", "sender_id", "body", "sent_at")


def stored_messages(session: Session, external_ids: Sequence[str]) -> dict[str, StoredMessage]:
    """What the stored messages among ``external_ids`` were stored with, in one query (a thousand a query on SQLite)."""
    return {row[0]: StoredMessage(*row[1:]) for row in _lookup(session, Message.__table__, _STORED_MESSAGE_COLUMNS,
                                                              external_ids)}


_INSERT_MESSAGES_PG = text(
    "INSERT INTO messages (external_id, conversation_id, sender_id, body, sent_at, recorded_at)"
    " SELECT external_id, conversation_id, sender_id, body, sent_at, :recorded_at FROM unnest("
    "CAST(:external_ids AS varchar[]), CAST(:conversation_ids AS integer[]), CAST(:sender_ids AS integer[]),"
    " CAST(:bodies AS text[]), CAST(:sent_ats AS timestamptz[]))"
    " AS new (external_id, conversation_id, sender_id, body, sent_at)"
    " ON CONFLICT (external_id) DO NOTHING RETURNING external_id, id"
)


_SCRATCH_MESSAGES = (("position", "integer"), ("external_id", "varchar(128)"), ("conversation_id", "integer"),
                     ("sender_id", "integer"), ("body", "text"), ("sent_at", "timestamptz"))
_INSERT_SCRATCH_MESSAGES_PG = text(
    "INSERT INTO messages (external_id, conversation_id, sender_id, body, sent_at, recorded_at)"
    " SELECT external_id, conversation_id, sender_id, body, sent_at, :recorded_at FROM pg_temp.import_messages"
    " ORDER BY position ON CONFLICT (external_id) DO NOTHING RETURNING external_id, id"
)


_MESSAGE_COPY_COLUMNS = ("id", "external_id", "conversation_id", "sender_id", "body", "sent_at", "recorded_at")
_MESSAGE_COPY_TYPES = ("integer", "varchar", "integer", "integer", "text", "timestamptz", "timestamptz")
_MESSAGE_SEQUENCE = "SELECT pg_get_serial_sequence('messages', 'id')"
_DRAW_MESSAGE_IDS = (
    "SELECT min(v), max(v), count(*), CASE WHEN max(v) - min(v) + 1 <> count(*) THEN array_agg(v ORDER BY v) END"
    " FROM (SELECT nextval(CAST({} AS regclass)) AS v FROM generate_series(1, %s)) AS drawn"
)


def _draw_message_ids(connection: Any, count: int) -> list[int] | range:
    """``count`` new message ids from the table's sequence, ascending, in one round trip.

    The sequence's name is looked up once per connection and written into the statement as a
    literal, which PostgreSQL resolves once when it parses it. Looked up in the same statement
    (``pg_get_serial_sequence`` joined to ``generate_series``), the planner evaluated the lookup
    again for every row: 5 µs of server CPU an id, 0.06 s for 20,000, against 0.007 s now. When
    nobody else drew meanwhile (the usual case) the ids are consecutive and only the first and
    last travel; otherwise the server sends them all.
    """
    info = connection.info
    query = info.get("peerguard_draw_message_ids")
    raw = connection.driver_connection
    if query is None:
        from psycopg import sql  # only PostgreSQL connections come here

        with raw.cursor() as cursor:
            (name,) = cursor.execute(_MESSAGE_SEQUENCE).fetchone()
        query = info["peerguard_draw_message_ids"] = sql.SQL(_DRAW_MESSAGE_IDS).format(sql.Literal(name)).as_string(raw)
    with raw.cursor() as cursor:
        first, last, drawn, scattered = cursor.execute(query, (count,)).fetchone()
    if drawn != count:
        raise RuntimeError(f"asked the sequence for {count} message ids, got {drawn}")
    return range(first, last + 1) if scattered is None else scattered


def _copy_new_messages(session: Session, messages: Sequence[NewMessage], recorded_at: datetime,
                       meanwhile: Callable[[dict[str, int]], T] | None = None) -> tuple[dict[str, int], T | None] | None:
    """COPY the messages straight into their table, with row ids drawn from its sequence first; their ids by external id.

    None, having written nothing (its own savepoint is rolled back), when one of them is stored
    already (a repeated import, or another writer's): the caller then inserts the ones that are not.
    The ids ascend in the messages' order, as an insert in that order would number them. Against
    the insert from a scratch table this skips a second COPY, the sort, the conflict checks and
    RETURNING 20,000 rows (figures: docs/benchmarks.md, "s5-import").

    With ``meanwhile``, the COPY runs in a helper thread on the session's connection while this
    thread calls ``meanwhile`` with the ids the messages get if the COPY succeeds; its answer is
    returned with them (and dropped when the COPY fails). ``meanwhile`` must not use the session:
    the server stores the messages (indexes, foreign keys) while this process computes.
    """
    pooled = session.connection().connection
    raw = pooled.driver_connection
    ids = _draw_message_ids(pooled, len(messages))
    at = recorded_at.astimezone(UTC)
    ids_by_external_id = {m.external_id: row_id for row_id, m in zip(ids, messages, strict=True)}
    rows = ((row_id, m.external_id, m.conversation_id, m.sender_id, m.body, m.sent_at, at)
            for row_id, m in zip(ids, messages, strict=True))
    nested = session.begin_nested()
    session.connection()  # the SAVEPOINT itself: SQLAlchemy sends it with the session's next statement, and the COPY is not one
    failure: list[BaseException | None] = []

    def copy() -> None:
        try:
            bulk.copy_on(raw, "messages", _MESSAGE_COPY_COLUMNS, rows, binary_types=_MESSAGE_COPY_TYPES)
            failure.append(None)
        except BaseException as exc:  # noqa: BLE001 - raised below, in the session's thread
            failure.append(exc)

    answer = None
    if meanwhile is None:
        copy()
    else:
        helper = threading.Thread(target=copy, name="message-copy", daemon=True)
        helper.start()
        try:
            answer = meanwhile(ids_by_external_id)
        except BaseException:
            helper.join()  # the connection is the session's again only once the COPY is over
            nested.rollback()
            raise
        helper.join()
    if failure[0] is None:
        nested.commit()
        return ids_by_external_id, answer
    nested.rollback()
    if isinstance(failure[0], DBAPIError) and getattr(failure[0].orig, "sqlstate", None) == _UNIQUE_VIOLATION:
        return None
    raise failure[0]


_UNIQUE_VIOLATION = "23505"


def copies_messages(session: Session, count: int) -> bool:
    """Whether ``insert_new_messages_meanwhile`` of ``count`` new messages COPies them (and so calls ``meanwhile``)."""
    return is_postgres(session) and count >= bulk.COPY_FROM_ROWS


def insert_new_messages(session: Session, messages: Sequence[NewMessage], recorded_at: datetime) -> dict[str, int]:
    """Insert the messages whose external id is not stored yet, with their attachments, in a few statements.

    Returns the row id of each inserted message by external id; a message whose id is already
    stored is skipped (the caller compares it). The external ids must be distinct.
    """
    return insert_new_messages_meanwhile(session, messages, recorded_at, None)[0]


def insert_new_messages_meanwhile(session: Session, messages: Sequence[NewMessage], recorded_at: datetime,
                                  meanwhile: Callable[[dict[str, int]], T] | None) -> tuple[dict[str, int], T | None]:
    """``insert_new_messages``, and ``meanwhile``'s answer when it ran while the server stored all of them.

    On PostgreSQL, for ``bulk.COPY_FROM_ROWS`` messages or more none of which is stored yet,
    ``meanwhile`` is called with the ids they get, while their COPY runs (``_copy_new_messages``;
    it must not use the session). Otherwise (fewer messages, SQLite, a repeat among them) it is
    not called, or its answer is dropped, and the answer is None.
    """
    copied = _copy_new_messages(session, messages, recorded_at, meanwhile) if copies_messages(session, len(messages)) else None
    answer = None
    if copied is not None:
        inserted_ids, answer = copied
        rows = inserted_ids.items()
    elif is_postgres(session) and len(messages) >= bulk.COPY_FROM_ROWS:
        # A repeat among them: COPY to a scratch table, then one insert from it that skips the stored ones.
        bulk.copy_to_scratch(session, "import_messages", _SCRATCH_MESSAGES, (
            (position, m.external_id, m.conversation_id, m.sender_id, m.body, m.sent_at)
            for position, m in enumerate(messages)))
        rows = session.execute(_INSERT_SCRATCH_MESSAGES_PG, {"recorded_at": recorded_at.astimezone(UTC)})
    elif is_postgres(session):
        # One statement with one array a column: psycopg neither splits nor re-parses a huge query text.
        rows = session.execute(_INSERT_MESSAGES_PG, {
            "external_ids": [m.external_id for m in messages], "conversation_ids": [m.conversation_id for m in messages],
            "sender_ids": [m.sender_id for m in messages], "bodies": [m.body for m in messages],
            "sent_ats": [m.sent_at.astimezone(UTC) for m in messages], "recorded_at": recorded_at.astimezone(UTC)})
    else:
        table = Message.__table__
        rows = session.connection().execute(
            sqlite.insert(table).on_conflict_do_nothing(index_elements=["external_id"])
            .returning(table.c.external_id, table.c.id),
            [{"external_id": m.external_id, "conversation_id": m.conversation_id, "sender_id": m.sender_id,
              "body": m.body, "sent_at": m.sent_at, "recorded_at": recorded_at} for m in messages])
    inserted = {external_id: row_id for external_id, row_id in rows}
    attachments = [{"message_id": inserted[m.external_id], "position": a.position, "original_name": a.original_name,
                    "content_type": a.content_type, "size": a.size, "sha256": a.sha256, "blob_key": a.sha256}
                   for m in messages if m.external_id in inserted for a in m.attachments]
    if attachments:
        session.connection().execute(Attachment.__table__.insert(), attachments)
    return inserted, answer


_MARK_READ_MANY_PG = text(
    "INSERT INTO conversation_reads (conversation_id, user_id, last_read_at)"
    " SELECT * FROM unnest(CAST(:conversation_ids AS integer[]), CAST(:user_ids AS integer[]), CAST(:ats AS timestamptz[]))"
    " ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_at = excluded.last_read_at"
    " WHERE conversation_reads.last_read_at < excluded.last_read_at"
)

_SCRATCH_READS = (("conversation_id", "integer"), ("user_id", "integer"), ("last_read_at", "timestamptz"))
_MARK_SCRATCH_READS_PG = text(
    "INSERT INTO conversation_reads (conversation_id, user_id, last_read_at)"
    " SELECT conversation_id, user_id, last_read_at FROM pg_temp.import_reads ORDER BY conversation_id, user_id"
    " ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_at = excluded.last_read_at"
    " WHERE conversation_reads.last_read_at < excluded.last_read_at"
)


def mark_read_many(session: Session, reads: dict[tuple[int, int], datetime]) -> None:
    """``mark_read`` for many (conversation, user) pairs at once: never moving backwards."""
    if not reads:
        return
    if is_postgres(session) and len(reads) >= bulk.COPY_FROM_ROWS:
        bulk.copy_to_scratch(session, "import_reads", _SCRATCH_READS,
                             ((c, u, at) for (c, u), at in sorted(reads.items())), binary=True)
        session.execute(_MARK_SCRATCH_READS_PG)
        return
    if is_postgres(session):
        ordered = sorted(reads.items())
        session.execute(_MARK_READ_MANY_PG, {"conversation_ids": [c for (c, _), _ in ordered],
                                             "user_ids": [u for (_, u), _ in ordered],
                                             "ats": [at.astimezone(UTC) for _, at in ordered]})
        return
    dialect = sqlite
    table = ConversationRead.__table__
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["conversation_id", "user_id"], set_={"last_read_at": statement.excluded.last_read_at},
        where=table.c.last_read_at < statement.excluded.last_read_at)
    session.connection().execute(statement, [
        {"conversation_id": conversation_id, "user_id": user_id, "last_read_at": at}
        for (conversation_id, user_id), at in sorted(reads.items())])


USER_FIELDS = ("name", "email", "timezone", "away", "role", "notify")
CONVERSATION_FIELDS = ("subject", "order_ref")


def users_by_external_id(session: Session, external_ids: Sequence[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    """The stored users among ``external_ids``: row id and the fields an import may set, in one query (a thousand a query on SQLite)."""
    rows = _lookup(session, User.__table__, ("external_id", "id", *USER_FIELDS), external_ids)
    return {row[0]: (row[1], dict(zip(USER_FIELDS, row[2:], strict=True))) for row in rows}


def conversations_by_external_id(session: Session, external_ids: Sequence[str]) -> dict[str, tuple[ConversationRef, dict[str, Any]]]:
    """The stored conversations among ``external_ids`` with their subject and order, in one query (a thousand a query on SQLite)."""
    rows = _lookup(session, Conversation.__table__, ("external_id", "id", "buyer_id", "seller_id", *CONVERSATION_FIELDS),
                   external_ids)
    return {row[0]: (ConversationRef(*row[1:4]), dict(zip(CONVERSATION_FIELDS, row[4:], strict=True))) for row in rows}


def user_ids(session: Session, external_ids: Sequence[str]) -> dict[str, int]:
    """Row ids of the stored users among ``external_ids``."""
    return {external_id: found[0] for external_id, found in users_by_external_id(session, external_ids).items()}


def insert_rows(session: Session, kind: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new users or conversations (``kind``), rows with the same keys in one statement."""
    table = {"user": User.__table__, "conversation": Conversation.__table__}[kind]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    postgres = is_postgres(session)
    for group in groups.values():
        if not (postgres and len(group) >= bulk.COPY_FROM_ROWS and bulk.copy_table_rows(session, table, group)):
            session.connection().execute(table.insert(), group)


def update_row(session: Session, kind: str, row_id: int, values: dict[str, Any]) -> None:
    """Update a user's or conversation's changed fields."""
    table = {"user": User.__table__, "conversation": Conversation.__table__}[kind]
    session.connection().execute(update(table).where(table.c.id == row_id).values(values))


def stored_message(session: Session, external_id: str) -> StoredMessage | None:
    row = session.execute(select(Message.conversation_id, Message.sender_id, Message.body, Message.sent_at)
                          .where(Message.external_id == external_id)).first()
    return StoredMessage(*row) if row else None


def upsert_user(session: Session, external_id: str, values: dict[str, Any]) -> str:
    """Create the user or update the fields that differ; return created, updated or unchanged."""
    user = session.scalar(select(User).where(User.external_id == external_id))
    if user is None:
        session.add(User(external_id=external_id, **values))
        session.flush()
        return "created"
    return _update_fields(user, values)


def upsert_conversation(session: Session, external_id: str, buyer_id: int, seller_id: int, values: dict[str, Any]) -> str:
    """Create the conversation or update its subject and order; return created, updated or unchanged."""
    found = session.scalar(select(Conversation).where(Conversation.external_id == external_id))
    if found is None:
        session.add(Conversation(external_id=external_id, buyer_id=buyer_id, seller_id=seller_id, **values))
        session.flush()
        return "created"
    return _update_fields(found, values)


def insert_message(session: Session, external_id: str, conversation_id: int, sender_id: int, body: str,
                   sent_at: datetime, recorded_at: datetime, attachments: Sequence[StoredAttachment]) -> int:
    """Insert a message and its attachments; return the message's row id."""
    message = Message(external_id=external_id, conversation_id=conversation_id, sender_id=sender_id,
                      body=body, sent_at=sent_at, recorded_at=recorded_at)
    session.add(message)
    session.flush()
    session.add_all(Attachment(message_id=message.id, position=a.position, original_name=a.original_name,
                               content_type=a.content_type, size=a.size, sha256=a.sha256, blob_key=a.sha256)
                    for a in attachments)
    session.flush()
    return message.id


def _update_fields(obj: Any, values: dict[str, Any]) -> str:
    changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
    for key, value in changed.items():
        setattr(obj, key, value)
    return "updated" if changed else "unchanged"


def mark_read(session: Session, conversation_id: int, user_id: int, at: datetime) -> bool:
    """Record that the user read the conversation up to ``at`` (never moving backwards); True if it moved."""
    params = {"b_conversation": conversation_id, "b_user": user_id, "b_at": at}
    insert, advance = _read_statements("postgresql" if is_postgres(session) else "sqlite")
    if session.scalar(insert, params) is not None:
        return True
    return bool(session.execute(advance, params).rowcount)


@cache
def _read_statements(dialect_name: str) -> tuple[Any, Any]:
    # Built once with bind parameters: every imported message marks its sender's read.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    values = {"conversation_id": bindparam("b_conversation"), "user_id": bindparam("b_user"), "last_read_at": bindparam("b_at")}
    insert = (dialect.insert(ConversationRead.__table__).values(values)
              .on_conflict_do_nothing(index_elements=["conversation_id", "user_id"]).returning(ConversationRead.user_id))
    reads = ConversationRead.__table__.c
    advance = (update(ConversationRead.__table__)
               .where(reads.conversation_id == bindparam("b_conversation"), reads.user_id == bindparam("b_user"),
                      reads.last_read_at < bindparam("b_at"))
               .values(last_read_at=bindparam("b_at")))
    return insert, advance


def last_read_at(session: Session, conversation_id: int, user_id: int) -> datetime | None:
    return session.scalar(select(ConversationRead.last_read_at).where(
        ConversationRead.conversation_id == conversation_id, ConversationRead.user_id == user_id))
