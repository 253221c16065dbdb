"""The importer's message COPY in a helper thread (``insert_new_messages_meanwhile``), on PostgreSQL.

The main thread plans the notification rows with the ids the COPY gives while the server stores
the messages; a repeat among them drops that plan, and an error in it leaves nothing written.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from storage import messaging as store
from storage.db import make_engine
from tests.conftest import ADMIN_URL
from tests.scratch_db import scratch_database

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def session_factory():
    with scratch_database(ADMIN_URL, f"pg_meanwhile_{uuid.uuid4().hex[:8]}") as url:
        engine = make_engine(url)
        try:
            factory = sessionmaker(engine)
            with factory() as session, session.begin():
                store.insert_rows(session, "user", [{"external_id": "u-1", "name": "A", "email": None},
                                                    {"external_id": "u-2", "name": "B", "email": None}])
                users = store.user_ids(session, ["u-1", "u-2"])
                store.insert_rows(session, "conversation", [{"external_id": "c-1", "buyer_id": users["u-1"],
                                                             "seller_id": users["u-2"], "subject": None, "order_ref": None}])
            yield factory
        finally:
            engine.dispose()


def _messages(session, names):
    conversation = store.conversations_by_external_id(session, ["c-1"])["c-1"][0]
    return [store.NewMessage(name, conversation.id, conversation.buyer_id, f"text {name}", NOW + timedelta(minutes=i))
            for i, name in enumerate(names)]


def _stored(session):
    return dict(session.execute(text("SELECT external_id, id FROM messages")).all())


def test_meanwhile_runs_while_the_copy_does_and_sees_the_ids_stored(session_factory):
    seen = []

    def meanwhile(ids):
        seen.append((dict(ids), threading.current_thread() is threading.main_thread(),
                     any(t.name == "message-copy" for t in threading.enumerate())))
        return "planned"

    with session_factory() as session, session.begin():
        messages = _messages(session, [f"m-{i}" for i in range(100)])
        assert store.copies_messages(session, len(messages))
        inserted, answer = store.insert_new_messages_meanwhile(session, messages, NOW, meanwhile)
    assert answer == "planned"
    [(ids, in_main_thread, copy_thread_seen)] = seen
    assert in_main_thread and copy_thread_seen
    assert ids == inserted
    assert list(ids.values()) == sorted(ids.values())  # ascending in the messages' order
    with session_factory() as session:
        assert _stored(session) == inserted


def test_a_repeat_drops_the_plan_and_inserts_the_others(session_factory):
    with session_factory() as session, session.begin():
        first, _ = store.insert_new_messages_meanwhile(session, _messages(session, [f"m-{i}" for i in range(70)]), NOW, None)
    calls = []
    with session_factory() as session, session.begin():
        # m-69 is stored already: the COPY is refused, its savepoint rolled back, the scratch-table insert runs.
        inserted, answer = store.insert_new_messages_meanwhile(
            session, _messages(session, [f"m-{i}" for i in range(69, 140)]), NOW, lambda ids: calls.append(ids) or "planned")
    assert answer is None
    assert len(calls) == 1 and "m-69" in calls[0]  # it was planned with every message, then dropped
    assert set(inserted) == {f"m-{i}" for i in range(70, 140)}
    with session_factory() as session:
        assert _stored(session) == {**first, **inserted}


def test_an_error_while_planning_leaves_no_message(session_factory):
    def meanwhile(ids):
        raise RuntimeError("planning failed")

    with session_factory() as session, session.begin():
        with pytest.raises(RuntimeError, match="planning failed"):
            store.insert_new_messages_meanwhile(session, _messages(session, [f"m-{i}" for i in range(80)]), NOW, meanwhile)
        # The COPY's savepoint is rolled back and the session goes on.
        assert _stored(session) == {}
        inserted = store.insert_new_messages(session, _messages(session, ["m-x"] * 1), NOW)
    with session_factory() as session:
        assert _stored(session) == inserted


def test_ids_that_are_not_consecutive_are_drawn_and_used_as_the_sequence_gives_them(session_factory):
    """Another writer's draw between ours leaves gaps: every id the sequence gave is sent back, in order.

    (Consecutive ids travel as their first and last only.) An increment of 3 makes every draw scattered.
    """
    with session_factory() as session, session.begin():
        session.execute(text("ALTER SEQUENCE messages_id_seq INCREMENT BY 3"))
    with session_factory() as session, session.begin():
        messages = _messages(session, [f"m-{i}" for i in range(100)])
        inserted, _ = store.insert_new_messages_meanwhile(session, messages, NOW, None)
    ids = [inserted[f"m-{i}"] for i in range(100)]
    assert [b - a for a, b in zip(ids, ids[1:], strict=False)] == [3] * 99
    with session_factory() as session:
        assert _stored(session) == inserted


def test_consecutive_ids_come_from_the_sequence_and_later_inserts_follow_them(session_factory):
    with session_factory() as session, session.begin():
        inserted, _ = store.insert_new_messages_meanwhile(session, _messages(session, [f"m-{i}" for i in range(100)]), NOW,
                                                          None)
        ids = [inserted[f"m-{i}"] for i in range(100)]
        assert ids == list(range(ids[0], ids[0] + 100))
        # The sequence moved past them: the next row the table numbers itself does not collide.
        later = store.insert_message(session, "m-later", *_messages(session, ["x"])[0][1:3], "later", NOW, NOW, [])
        assert later > ids[-1]
