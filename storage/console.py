"""The staff console's storage: accounts, sessions, sign-in attempts, the audit log and the console's reads.

Like every storage module it decides no rule: the use cases in ``usecases.staff`` and
``usecases.console`` do. The one claim that must be atomic across browsers, ``claimable_item``,
locks the chosen row with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two moderators asking
for "the next item" at the same moment get different rows; the use case then claims it with
the queue's optimistic version check, which also covers SQLite (one writer at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, or_, select, true, update
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.models import (
    Attachment,
    AuditEntry,
    Conversation,
    Message,
    ReviewItem,
    SignInAttempt,
    StaffAccount,
    StaffSession,
    TranscriptRequest,
    User,
)
from storage.review import QueueRow, _queue_row, queue_query

# --- Accounts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    """A staff member as the console sees them; ``role`` is None for staff without a console account."""

    user_id: int
    external_id: str
    name: str
    email: str | None
    role: str | None
    password_hash: str | None


def _account_query():
    return select(User, StaffAccount).outerjoin(StaffAccount, StaffAccount.user_id == User.id)


def _account(user: User, account: StaffAccount | None) -> AccountRow:
    return AccountRow(user.id, user.external_id, user.name, user.email, account.role if account else None,
                      account.password_hash if account else None)


def account_by_email(session: Session, email: str) -> AccountRow | None:
    """The staff member with this email (case-insensitive; the oldest such user)."""
    row = session.execute(_account_query().where(func.lower(User.email) == email.strip().lower(), User.role == "staff")
                          .order_by(User.id).limit(1)).first()
    return _account(*row) if row else None


def account_by_external_id(session: Session, external_id: str) -> AccountRow | None:
    """The staff member with this marketplace id."""
    row = session.execute(_account_query().where(User.external_id == external_id.strip(), User.role == "staff")).first()
    return _account(*row) if row else None


def account_by_user(session: Session, user_id: int) -> AccountRow | None:
    """The staff member with this user row id."""
    row = session.execute(_account_query().where(User.id == user_id, User.role == "staff")).first()
    return _account(*row) if row else None


def list_accounts(session: Session) -> list[AccountRow]:
    """Every staff user, by email."""
    rows = session.execute(_account_query().where(User.role == "staff").order_by(func.lower(User.email), User.id))
    return [_account(user, account) for user, account in rows]


def save_account(session: Session, user_id: int, role: str, password_hash: str | None, now: datetime) -> None:
    """Create or update the console account of a user; a None hash keeps the current one."""
    account = session.scalar(select(StaffAccount).where(StaffAccount.user_id == user_id))
    if account is None:
        session.add(StaffAccount(user_id=user_id, role=role, password_hash=password_hash, created_at=now))
    else:
        account.role = role
        if password_hash is not None:
            account.password_hash = password_hash
    session.flush()


def delete_account(session: Session, user_id: int) -> None:
    """Remove the console account (the user row stays: history and strikes point at it)."""
    session.execute(delete(StaffAccount).where(StaffAccount.user_id == user_id))


# --- Sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    """A live-or-not browser session with its staff member."""

    id: int
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None


def insert_session(session: Session, token_sha256: str, user_id: int, csrf_token: str, now: datetime, address: str | None) -> None:
    session.add(StaffSession(token_sha256=token_sha256, user_id=user_id, csrf_token=csrf_token, created_at=now,
                             last_seen_at=now, address=address))
    session.flush()


def session_by_token(session: Session, token_sha256: str) -> SessionRow | None:
    row = session.scalar(select(StaffSession).where(StaffSession.token_sha256 == token_sha256))
    if row is None:
        return None
    return SessionRow(row.id, row.user_id, row.csrf_token, row.created_at, row.last_seen_at, row.ended_at)


def touch_session(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now))


def end_session(session: Session, session_id: int, now: datetime) -> None:
    session.execute(update(StaffSession).where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
                    .values(ended_at=now))


def end_sessions_of(session: Session, user_id: int, now: datetime) -> int:
    result = session.execute(update(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
                             .values(ended_at=now))
    return result.rowcount


# --- Sign-in attempts --------------------------------------------------------------------------


def add_attempt(session: Session, email: str, address: str, now: datetime, succeeded: bool) -> None:
    session.add(SignInAttempt(email=email.strip().lower()[:320], address=address[:64], at=now, succeeded=succeeded))


def failures_since(session: Session, since: datetime, email: str | None = None, address: str | None = None) -> int:
    """Failed attempts after ``since`` for this email (or from this address)."""
    query = select(func.count()).select_from(SignInAttempt).where(SignInAttempt.at > since, SignInAttempt.succeeded.is_(False))
    if email is not None:
        query = query.where(SignInAttempt.email == email.strip().lower())
    if address is not None:
        query = query.where(SignInAttempt.address == address)
    return session.scalar(query) or 0


# --- Audit log ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    detail: dict[str, Any] | None
    sha256: str | None
    address: str | None
    note: str | None


def add_audit(session: Session, now: datetime, actor: str, action: str, subject: str | None = None,
              detail: dict[str, Any] | None = None, sha256: str | None = None, address: str | None = None,
              note: str | None = None) -> None:
    """Append one audit line (the table refuses updates and deletes)."""
    session.add(AuditEntry(at=now, actor=actor, action=action, subject=subject, detail=detail, sha256=sha256,
                           address=address, note=note))
    session.flush()


def audit_rows(session: Session, limit: int = 200, action: str | None = None, actor: str | None = None) -> list[AuditRow]:
    """The newest audit lines first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(func.lower(AuditEntry.actor) == actor.strip().lower())
    return [AuditRow(a.id, a.at, a.actor, a.action, a.subject, a.detail, a.sha256, a.address, a.note)
            for a in session.scalars(query)]


# --- Queue -------------------------------------------------------------------------------------


def _not_about(session: Session, email: str | None, external_id: str):
    """A WHERE clause: neither party of the item's conversation is this person."""
    # The person's user rows first (a few, by the external-id and lower(email) indexes), then
    # their conversations by the buyer and seller indexes, so a claim scans neither table.
    who = User.external_id == external_id
    if email:
        who = or_(who, func.lower(User.email) == email.lower())
    mine = list(session.scalars(select(User.id).where(who)))
    if not mine:
        return true()
    about_me = select(Conversation.id).where(or_(Conversation.buyer_id.in_(mine), Conversation.seller_id.in_(mine)))
    return ReviewItem.conversation_id.not_in(about_me)


def claimable_item(session: Session, now: datetime, email: str | None, external_id: str, kind: str | None = None) -> int | None:
    """The first pending, unclaimed (or claim expired) item not about this person, row-locked (SKIP LOCKED)."""
    query = (
        select(ReviewItem.id)
        .where(ReviewItem.status == "pending",
               or_(ReviewItem.claimed_by_id.is_(None), ReviewItem.claim_expires_at <= now),
               _not_about(session, email, external_id))
        .order_by(ReviewItem.priority.desc(), ReviewItem.opened_at, ReviewItem.id)
        .limit(1)
    )
    if kind:
        query = query.where(ReviewItem.kind == kind)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=ReviewItem)
    return session.scalar(query)


def pending_items_in_conversation(session: Session, conversation_id: int, subject_user_id: int, lock: bool = False) -> list[int]:
    """The pending items of one sender in one conversation, oldest first; row-locked with ``lock`` (PostgreSQL)."""
    query = (select(ReviewItem.id)
             .where(ReviewItem.conversation_id == conversation_id, ReviewItem.subject_user_id == subject_user_id,
                    ReviewItem.status == "pending")
             .order_by(ReviewItem.opened_at, ReviewItem.id))
    if lock and is_postgres(session):
        query = query.with_for_update(of=ReviewItem)
    return list(session.scalars(query))


def console_queue(session: Session, status: str, kind: str | None, claimed: str | None, user_id: int, now: datetime,
                  limit: int = 100) -> list[QueueRow]:
    """The queue listing with the console's filters: ``claimed`` is None, ``"mine"`` or ``"unclaimed"``."""
    query = queue_query(status, kind, limit)
    if claimed == "mine":
        query = query.where(ReviewItem.claimed_by_id == user_id, ReviewItem.claim_expires_at > now)
    elif claimed == "unclaimed":
        query = query.where(or_(ReviewItem.claimed_by_id.is_(None), ReviewItem.claim_expires_at <= now))
    return [_queue_row(row) for row in session.execute(query)]


@dataclass(frozen=True)
class PendingKind:
    kind: str
    count: int
    oldest: datetime


def pending_by_kind(session: Session) -> list[PendingKind]:
    """Pending items per kind, with the oldest one's opening time; largest first."""
    query = (select(ReviewItem.kind, func.count(), func.min(ReviewItem.opened_at)).where(ReviewItem.status == "pending")
             .group_by(ReviewItem.kind).order_by(func.count().desc(), ReviewItem.kind))
    return [PendingKind(kind, count, oldest) for kind, count, oldest in session.execute(query)]


def pending_opened_after(session: Session, bounds: list[datetime]) -> list[int]:
    """For each bound, how many pending items were opened after it (one scan of the pending items)."""
    if not bounds:
        return []
    counts = [func.coalesce(func.sum(case((ReviewItem.opened_at > bound, 1), else_=0)), 0) for bound in bounds]
    return [int(n) for n in session.execute(select(*counts).where(ReviewItem.status == "pending")).one()]


def external_ids(session: Session, user_ids: list[int]) -> dict[int, str]:
    """The marketplace ids of these users, by row id."""
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.external_id).where(User.id.in_(user_ids))).all())


def items_of_user(session: Session, user_id: int, limit: int = 20) -> list[QueueRow]:
    """The user's most recent review items, any status."""
    ids = list(session.scalars(select(ReviewItem.id).where(ReviewItem.subject_user_id == user_id)
                               .order_by(ReviewItem.opened_at.desc(), ReviewItem.id.desc()).limit(limit)))
    rows: list[QueueRow] = []
    for item_id in ids:
        item = session.get(ReviewItem, item_id)
        rows.append(_queue_row(session.execute(queue_query(item.status, None, 1).where(ReviewItem.id == item_id)).one()))
    return rows


# --- Conversations and people ------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    external_id: str
    subject: str | None
    order_id: str | None
    buyer_id: int
    seller_id: int
    messages: int


def _summaries(session: Session, where) -> list[ConversationSummary]:
    # A correlated count per conversation found (an index-only range scan each); a grouped
    # subquery over all messages would count every conversation's messages on every call.
    count = select(func.count()).where(Message.conversation_id == Conversation.id).scalar_subquery()
    rows = session.execute(select(Conversation, count).where(where).order_by(Conversation.external_id).limit(50))
    return [ConversationSummary(c.id, c.external_id, c.subject, c.order_ref, c.buyer_id, c.seller_id, n) for c, n in rows]


def search_conversations(session: Session, query: str) -> list[ConversationSummary]:
    """Conversations whose id or order id is ``query``, or whose buyer or seller has this id or email."""
    q = query.strip()
    people = select(User.id).where(or_(User.external_id == q, func.lower(User.email) == q.lower()))
    return _summaries(session, or_(Conversation.external_id == q, Conversation.order_ref == q,
                                   Conversation.buyer_id.in_(people), Conversation.seller_id.in_(people)))


def conversation_summary(session: Session, external_id: str) -> ConversationSummary | None:
    found = _summaries(session, Conversation.external_id == external_id)
    return found[0] if found else None


def conversations_of_user(session: Session, user_id: int) -> list[ConversationSummary]:
    return _summaries(session, or_(Conversation.buyer_id == user_id, Conversation.seller_id == user_id))


def user_id_by_external_id(session: Session, external_id: str) -> int | None:
    return session.scalar(select(User.id).where(User.external_id == external_id))


@dataclass(frozen=True)
class ShownMessage:
    row_id: int
    external_id: str
    sender_id: str
    sent_at: datetime
    body: str
    masked_body: str | None


def masked_bodies(session: Session, message_ids: list[int]) -> dict[int, str | None]:
    """The masked copy of each message (None until it was scanned)."""
    return dict(session.execute(select(Message.id, Message.masked_body).where(Message.id.in_(message_ids))).all())


def conversation_messages(session: Session, conversation_id: int, limit: int = 200) -> list[ShownMessage]:
    """The conversation's last ``limit`` messages in order."""
    rows = session.execute(
        select(Message, User.external_id).join(User, User.id == Message.sender_id)
        .where(Message.conversation_id == conversation_id).order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)
    ).all()
    return [ShownMessage(m.id, m.external_id, ext, m.sent_at, m.body, m.masked_body) for m, ext in reversed(rows)]


@dataclass(frozen=True)
class TranscriptRow:
    id: int
    status: str
    requested_by: str
    requested_at: datetime
    pdf_sha256: str | None
    pages: int | None


def transcript_requests(session: Session, conversation_id: int, limit: int = 20) -> list[TranscriptRow]:
    rows = session.scalars(select(TranscriptRequest).where(TranscriptRequest.conversation_id == conversation_id)
                           .order_by(TranscriptRequest.id.desc()).limit(limit))
    return [TranscriptRow(r.id, r.status, r.requested_by, r.requested_at, r.pdf_sha256, r.pages) for r in rows]


# --- Attachments (photos on the item page) -----------------------------------------------------


@dataclass(frozen=True)
class AttachmentRow:
    message_row_id: int
    message_id: str
    position: int
    original_name: str
    content_type: str
    size: int
    sha256: str
    blob_key: str


def _attachment_rows(query) -> list[AttachmentRow]:
    return [AttachmentRow(*row) for row in query]


def _attachment_query():
    return (select(Attachment.message_id, Message.external_id, Attachment.position, Attachment.original_name,
                   Attachment.content_type, Attachment.size, Attachment.sha256, Attachment.blob_key)
            .join(Message, Message.id == Attachment.message_id))


def attachments_of(session: Session, message_ids: list[int]) -> dict[int, list[AttachmentRow]]:
    """The attachments of these messages (by message row id), in their order in the message."""
    found: dict[int, list[AttachmentRow]] = {}
    if not message_ids:
        return found
    query = _attachment_query().where(Attachment.message_id.in_(message_ids)).order_by(Attachment.message_id, Attachment.position)
    for row in _attachment_rows(session.execute(query)):
        found.setdefault(row.message_row_id, []).append(row)
    return found


def attachment_in_conversation(session: Session, conversation_id: int, message_external_id: str, position: int) -> AttachmentRow | None:
    """One attachment, only if its message belongs to this conversation."""
    query = _attachment_query().where(Message.conversation_id == conversation_id, Message.external_id == message_external_id,
                                      Attachment.position == position)
    rows = _attachment_rows(session.execute(query))
    return rows[0] if rows else None
