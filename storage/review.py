"""The review queue's storage: typed row reads, inserts, guarded updates, history lines and listings.

Every function works in the caller's session and transaction; the workflow that composes them,
every rule and every email live in ``usecases.review``. Nothing here raises a review refusal:
a read that finds nothing returns None and a guarded write that loses returns False, and the
use case decides what that means.

Reviewer decisions use optimistic locking: ``update_item`` writes with
``UPDATE … WHERE id = :id AND version = :version`` and reports whether a row changed. The
scanner, which must never lose a finding, instead locks the item row (``FOR UPDATE`` on
PostgreSQL; SQLite serialises writers anyway) and always bumps the version, so a reviewer
deciding on stale evidence gets a conflict too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from pipeline.review import SignalFacts, median
from storage.bulk import insert_json_rows, int_array, member_of, text_array
from storage.db import is_postgres
from storage.models import (
    ContactFinding,
    Conversation,
    Message,
    ReviewHistory,
    ReviewItem,
    ReviewItemMessage,
    ReviewSignal,
    Strike,
    User,
)
from storage.review_queue import QueueRow


def _dialect(session: Session):
    return postgresql if is_postgres(session) else sqlite


# --- Users -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A user as the review workflow sees them; ``external_id`` is the marketplace's id (u-…)."""

    id: int
    external_id: str
    name: str
    email: str | None
    role: str
    restricted: bool

    @property
    def label(self) -> str:
        """How staff recognise the user: the email, or the marketplace id without one."""
        return self.email or self.external_id


def _person(user: User) -> Person:
    return Person(user.id, user.external_id, user.name, user.email, user.role, bool(user.restricted))


def person(session: Session, user_id: int) -> Person | None:
    """The user with this row id."""
    user = session.get(User, user_id)
    return _person(user) if user is not None else None


def staff_member(session: Session, email: str) -> Person | None:
    """The first staff user with this email (case-insensitive)."""
    user = session.scalar(
        select(User).where(func.lower(User.email) == email.strip().lower(), User.role == "staff").order_by(User.id).limit(1)
    )
    return _person(user) if user is not None else None


def users_with_email(session: Session, email: str) -> list[Person]:
    """Every user with this email (case-insensitive), oldest first."""
    rows = session.scalars(select(User).where(func.lower(User.email) == email.strip().lower()).order_by(User.id))
    return [_person(user) for user in rows]


def create_user(session: Session, external_id: str, name: str, email: str, role: str) -> Person:
    """Insert a user and return it with its row id."""
    user = User(external_id=external_id, name=name, email=email, timezone="UTC", away=False, role=role, restricted=False)
    session.add(user)
    session.flush()
    return _person(user)


def set_role(session: Session, user_id: int, role: str, name: str | None = None) -> None:
    """Give a user ``role`` (and a new display name when one is given)."""
    values: dict[str, Any] = {"role": role} | ({"name": name} if name else {})
    session.execute(update(User).where(User.id == user_id).values(**values))


def set_restricted(session: Session, user_id: int, restricted: bool) -> bool:
    """Set the restriction flag; False when it already had that value (a concurrent sweep won).

    The default synchronisation also updates a User already loaded in this session, so a later
    read in the same transaction sees the new flag.
    """
    result = session.execute(
        update(User).where(User.id == user_id, User.restricted.is_(not restricted)).values(restricted=restricted)
    )
    return result.rowcount == 1


def restricted_user_ids(session: Session) -> list[int]:
    """Row ids of every restricted user."""
    return list(session.scalars(select(User.id).where(User.restricted.is_(True)).order_by(User.id)))


# --- Items and signals -------------------------------------------------------------------------


def findings(session: Session, finding_ids: Sequence[int]) -> list[ContactFinding]:
    """The stored findings with these ids, in id order."""
    return list(session.scalars(select(ContactFinding).where(ContactFinding.id.in_(list(finding_ids))).order_by(ContactFinding.id)))


# --- Set-based opening of new incidents (the scanner's batch path) -----------------------------


# The reads below are built once per dialect with one array parameter per list (``member_of``): a
# statement whose text is the same every batch is parsed once by psycopg and prepared by
# PostgreSQL after a few runs, where an ``IN`` list of the batch's length was a new text each time.


def owned_and_taken(session: Session, message_ids: Sequence[int], keys: Sequence[str]) -> tuple[set[int], set[str]]:
    """Which of these messages already belong to some item's incident (merged items included), and
    which of these item keys are taken, in one statement."""
    ids = sorted(set(message_ids))
    if not ids and not keys:
        return set(), set()
    rows = session.execute(_owned_and_taken_query(is_postgres(session)), {"ids": ids, "keys": list(keys)}).all()
    return {row[0] for row in rows if row[0] is not None}, {row[1] for row in rows if row[1] is not None}


@cache
def _owned_and_taken_query(postgres: bool):
    from sqlalchemy import String, null, union_all

    rim, item = ReviewItemMessage.__table__.c, ReviewItem.__table__.c
    return union_all(
        select(rim.message_id, null().cast(String).label("target_key")).where(member_of(rim.message_id, "ids", postgres)),
        select(null().cast(Integer).label("message_id"), item.target_key).where(member_of(item.target_key, "keys", postgres)),
    )


@dataclass(frozen=True)
class AnchorFacts:
    """An incident's newest message: its sender (the item's subject) and the marketplace's ids."""

    sender_id: int
    conversation_external_id: str
    message_external_id: str
    body: str
    sender: Person | None = None  # with ``incident_anchors``
    strikes: int = 0  # with ``incident_anchors``: the sender's strikes in the window


def incident_anchors(session: Session, message_ids: Sequence[int], after: datetime, until: datetime) -> dict[int, AnchorFacts]:
    """Per anchor message (by row id): its sender, conversation and message ids (c-…, m-…), text,
    the sender (a ``Person``) and their strikes given in ``(after, until]`` and not overturned, in one statement."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    rows = session.execute(_incident_anchors_query(is_postgres(session)), {"ids": ids, "after": after, "until": until})
    return {row[0]: _anchor_facts(row) for row in rows}


# One anchor's facts (message i.id: its sender, marketplace ids, body, the sender's strikes in
# (:after, :until]), looked up by key; ``_INCIDENT_ANCHORS`` and ``_INCIDENT_FACTS`` read it per anchor.
_ANCHOR_OF_I = """
    SELECT m.id, m.sender_id, c.external_id AS conversation_external_id, m.external_id, m.body,
           u.id AS user_id, u.external_id AS user_external_id, u.name, u.email, u.role, u.restricted,
           (SELECT count(*) FROM strikes s WHERE s.user_id = m.sender_id AND s.overturned_at IS NULL
            AND s.created_at > :after AND s.created_at <= :until) AS strikes
    FROM messages m JOIN conversations c ON c.id = m.conversation_id LEFT JOIN users u ON u.id = m.sender_id
    WHERE m.id = i.id LIMIT 1
"""


# On PostgreSQL each anchor is looked up by its key (``LIMIT 1`` keeps the lateral join a loop of
# lookups): planned as one join right after a bulk import (tables not yet analysed, estimated at a
# tenth of their size), it hashed every conversation and user for a handful of anchors.
_INCIDENT_ANCHORS = text(f"""
    SELECT a.* FROM unnest(CAST(:ids AS integer[])) AS i(id) CROSS JOIN LATERAL ({_ANCHOR_OF_I}) AS a
""").bindparams(bindparam("after", type_=Strike.__table__.c.created_at.type),
                bindparam("until", type_=Strike.__table__.c.created_at.type))


@cache
def _incident_anchors_query(postgres: bool):
    if postgres:
        return _INCIDENT_ANCHORS
    m, c, u, s = Message.__table__.c, Conversation.__table__.c, User.__table__.c, Strike.__table__.c
    strikes = (select(func.count()).where(
        s.user_id == m.sender_id, s.overturned_at.is_(None),
        s.created_at > bindparam("after", type_=s.created_at.type), s.created_at <= bindparam("until", type_=s.created_at.type),
    ).scalar_subquery())
    return (select(m.id, m.sender_id, c.external_id, m.external_id, m.body,
                   u.id, u.external_id, u.name, u.email, u.role, u.restricted, strikes)
            .select_from(Message.__table__.join(Conversation.__table__, c.id == m.conversation_id)
                         .outerjoin(User.__table__, u.id == m.sender_id))
            .where(member_of(m.id, "ids", postgres)))


def _anchor_facts(row) -> AnchorFacts:
    """``AnchorFacts`` of one ``_ANCHOR_OF_I`` row (id, sender id, conversation and message ids, body, the sender's columns, strikes)."""
    person = Person(row[5], row[6], row[7], row[8], row[9], bool(row[10])) if row[5] is not None else None
    return AnchorFacts(row[1], row[2], row[3], row[4], person, row[11] if person is not None else 0)


def incident_facts(session: Session, message_ids: Sequence[int], keys: Sequence[str], anchor_ids: Sequence[int],
                   after: datetime, until: datetime) -> tuple[set[int], set[str], dict[int, AnchorFacts]]:
    """``owned_and_taken(message_ids, keys)`` and ``incident_anchors(anchor_ids, after, until)``: one statement on PostgreSQL.

    For the scanner, which reads both for every batch once its conversations are locked (the
    anchors of every incident, those that will join an item too: a message's sender and marketplace
    ids do not change, nor does the scanner give strikes or restrict anyone).
    """
    if not is_postgres(session):
        return *owned_and_taken(session, message_ids, keys), incident_anchors(session, anchor_ids, after, until)
    row = session.execute(_INCIDENT_FACTS, {"ids": int_array(sorted(set(message_ids))), "keys": text_array(keys),
                                            "anchors": int_array(sorted(set(anchor_ids))), "after": after, "until": until}).one()
    anchors = {a[0]: _anchor_facts(a) for a in row[2] or ()}  # psycopg reads the json column back as lists
    return set(row[0]), set(row[1]), anchors


# ``owned_and_taken``'s two reads as arrays and ``_INCIDENT_ANCHORS``' rows as one JSON array, in one row.
_INCIDENT_FACTS = text(f"""
    SELECT ARRAY(SELECT message_id FROM review_item_messages WHERE message_id = ANY(CAST(:ids AS integer[]))),
           ARRAY(SELECT target_key FROM review_items WHERE target_key = ANY(CAST(:keys AS text[]))),
           (SELECT json_agg(json_build_array(a.id, a.sender_id, a.conversation_external_id, a.external_id, a.body, a.user_id,
                                             a.user_external_id, a.name, a.email, a.role, a.restricted, a.strikes))
            FROM unnest(CAST(:anchors AS integer[])) AS i(id) CROSS JOIN LATERAL ({_ANCHOR_OF_I}) AS a)
""").bindparams(bindparam("after", type_=Strike.__table__.c.created_at.type),
                bindparam("until", type_=Strike.__table__.c.created_at.type))


@cache
def _returning_insert(table):
    """``INSERT … RETURNING id`` on the table, built once, ids in parameter order (Core: the rows are
    plain dicts of column values, so the ORM's bulk-insert bookkeeping was pure overhead; callers
    flush the session first where it may hold pending objects)."""
    return table.insert().returning(table.c.id, sort_by_parameter_order=True)


@cache
def _item_messages_insert(dialect_name: str):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(ReviewItemMessage.__table__).on_conflict_do_nothing()


def insert_items(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert new items (ids drawn in the given order); return their ids in that order."""
    if not rows:
        return []
    if is_postgres(session) and (returned := insert_json_rows(session, ReviewItem.__table__, rows, ["id"])) is not None:
        return sorted(row[0] for row in returned)  # drawn in the rows' order
    return list(session.scalars(_returning_insert(ReviewItem.__table__), list(rows)))


# The scanner's inserts below go as one JSON parameter on PostgreSQL (``storage.bulk.insert_json_rows``):
# a statement text that does not change with the number of rows.


def add_incident_messages(session: Session, pairs: Sequence[tuple[int, int]]) -> None:
    """Record (item id, message id) pairs of new incidents (known pairs are skipped)."""
    rows = [{"item_id": item_id, "message_id": message_id} for item_id, message_id in pairs]
    if rows and not (is_postgres(session) and insert_json_rows(session, ReviewItemMessage.__table__, rows, conflict="") is not None):
        session.execute(_item_messages_insert(session.get_bind().dialect.name), rows)


def insert_signals(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert signals of new items, ids drawn in the given order."""
    if rows and not (is_postgres(session) and insert_json_rows(session, ReviewSignal.__table__, rows) is not None):
        session.execute(_returning_insert(ReviewSignal.__table__), list(rows)).all()


def add_history_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append history lines (dicts of ``add_history``'s fields), ids drawn in the given order."""
    if rows:
        session.flush()  # lines added one by one earlier in this transaction come first
        if not (is_postgres(session) and insert_json_rows(session, ReviewHistory.__table__, rows) is not None):
            session.execute(_returning_insert(ReviewHistory.__table__), list(rows)).all()


def get_item(session: Session, item_id: int) -> ReviewItem | None:
    """The item with this id."""
    return session.get(ReviewItem, item_id)


def reload_item(session: Session, item_id: int) -> ReviewItem:
    """The item as the database has it now (after Core updates this session did not track)."""
    return session.execute(
        select(ReviewItem).where(ReviewItem.id == item_id).execution_options(populate_existing=True)
    ).scalar_one()


def unsignalled(session: Session, findings_: Sequence[ContactFinding]) -> list[ContactFinding]:
    """The findings that are not yet a signal of any item, in the given order."""
    ids = [f.id for f in findings_]
    taken = set(session.scalars(select(ReviewSignal.finding_id).where(ReviewSignal.finding_id.in_(ids)))) if ids else set()
    return [f for f in findings_ if f.id not in taken]


def lock_conversations(session: Session, conversation_ids: Sequence[int]) -> None:
    """Serialise item opening per conversation until this transaction ends.

    Finding which items a new incident overlaps and then joining or creating one must not
    interleave with another scanner doing the same in the conversation, or both could open an
    item for one attempt. ``FOR NO KEY UPDATE`` (in id order, so two scanners cannot deadlock on
    each other) does not block inserting messages into the conversation, which only takes a key
    share lock. SQLite serialises writers anyway.
    """
    if not conversation_ids or not is_postgres(session):
        return
    session.execute(_lock_conversations_query(), {"ids": sorted(set(conversation_ids))}).all()


@cache
def _lock_conversations_query():
    c = Conversation.__table__.c
    return select(c.id).where(member_of(c.id, "ids", True)).order_by(c.id).with_for_update(key_share=True)


@dataclass(frozen=True)
class Overlap:
    """An item that owns one of a new incident's messages: status, decision time, strike given."""

    id: int
    status: str
    resolved_at: datetime | None
    has_strike: bool


def items_sharing_messages(session: Session, message_ids: Sequence[int]) -> list[Overlap]:
    """Every item (merged ones included) whose incident has one of these messages, by id."""
    struck = select(Strike.id).where(Strike.item_id == ReviewItem.id).exists()
    rows = session.execute(
        select(ReviewItem.id, ReviewItem.status, ReviewItem.resolved_at, struck).distinct()
        .join(ReviewItemMessage, ReviewItemMessage.item_id == ReviewItem.id)
        .where(ReviewItemMessage.message_id.in_(list(message_ids))).order_by(ReviewItem.id)
    )
    return [Overlap(item_id, status, resolved_at, bool(has_strike)) for item_id, status, resolved_at, has_strike in rows]


def lock_items(session: Session, item_ids: Sequence[int]) -> list[ReviewItem]:
    """The items as the database has them now, locked against concurrent writers, in id order."""
    query = (select(ReviewItem).where(ReviewItem.id.in_(list(item_ids))).order_by(ReviewItem.id)
             .execution_options(populate_existing=True))
    if is_postgres(session):
        query = query.with_for_update()
    return list(session.scalars(query))


def add_item_messages(session: Session, item_id: int, message_ids: Sequence[int]) -> None:
    """Record these messages as part of the item's incident (known ones are skipped)."""
    rows = [{"item_id": item_id, "message_id": m} for m in sorted(set(message_ids))]
    if rows:
        session.execute(_dialect(session).insert(ReviewItemMessage).values(rows).on_conflict_do_nothing())


def item_message_ids(session: Session, item_id: int) -> list[int]:
    """The messages of the item's incident, ascending."""
    return list(session.scalars(select(ReviewItemMessage.message_id).where(ReviewItemMessage.item_id == item_id)
                                .order_by(ReviewItemMessage.message_id)))


def merge_items(session: Session, survivor_id: int, other_ids: Sequence[int], now: datetime) -> None:
    """Move the others' signals and messages to the survivor and mark them merged into it.

    Their strikes and history stay with them; items merged into them earlier now point at the
    survivor, so ``merged_into_id`` is always one step. Versions are bumped, so a reviewer
    deciding a merged item on stale evidence gets a conflict.
    """
    others = list(other_ids)
    session.execute(update(ReviewSignal).where(ReviewSignal.item_id.in_(others)).values(item_id=survivor_id)
                    .execution_options(synchronize_session=False))
    moved = session.scalars(select(ReviewItemMessage.message_id).where(ReviewItemMessage.item_id.in_(others))).all()
    session.execute(ReviewItemMessage.__table__.delete().where(ReviewItemMessage.item_id.in_(others)))
    add_item_messages(session, survivor_id, moved)
    session.execute(update(ReviewItem).where(ReviewItem.merged_into_id.in_(others)).values(merged_into_id=survivor_id)
                    .execution_options(synchronize_session=False))
    session.execute(
        update(ReviewItem).where(ReviewItem.id.in_(others))
        .values(status="merged", merged_into_id=survivor_id, claimed_by_id=None, claim_expires_at=None,
                resolved_at=now, version=ReviewItem.version + 1)
        .execution_options(synchronize_session=False)
    )


def merged_into(session: Session, item_id: int) -> list[int]:
    """The items merged into this one, by id."""
    return list(session.scalars(select(ReviewItem.id).where(ReviewItem.merged_into_id == item_id).order_by(ReviewItem.id)))


def incident_has_strike(session: Session, item_id: int) -> bool:
    """True when the item or an item merged into it already gave a strike."""
    merged = select(ReviewItem.id).where(ReviewItem.merged_into_id == item_id)
    return session.scalar(
        select(Strike.id).where(or_(Strike.item_id == item_id, Strike.item_id.in_(merged))).limit(1)
    ) is not None


def lock_or_create_item(
    session: Session, key: str, conversation_id: int, message_id: int, kind: str, score: float, now: datetime
) -> tuple[ReviewItem, bool]:
    """The item for ``key``, created pending if missing, locked against concurrent scanners; True if created."""
    sender_id = session.scalar(select(Message.sender_id).where(Message.id == message_id))
    values = dict(
        target_key=key, conversation_id=conversation_id, message_id=message_id, subject_user_id=sender_id,
        kind=kind, status="pending", score=score, priority=0.0, high_severity=False, opened_at=now, version=1,
    )
    statement = (
        _dialect(session).insert(ReviewItem).values(**values)
        .on_conflict_do_nothing(index_elements=["target_key"]).returning(ReviewItem.id)
    )
    created = session.scalar(statement) is not None
    query = select(ReviewItem).where(ReviewItem.target_key == key).execution_options(populate_existing=True)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one(), created


def add_signal(session: Session, item_id: int, finding: ContactFinding, now: datetime) -> bool:
    """Record ``finding`` as a signal of the item; False when it already is one."""
    statement = (
        _dialect(session).insert(ReviewSignal).values(
            item_id=item_id, finding_id=finding.id, kind=finding.kind, value=finding.value,
            detector_version=finding.detector_version, score=finding.score, spans=finding.spans, created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["finding_id"]).returning(ReviewSignal.id)
    )
    return session.scalar(statement) is not None


def signal_facts(session: Session, item_id: int) -> list[SignalFacts]:
    """Kind, value and score of each signal of the item."""
    rows = session.execute(select(ReviewSignal.kind, ReviewSignal.value, ReviewSignal.score).where(ReviewSignal.item_id == item_id))
    return [SignalFacts(kind, value, score) for kind, value, score in rows]


def signals(session: Session, item_id: int) -> list[ReviewSignal]:
    """The item's signals, oldest first."""
    return list(session.scalars(select(ReviewSignal).where(ReviewSignal.item_id == item_id).order_by(ReviewSignal.id)))


def update_item(session: Session, item_id: int, version: int, **values: Any) -> bool:
    """Write ``values`` and bump the version only if the item is still at ``version``; True if written."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item_id, ReviewItem.version == version)
        .values(version=version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def update_pending_item(session: Session, item_id: int, **values: Any) -> None:
    """Write ``values`` if the item is still pending, leaving ``version`` alone (housekeeping, not a decision)."""
    session.execute(update(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.status == "pending").values(**values)
                    .execution_options(synchronize_session=False))


def pending_items_of(session: Session, user_id: int) -> list[ReviewItem]:
    """The user's pending items."""
    return list(session.scalars(select(ReviewItem).where(ReviewItem.subject_user_id == user_id, ReviewItem.status == "pending")))


def decide_signals(session: Session, item_id: int, outcome: str, now: datetime) -> None:
    """Give every undecided signal of the item this outcome."""
    session.execute(
        update(ReviewSignal).where(ReviewSignal.item_id == item_id, ReviewSignal.outcome.is_(None))
        .values(outcome=outcome, decided_at=now).execution_options(synchronize_session=False)
    )


def message_body(session: Session, message_id: int) -> str:
    """The text of a message ('' when it is gone)."""
    return session.scalar(select(Message.body).where(Message.id == message_id)) or ""


# --- History -----------------------------------------------------------------------------------


def add_history(
    session: Session, item_id: int | None, actor_id: int | None, action: str, now: datetime,
    from_status: str | None = None, to_status: str | None = None, note: str | None = None,
) -> None:
    """Append one line to the review history."""
    session.add(ReviewHistory(item_id=item_id, actor_id=actor_id, action=action, from_status=from_status,
                              to_status=to_status, note=note, at=now))


def has_history(session: Session, item_id: int, action: str) -> bool:
    """True when the item's history already has an ``action`` line."""
    return session.scalar(
        select(ReviewHistory.id).where(ReviewHistory.item_id == item_id, ReviewHistory.action == action).limit(1)
    ) is not None


def item_history(session: Session, item_id: int) -> list[dict[str, Any]]:
    """The item's history lines, oldest first, with the acting staff member's email."""
    actor = aliased(User)
    rows = session.execute(
        select(ReviewHistory, actor.email).outerjoin(actor, actor.id == ReviewHistory.actor_id)
        .where(ReviewHistory.item_id == item_id).order_by(ReviewHistory.id)
    )
    return [
        {"at": h.at.isoformat(), "actor": email or "system", "action": h.action,
         "from": h.from_status, "to": h.to_status, "note": h.note}
        for h, email in rows
    ]


# --- Strikes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrikeRecord:
    """One strike of the sender, for ``review show``."""

    id: int
    item_id: int
    created_at: datetime
    overturned_at: datetime | None
    note: str | None


def count_strikes(session: Session, user_id: int, after: datetime, until: datetime) -> int:
    """Strikes of the user given in ``(after, until]`` and not overturned."""
    return session.scalar(
        select(func.count()).select_from(Strike).where(
            Strike.user_id == user_id, Strike.overturned_at.is_(None), Strike.created_at > after, Strike.created_at <= until,
        )
    ) or 0


def add_strike(session: Session, user_id: int, item_id: int, now: datetime, note: str | None) -> int | None:
    """Insert the item's strike; None when the item already has one."""
    statement = (
        _dialect(session).insert(Strike)
        .values(user_id=user_id, item_id=item_id, created_at=now, note=note)
        .on_conflict_do_nothing(index_elements=["item_id"]).returning(Strike.id)
    )
    return session.scalar(statement)


def get_strike(session: Session, strike_id: int) -> Strike | None:
    """The strike with this id."""
    return session.get(Strike, strike_id)


def mark_overturned(session: Session, strike_id: int, by_id: int, now: datetime) -> bool:
    """Overturn the strike if nobody has yet; True if this call did, and the loaded row is refreshed."""
    result = session.execute(
        update(Strike).where(Strike.id == strike_id, Strike.overturned_at.is_(None))
        .values(overturned_at=now, overturned_by_id=by_id).execution_options(synchronize_session=False)
    )
    strike = session.get(Strike, strike_id)
    if strike is not None:
        session.refresh(strike)
    return result.rowcount == 1


def sender_strikes(session: Session, user_id: int) -> list[StrikeRecord]:
    """Every strike of a user, newest first, overturned ones included."""
    rows = session.scalars(select(Strike).where(Strike.user_id == user_id).order_by(Strike.created_at.desc(), Strike.id.desc()))
    return [StrikeRecord(s.id, s.item_id, s.created_at, s.overturned_at, s.note) for s in rows]


# --- Listing and showing -----------------------------------------------------------------------


def queue_query(status: str = "pending", kind: str | None = None, limit: int = 50):
    """The listing SELECT on the Core tables, for the console's filters and ``review show``.

    ``storage.review_queue`` holds the same statement as SQL text (what `review list` runs on the
    bare driver); a test keeps the two in agreement.
    """
    item, users = ReviewItem.__table__, User.__table__
    conversations, messages = Conversation.__table__, Message.__table__
    sender, claimant = users.alias("sender"), users.alias("claimant")
    i = item.c
    query = (
        select(i.id, i.status, i.kind, i.priority, i.score, i.high_severity, i.opened_at, i.claim_expires_at,
               i.resolved_at, sender.c.email, sender.c.external_id, claimant.c.email.label("claimant"),
               conversations.c.external_id.label("conversation"), messages.c.external_id.label("message"))
        .select_from(item)
        .join(sender, sender.c.id == i.subject_user_id)
        .join(conversations, conversations.c.id == i.conversation_id)
        .join(messages, messages.c.id == i.message_id)
        .outerjoin(claimant, claimant.c.id == i.claimed_by_id)
        .where(i.status == status)
    )
    if kind is not None:
        query = query.where(i.kind == kind)
    # Pending items come in queue order (the partial index); decided ones newest decision first.
    order = (i.priority.desc(), i.opened_at) if status == "pending" else (i.resolved_at.desc(), i.id.desc())
    return query.order_by(*order).limit(limit)


def queue_row(session: Session, item_id: int) -> QueueRow | None:
    """The listing row of one item."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        return None
    query = queue_query(item.status, None, 1).where(ReviewItem.__table__.c.id == item_id)
    return _queue_row(session.execute(query).one())


def _queue_row(row) -> QueueRow:
    return QueueRow(
        row.id, row.status, row.kind, row.priority, row.score, row.high_severity, row.email or row.external_id,
        row.external_id, row.conversation, row.message, row.opened_at, row.claimant, row.claim_expires_at,
        row.resolved_at,
    )


@dataclass(frozen=True)
class ConversationRow:
    """What staff need to recognise a conversation: the marketplace's id, subject and order id."""

    external_id: str
    subject: str | None
    order_id: str | None


def conversation_row(session: Session, conversation_id: int) -> ConversationRow:
    """The conversation's marketplace id, subject and order id."""
    conversation = session.get(Conversation, conversation_id)
    return ConversationRow(conversation.external_id, conversation.subject, conversation.order_ref)


@dataclass(frozen=True)
class MessageRow:
    """A message of a conversation: its row id (signals point at it), marketplace id, sender and text."""

    row_id: int
    external_id: str
    sender: str
    sender_id: str
    sent_at: datetime
    body: str


def message_positions(session: Session, message_ids: Sequence[int]) -> list[tuple[datetime, int]]:
    """``(sent_at, row id)`` of each message, the order messages are shown in."""
    return [tuple(row) for row in session.execute(select(Message.sent_at, Message.id).where(Message.id.in_(list(message_ids))))]


def messages_around(
    session: Session, conversation_id: int, first: tuple[datetime, int], last: tuple[datetime, int], around: int
) -> list[MessageRow]:
    """The messages from ``first`` to ``last`` (positions) with ``around`` more on each side, in order."""
    position = (Message.sent_at, Message.id)
    base = select(Message, User.email, User.external_id).join(User, User.id == Message.sender_id).where(
        Message.conversation_id == conversation_id)
    before = base.where(_before(position, first)).order_by(Message.sent_at.desc(), Message.id.desc()).limit(around)
    middle = base.where(~_before(position, first), ~_after(position, last)).order_by(Message.sent_at, Message.id)
    after = base.where(_after(position, last)).order_by(Message.sent_at, Message.id).limit(around)
    rows = list(reversed(session.execute(before).all())) + session.execute(middle).all() + session.execute(after).all()
    return [MessageRow(m.id, m.external_id, email or external_id, external_id, m.sent_at, m.body) for m, email, external_id in rows]


def _before(position, bound):
    sent_at, message_id = position
    return or_(sent_at < bound[0], and_(sent_at == bound[0], message_id < bound[1]))


def _after(position, bound):
    sent_at, message_id = position
    return or_(sent_at > bound[0], and_(sent_at == bound[0], message_id > bound[1]))


def user_label(session: Session, user_id: int | None) -> str | None:
    """The email (or marketplace id) of a user, None for no user."""
    found = person(session, user_id) if user_id is not None else None
    return found.label if found else None


# --- Detector statistics -----------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorCounts:
    """Per detector kind and version: items judged, and how many of them got each outcome."""

    items: dict[tuple[str, str], int]
    outcomes: dict[tuple[str, str], dict[str, int]]


def detector_counts(session: Session) -> DetectorCounts:
    """Items and outcomes per detector, counted in SQL.

    An item judged by several signals of one detector counts once, with its newest signal's
    outcome (``pipeline.review.detector_precision`` states the rule). Only the aggregates reach
    Python, so the report costs the same however many signals have been decided.
    """
    s = ReviewSignal.__table__.c
    group = (s.kind, s.detector_version)
    newest = select(func.max(s.id)).group_by(s.kind, s.detector_version, s.item_id)
    counts = DetectorCounts({}, {})
    for kind, version, outcome, count in session.execute(
        select(*group, s.outcome, func.count()).where(s.id.in_(newest)).group_by(*group, s.outcome)
    ):
        counts.items[(kind, version)] = counts.items.get((kind, version), 0) + count
        if outcome is not None:
            counts.outcomes.setdefault((kind, version), {})[outcome] = count
    return counts


def median_decision_seconds(session: Session) -> dict[tuple[str, str], float]:
    """Median seconds from signal to decision per detector kind and version.

    SQLite has no percentile function, so there the decision times are read and the medians
    computed in Python.
    """
    s = ReviewSignal.__table__.c
    decided = s.decided_at.is_not(None)
    if is_postgres(session):
        seconds = func.extract("epoch", s.decided_at - s.created_at)
        rows = session.execute(select(s.kind, s.detector_version, func.percentile_cont(0.5).within_group(seconds))
                               .where(decided).group_by(s.kind, s.detector_version))
        return {(kind, version): float(value) for kind, version, value in rows}
    durations: dict[tuple[str, str], list[float]] = {}
    for kind, version, created, decided_at in session.execute(
        select(ReviewSignal.kind, ReviewSignal.detector_version, ReviewSignal.created_at, ReviewSignal.decided_at).where(decided)
    ):
        durations.setdefault((kind, version), []).append((decided_at - created).total_seconds())
    return {key: value for key, values in durations.items() if (value := median(values)) is not None}


def item_refs(session: Session, item: ReviewItem) -> tuple[str, str]:
    """The marketplace's ids of an item's conversation and anchor message."""
    row = session.execute(select(Conversation.external_id, Message.external_id)
                          .join(Message, Message.conversation_id == Conversation.id)
                          .where(Message.id == item.message_id)).one()
    return row[0], row[1]


# --- What account notices quote ----------------------------------------------------------------


@dataclass(frozen=True)
class FlaggedMessage:
    """The anchor message of an item as an account notice may quote it (never sent as is).

    ``masked_body`` is the scanner's masked copy, None while the message is not scanned;
    ``body`` and ``spans`` are only for masking what the masked copy does not cover (a contact
    detail split over several messages): ``spans`` are every finding's spans on this message
    as (start, end, kind), ``split_spans`` those of conversation-scope findings.
    """

    conversation_external_id: str
    listing: str | None
    sent_at: datetime
    body: str
    masked_body: str | None
    spans: tuple[tuple[int, int, str], ...]
    split_spans: tuple[tuple[int, int, str], ...]


def flagged_message(session: Session, item_id: int) -> FlaggedMessage | None:
    """The anchor message of an item with its conversation and the findings' spans on it."""
    row = session.execute(
        select(Conversation.external_id, Conversation.subject, Message.id, Message.conversation_id, Message.sent_at,
               Message.body, Message.masked_body, Message.scanned_at)
        .select_from(ReviewItem).join(Message, Message.id == ReviewItem.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(ReviewItem.id == item_id)
    ).first()
    if row is None:
        return None
    spans: list[tuple[int, int, str]] = []
    split: list[tuple[int, int, str]] = []
    # A conversation has few findings; their spans are JSON, so they are matched here, not in SQL.
    for scope, kind, found in session.execute(select(ContactFinding.scope, ContactFinding.kind, ContactFinding.spans)
                                              .where(ContactFinding.conversation_id == row.conversation_id)):
        for span in found or []:
            if span.get("message_id") == row.id:
                spans.append((int(span["start"]), int(span["end"]), kind))
                if scope != "message":
                    split.append(spans[-1])
    masked = row.masked_body if row.scanned_at is not None else None
    return FlaggedMessage(row[0], row.subject, row.sent_at, row.body, masked, tuple(spans), tuple(split))


def active_strikes(session: Session, user_id: int, after: datetime, until: datetime) -> list[StrikeRecord]:
    """The user's strikes given in ``(after, until]`` and not overturned, oldest first."""
    rows = session.scalars(select(Strike).where(
        Strike.user_id == user_id, Strike.overturned_at.is_(None), Strike.created_at > after, Strike.created_at <= until,
    ).order_by(Strike.created_at, Strike.id))
    return [StrikeRecord(s.id, s.item_id, s.created_at, s.overturned_at, s.note) for s in rows]


def newest_strike_id(session: Session, user_id: int) -> int | None:
    """The id of the user's most recent strike, overturned or not (names one restriction episode)."""
    return session.scalar(select(func.max(Strike.id)).where(Strike.user_id == user_id))
