"""Migration 0011 on SQLite and PostgreSQL: overlapping pending items of a conversation become one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from storage import migrations
from storage.db import make_engine
from storage.models import ReviewHistory, ReviewItem, ReviewSignal, Strike
from tests.review.factories import T0, conversation, message, user

# review_items as the 0010 schema has it (the model has columns 0010 lacks).
ITEMS = sa.table(
    "review_items", *(sa.column(name) for name in (
        "id", "target_key", "conversation_id", "message_id", "subject_user_id", "kind", "status", "score", "priority",
        "high_severity", "resolution_note", "version")),
    sa.column("resolved_at", sa.DateTime(timezone=True)), sa.column("opened_at", sa.DateTime(timezone=True)),
)


# contact_findings as the 0010 schema has it (later migrations add attachment columns to the model).
FINDINGS = sa.table(
    "contact_findings", *(sa.column(name) for name in (
        "id", "fingerprint", "conversation_id", "message_id", "scope", "kind", "value", "match", "score",
        "detector_version")),
    sa.column("spans", sa.JSON), sa.column("message_ids", sa.JSON), sa.column("found_at", sa.DateTime(timezone=True)),
)


def finding(session, msg, kind, value, score=0.9, version="2026.11.1", window=None):
    """A stored finding written with the 0010 columns only (the ORM model has later ones)."""
    messages = window or [msg]
    row = dict(fingerprint=uuid.uuid4().hex, conversation_id=msg.conversation_id, message_id=max(m.id for m in messages),
               scope="conversation" if window else "message", kind=kind, value=value, match=msg.body, score=score,
               detector_version=version, spans=[{"message_id": m.id, "start": 0, "end": len(m.body)} for m in messages],
               message_ids=sorted(m.id for m in messages), found_at=T0)
    session.execute(FINDINGS.insert().values(**row))
    row["id"] = session.execute(sa.select(FINDINGS.c.id).where(FINDINGS.c.fingerprint == row["fingerprint"])).scalar_one()
    return SimpleNamespace(**row)


def _item(session, item_id, key, msg, kind, status="pending", opened=T0, priority=100.0, score=0.5):
    session.execute(ITEMS.insert().values(
        id=item_id, target_key=key, conversation_id=msg.conversation_id, message_id=msg.id, subject_user_id=msg.sender_id,
        kind=kind, status=status, score=score, priority=priority, high_severity=False, opened_at=opened, version=2,
        resolved_at=None if status == "pending" else T0, resolution_note=None))


def _signal(session, item_id, found):
    session.add(ReviewSignal(item_id=item_id, finding_id=found.id, kind=found.kind, value=found.value,
                             detector_version=found.detector_version, score=found.score, spans=found.spans, created_at=T0))


def test_upgrade_merges_overlapping_pending_items_and_downgrade_keeps_the_structure(db_url):
    migrations.downgrade(db_url, "0010")
    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            seller, buyer = user(session, "seller"), user(session, "buyer")
            conv, other_conv = conversation(session, buyer, seller), conversation(session, buyer, seller)
            m1, m2, m3, m4 = (message(session, conv, seller, text, n) for n, text in
                              enumerate(["my cell is 415", "555", "0199 text me", "zelle me"], start=1))
            elsewhere = message(session, other_conv, seller, "text me", 9)
            window = finding(session, m3, "phone", "+14155550199", window=[m1, m2, m3])
            intent = finding(session, m3, "intent", "contact_me")
            zelle = finding(session, m4, "payment", "zelle")
            far = finding(session, elsewhere, "intent", "contact_me")
            old = finding(session, m1, "intent", "call_me", version="2026.10.1")
            _item(session, 1, f"window:{m1.id},{m2.id},{m3.id}", m3, "phone", opened=T0 + timedelta(hours=1), priority=210.0)
            _item(session, 2, f"message:{m3.id}", m3, "intent", opened=T0, priority=110.0)  # reopened: has a strike
            _item(session, 3, f"message:{m4.id}", m4, "payment")
            _item(session, 4, f"message:{elsewhere.id}", elsewhere, "intent")
            _item(session, 5, f"message:{m1.id}:old", m1, "intent", status="confirmed")
            session.flush()
            for item_id, found in ((1, window), (2, intent), (3, zelle), (4, far), (5, old)):
                _signal(session, item_id, found)
            session.add_all([Strike(user_id=seller.id, item_id=2, created_at=T0), Strike(user_id=seller.id, item_id=5, created_at=T0)])
            session.add_all([ReviewHistory(item_id=i, action="opened", at=T0) for i in range(1, 6)])
            ids = {"m1": m1.id, "m2": m2.id, "m3": m3.id, "m4": m4.id}
            found = {"window": window.id, "intent": intent.id, "zelle": zelle.id, "far": far.id, "old": old.id}
    finally:
        engine.dispose()

    migrations.upgrade(db_url)

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            items = {row.id: row for row in conn.execute(select(
                ReviewItem.id, ReviewItem.status, ReviewItem.kind, ReviewItem.priority, ReviewItem.opened_at,
                ReviewItem.merged_into_id))}
            item_messages = conn.execute(sa.text("SELECT item_id, message_id FROM review_item_messages")).all()
            signals = dict(conn.execute(select(ReviewSignal.finding_id, ReviewSignal.item_id)).all())
            strikes = sorted(conn.execute(select(Strike.item_id)).scalars())
            history = conn.execute(select(ReviewHistory.item_id, ReviewHistory.action, ReviewHistory.note)
                                   .order_by(ReviewHistory.id)).all()
        # Items 1 and 2 share m3: 2 survives (it gave a strike) and takes 1's signals and messages.
        assert (items[1].status, items[1].merged_into_id) == ("merged", 2)
        assert (items[2].status, items[2].kind, items[2].priority) == ("pending", "phone", 210.0)
        assert items[2].opened_at == T0  # the longest-waiting item's age
        assert [items[i].status for i in (3, 4, 5)] == ["pending", "pending", "confirmed"]
        assert signals == {found["window"]: 2, found["intent"]: 2, found["zelle"]: 3, found["far"]: 4, found["old"]: 5}
        assert strikes == [2, 5]
        assert sorted(m for i, m in item_messages if i == 2) == [ids["m1"], ids["m2"], ids["m3"]]
        assert [m for i, m in item_messages if i == 1] == []
        assert [m for i, m in item_messages if i == 5] == [ids["m1"]]  # decided items are not merged
        assert (2, "merged", "items 1 merged into this one (same incident; migration 0011)") in history
        assert (1, "merged", "merged into item 2 (same incident; migration 0011)") in history
        # SQLite rebuilds review_items; nothing that references it is lost on the way.
        assert [(i, a) for i, a, _ in history[:5]] == [(i, "opened") for i in range(1, 6)]
    finally:
        engine.dispose()

    migrations.downgrade(db_url, "0010")
    engine = make_engine(db_url)
    try:
        assert "review_item_messages" not in inspect(engine).get_table_names()
        assert "merged_into_id" not in {c["name"] for c in inspect(engine).get_columns("review_items")}
        with engine.connect() as conn:
            merged = conn.execute(sa.text("SELECT status, resolution_note FROM review_items WHERE id = 1")).one()
            signals_after = dict(conn.execute(sa.text("SELECT finding_id, item_id FROM review_signals")).all())
            strikes_after = sorted(conn.execute(sa.text("SELECT item_id FROM strikes")).scalars())
            history_after = conn.execute(sa.text("SELECT count(*) FROM review_history")).scalar()
        assert tuple(merged) == ("ignored", "merged into item 2")
        assert signals_after == signals  # the merge itself is not undone
        assert (strikes_after, history_after) == (strikes, len(history) + 1)
    finally:
        engine.dispose()
    migrations.upgrade(db_url)
    assert migrations.is_current(db_url)
