"""Small factories for marketplace rows used by the response-time tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from storage.models import Conversation, Message, User

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def user(session: Session, name: str, email: str | None = None, tz: str = "UTC", away: bool = False) -> User:
    row = User(external_id=f"u{next(_ids)}", name=name, email=email, timezone=tz, away=away)
    session.add(row)
    session.flush()
    return row


def conversation(session: Session, buyer: User, seller: User) -> Conversation:
    row = Conversation(external_id=f"c{next(_ids)}", buyer_id=buyer.id, seller_id=seller.id)
    session.add(row)
    session.flush()
    return row


def message(session: Session, conv: Conversation, sender: User, at: datetime, body: str = "hello") -> Message:
    row = Message(external_id=f"m{next(_ids)}", conversation_id=conv.id, sender_id=sender.id, body=body,
                  sent_at=at, recorded_at=at)
    session.add(row)
    session.flush()
    return row


def sweep_and_deliver(app, now):
    """The response sweep as of ``now``, then mail delivery: what a scheduler tick does for reminders."""
    from usecases.notices import deliver_outbox
    from usecases.responses import sweep

    return {**sweep(app, now), **{f"mail_{k}": v for k, v in deliver_outbox(app, now).items()}}
