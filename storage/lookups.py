"""Read-only views by the marketplace's ids, for the HTTP API: one message, one user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from storage.models import ContactFinding, Conversation, Message, ReviewItem, Strike, User


@dataclass(frozen=True)
class MessageView:
    """A stored message as the API shows it (external ids only)."""

    id: str
    conversation: str
    sender: str
    sent_at: datetime
    scanned: bool
    masked_text: str | None
    findings: list[dict[str, Any]]
    review: list[dict[str, Any]]


def message_view(session: Session, external_id: str) -> MessageView | None:
    sender = aliased(User)
    row = session.execute(
        select(Message, Conversation.external_id, sender.external_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(sender, sender.id == Message.sender_id)
        .where(Message.external_id == external_id)
    ).first()
    if row is None:
        return None
    message, conversation, sender_id = row
    findings = session.scalars(select(ContactFinding).where(ContactFinding.message_id == message.id)
                               .order_by(ContactFinding.id))
    items = session.scalars(select(ReviewItem).where(ReviewItem.message_id == message.id).order_by(ReviewItem.id))
    return MessageView(
        message.external_id, conversation, sender_id, message.sent_at, message.scanned_at is not None,
        message.masked_body if message.scanned_at is not None else None,
        [{"kind": f.kind, "value": f.value, "score": round(f.score, 3), "scope": f.scope,
          "detector_version": f.detector_version} for f in findings],
        [{"item": i.id, "status": i.status, "kind": i.kind, "opened_at": i.opened_at.isoformat(),
          "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None} for i in items],
    )


@dataclass(frozen=True)
class UserView:
    """A user's standing: strikes in the window, restriction, email (for response statistics)."""

    id: str
    name: str
    email: str | None
    restricted: bool
    active_strikes: int
    strikes: list[dict[str, Any]]


def user_view(session: Session, external_id: str, now: datetime, window_start: datetime) -> UserView | None:
    user = session.scalar(select(User).where(User.external_id == external_id))
    if user is None:
        return None
    strikes = session.scalars(select(Strike).where(Strike.user_id == user.id).order_by(Strike.created_at.desc()))
    listed = [{"strike": s.id, "created_at": s.created_at.isoformat(), "review_item": s.item_id,
               "overturned_at": s.overturned_at.isoformat() if s.overturned_at else None} for s in strikes]
    active = session.scalar(select(func.count()).select_from(Strike).where(
        Strike.user_id == user.id, Strike.overturned_at.is_(None), Strike.created_at > window_start,
        Strike.created_at <= now)) or 0
    return UserView(user.external_id, user.name, user.email, bool(user.restricted), active, listed)
