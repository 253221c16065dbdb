"""The scan stage's context read limited to what detection looks at (``read_batch(ids, before=N)``).

On PostgreSQL one statement: the batch's rows, then a LATERAL read per conversation (the N messages
before its first batch message, then the batch's span); on SQLite (and as the reference here,
``conversation_context(before=N)``) the whole conversation trimmed in Python. Both must give the
full read's messages from N before the first batch message to the last, in (sent_at, id) order,
also when several messages share a timestamp.
"""

import json
from datetime import UTC, datetime, timedelta

from storage import scanning as store
from usecases.importing import InterchangeImporter

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def load(app, tmp_path):
    lines = [{"type": "user", "id": "b", "name": "Buyer"}, {"type": "user", "id": "s", "name": "Seller"}]
    lines += [{"type": "conversation", "id": c, "buyer": "b", "seller": "s"} for c in ("long", "short")]
    for i in range(40):
        # Every third message shares the previous one's timestamp: (sent_at, id) decides the order.
        minute = i - (1 if i % 3 == 2 else 0)
        lines.append({"type": "message", "id": f"l{i}", "conversation": "long", "sender": "bs"[i % 2],
                      "sent_at": (NOW - timedelta(hours=2) + timedelta(minutes=minute)).isoformat(), "text": f"long {i}"})
    for i in range(5):
        lines.append({"type": "message", "id": f"s{i}", "conversation": "short", "sender": "b",
                      "sent_at": (NOW - timedelta(hours=2) + timedelta(minutes=i)).isoformat(), "text": f"short {i}"})
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    list(InterchangeImporter(app.session_factory, app.blobs, tmp_path).import_lines(path.open("rb")))


def test_context_limited_to_what_detection_reads(app, tmp_path):
    load(app, tmp_path)
    with app.session_factory() as session:
        every = store.conversation_context(session, store.load_messages(session, _all_ids(session), only_unscanned=False))
        by_external = {}
        for messages in every.values():
            by_external.update({m.body.replace(" ", ""): m for m in messages})
        # A batch: two messages far into the long conversation (one of them tied), one early in the short one.
        batch = sorted([by_external["long29"], by_external["long35"], by_external["short1"]],
                       key=lambda m: (m.conversation_id, m.sent_at, m.id))
        for before in (0, 1, 12, 100):
            limited = store.conversation_context(session, batch, before)
            full = store.conversation_context(session, batch)
            for cid, messages in full.items():
                first = next(i for i, m in enumerate(messages) if m.id == batch[[b.conversation_id for b in batch].index(cid)].id)
                assert limited[cid] == messages[max(0, first - before) :], (before, cid)
            for lock in (True, False):  # the scan stage's read, locking (workers) or not (read-ahead)
                read, context = store.read_batch(session, [m.id for m in reversed(batch)], before, lock=lock)
                assert read == batch and context == limited, (before, lock)
            session.rollback()  # the locks of the locking read
        long_id = by_external["long29"].conversation_id
        assert [m.body for m in store.conversation_context(session, batch, 12)[long_id]][:2] == ["long 17", "long 18"]
        assert len(full[long_id]) == 36 and full[long_id][-1].body == "long 35"


def _all_ids(session):
    from sqlalchemy import select

    from storage.models import Message

    return list(session.scalars(select(Message.id)))
