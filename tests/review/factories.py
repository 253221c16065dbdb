"""Small builders for review tests: users, a conversation, messages and stored findings."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from storage.models import ContactFinding, Conversation, Message, User

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def user(session, name: str, role: str = "member", email: str | None = None) -> User:
    """A stored user; the email defaults to <name>@example.com."""
    row = User(external_id=f"u-{name}-{uuid.uuid4().hex[:6]}", name=name, email=email or f"{name}@example.com",
               timezone="UTC", away=False, role=role, restricted=False)
    session.add(row)
    session.flush()
    return row


def conversation(session, buyer: User, seller: User) -> Conversation:
    row = Conversation(external_id=f"c-{uuid.uuid4().hex[:8]}", buyer_id=buyer.id, seller_id=seller.id, subject="1 oz Gold Eagle")
    session.add(row)
    session.flush()
    return row


def message(session, conv: Conversation, sender: User, body: str, minute: int) -> Message:
    at = T0 + timedelta(minutes=minute)
    row = Message(external_id=f"m-{uuid.uuid4().hex[:8]}", conversation_id=conv.id, sender_id=sender.id, body=body,
                  sent_at=at, recorded_at=at)
    session.add(row)
    session.flush()
    return row


def finding(session, msg: Message, kind: str, value: str, score: float = 0.9, start: int = 0, end: int | None = None,
            version: str = "2026.11.1", window: list[Message] | None = None) -> ContactFinding:
    """A stored finding on one message, or (with ``window``) across several messages."""
    messages = window or [msg]
    spans = [{"message_id": m.id, "start": start, "end": end if end is not None else len(m.body)} for m in messages]
    row = ContactFinding(
        fingerprint=uuid.uuid4().hex, conversation_id=msg.conversation_id, message_id=max(m.id for m in messages),
        scope="conversation" if window else "message", kind=kind, value=value, match=msg.body[start:end],
        score=score, detector_version=version, spans=spans, message_ids=sorted(m.id for m in messages), found_at=T0,
    )
    session.add(row)
    session.flush()
    return row


class Marketplace:
    """A staff member, a buyer and a seller in one conversation: the usual review test cast."""

    def __init__(self, session) -> None:
        self.staff = user(session, "ana", role="staff", email="ana@peermetals.com")
        self.other_staff = user(session, "bo", role="staff", email="bo@peermetals.com")
        self.buyer = user(session, "buyer")
        self.seller = user(session, "seller")
        self.conv = conversation(session, self.buyer, self.seller)
        self.minute = 0

    def say(self, session, sender: User, body: str) -> Message:
        self.minute += 1
        return message(session, self.conv, sender, body, self.minute)
