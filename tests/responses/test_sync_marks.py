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


def test_a_batch_marks_every_message_of_its_conversations_it_loaded(app, monkeypatch):
    """Each conversation is recomputed from all its messages, so one batch covers them all."""
    from storage import responses as storage_responses

    factory = app.session_factory
    with transaction(factory) as s:
        buyer, seller = user(s, "B", "b@example.com"), user(s, "S", "s@example.com")
        first, second = conversation(s, buyer, seller), conversation(s, buyer, seller)
        # Interleaved, as an import in time order writes them: a batch of two sees both conversations.
        for step in range(4):
            message(s, first, buyer if step % 2 == 0 else seller, hours(step))
            message(s, second, buyer, hours(step))
    loads = []
    real = storage_responses.load_timelines
    monkeypatch.setattr(storage_responses, "load_timelines", lambda s, ids: loads.append(sorted(set(ids))) or real(s, ids))
    counts = sync_new_messages(app, hours(5), batch_size=2)
    assert counts["messages"] == 8
    assert loads == [sorted({first.id, second.id})]
    with factory() as s:
        assert s.scalar(select(Message.id).where(Message.deadline_synced_at.is_(None))) is None
        rows = s.execute(select(ResponseDeadline.conversation_id, ResponseDeadline.answered_at)
                         .order_by(ResponseDeadline.id)).all()
    # first: buyer at 0 answered at 1, buyer at 2 answered at 3; second: one open deadline from 0.
    assert sorted((c, a is not None) for c, a in rows) == sorted([(first.id, True), (first.id, True), (second.id, False)])
    assert sync_new_messages(app, hours(6))["messages"] == 0
