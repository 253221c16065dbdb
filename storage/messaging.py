"""Users, conversations, messages and attachments: lookups by the marketplace's ids, inserts, updates.

The importer (``usecases.importing``) decides what to write; these functions only read and write,
and translate database refusals into ``StorageRefused`` so callers need not know SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import is_postgres
from storage.models import Attachment, Conversation, ConversationRead, Message, User


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


@contextmanager
def unit_of_work(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One committed transaction; a failed commit raises StorageRefused."""
    try:
        with session_factory() as session, session.begin():
            yield session
    except SQLAlchemyError as exc:
        raise StorageRefused(f"the commit failed: {type(exc).__name__}") from exc


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A nested transaction: an error inside undoes only what was written inside."""
    try:
        with session.begin_nested():
            yield
    except SQLAlchemyError as exc:
        raise StorageRefused(f"database refused it: {type(exc).__name__}") from exc


def user_id(session: Session, external_id: str) -> int | None:
    return session.scalar(select(User.id).where(User.external_id == external_id))


def conversation(session: Session, external_id: str) -> ConversationRef | None:
    row = session.execute(select(Conversation.id, Conversation.buyer_id, Conversation.seller_id)
                          .where(Conversation.external_id == external_id)).first()
    return ConversationRef(*row) if row else None


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
    dialect = postgresql if is_postgres(session) else sqlite
    inserted = session.scalar(
        dialect.insert(ConversationRead).values(conversation_id=conversation_id, user_id=user_id, last_read_at=at)
        .on_conflict_do_nothing(index_elements=["conversation_id", "user_id"]).returning(ConversationRead.user_id)
    )
    if inserted is not None:
        return True
    return bool(session.execute(
        update(ConversationRead)
        .where(ConversationRead.conversation_id == conversation_id, ConversationRead.user_id == user_id,
               ConversationRead.last_read_at < at)
        .values(last_read_at=at).execution_options(synchronize_session=False)
    ).rowcount)


def last_read_at(session: Session, conversation_id: int, user_id: int) -> datetime | None:
    return session.scalar(select(ConversationRead.last_read_at).where(
        ConversationRead.conversation_id == conversation_id, ConversationRead.user_id == user_id))
