"""The deadline sync marks each message, so a message committed late with a lower id is not lost."""

from __future__ import annotations

from sqlalchemy import select, update

from storage.db import transaction
from storage.models import Message, ResponseDeadline
from storage.models.responses import ResponseSyncCursor
from tests.responses.factories import conversation, hours, message, user
from usecases.responses import sync_new_messages


def test_a_lower_id_committed_after_a_sync_still_gets_its_deadline(app):
    factory = app.session_factory
    with transaction(factory) as s:
        buyer, seller = user(s, "B", "b@example.com"), user(s, "S", "s@example.com")
        early = conversation(s, buyer, seller)
        late = conversation(s, buyer, seller)
        # Two importers: the one holding the lower id commits after the other was synced.
        slow = message(s, early, buyer, hours(0))
        fast = message(s, late, buyer, hours(0))
        s.execute(update(Message).where(Message.id == slow.id).values(deadline_synced_at=None))
        s.execute(update(Message).where(Message.id == fast.id).values(deadline_synced_at=hours(0)))
        # The earlier sync read past the higher id, as a high-water cursor would remember.
        s.add(ResponseSyncCursor(id=1, last_message_id=max(slow.id, fast.id)))
    counts = sync_new_messages(app, hours(0.5))
    assert counts["messages"] == 1
    with factory() as s:
        conversations = set(s.scalars(select(ResponseDeadline.conversation_id)))
        assert early.id in conversations
        assert s.scalar(select(Message.deadline_synced_at).where(Message.id == slow.id)) is not None
    assert sync_new_messages(app, hours(0.6))["messages"] == 0
