"""`run --once`'s detection processes (``usecases.scan_processes.Detectors``) and the writer's ids-only lock.

Each detection process answers for a fixed share of the conversations (id modulo the count), so
the readings it remembers for a conversation serve that conversation's next batches; the process
imports the detectors but not storage (no SQLAlchemy to start); the answers, joined, are what
``scanning.detect`` gives in one process. The writer locks a batch it read earlier by ids only
(``storage.scanning.lock_unscanned``): the same ids, order and skipped rows as ``load_messages``.
"""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from storage import scanning as store
from storage.scanning import ScannableMessage
from usecases import detecting, scanning
from usecases.scan_processes import Detectors

DOMAINS = ("peermetals.com",)
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TEXTS = ["hi, is the eagle still available?", "my number is four one five", "555 0123", "text me",
         "pay by zelle to greg@example.com", "thanks!", "my cell 415 555 0199", "ok"]


def _batches(conversations: int, rounds: int):
    """Batches as the stage reads them: one new message per conversation per batch, 12 earlier ones as context."""
    history: dict[int, list[ScannableMessage]] = {c: [] for c in range(1, conversations + 1)}
    next_id = 1
    for r in range(rounds):
        batch, context = [], {}
        for cid in history:
            m = ScannableMessage(next_id, cid, "buyer" if (r + cid) % 2 else "seller", TEXTS[(r * 3 + cid) % len(TEXTS)],
                                 T0 + timedelta(minutes=r))
            next_id += 1
            context[cid] = history[cid][-12:] + [m]
            history[cid].append(m)
            batch.append(m)
        yield batch, context


def test_each_conversation_goes_to_one_process_and_the_answers_join_to_one_process_detect():
    with Detectors(2) as detectors:
        for batch, context in _batches(conversations=7, rounds=4):
            detectors.submit(DOMAINS, context, {m.id for m in batch})
            # Each process answers for its share: conversation id modulo 2, in the batch's order.
            shares = [[f.conversation_id for f in detecting.receive(p.stdout)] for p in detectors.processes]
            assert shares == [[2, 4, 6], [1, 3, 5, 7]]
            detectors.submit(DOMAINS, context, {m.id for m in batch})
            assert scanning.joined(batch, detectors.results(context), DOMAINS) == scanning.detect(batch, context, DOMAINS)


def test_joined_answers_keep_split_findings_and_remasks():
    """A detail split over messages: conversation-scope records and re-masked earlier parts come back the same."""
    messages = [ScannableMessage(1, 9, "buyer", "my number is four one five", T0),
                ScannableMessage(2, 9, "buyer", "555 0123", T0 + timedelta(minutes=1))]
    context = {9: messages}
    with Detectors(2) as detectors:
        detectors.submit(DOMAINS, {9: messages[:1]}, {1})
        first = scanning.joined(messages[:1], detectors.results({9: messages[:1]}), DOMAINS)
        detectors.submit(DOMAINS, context, {2})
        second = scanning.joined(messages[1:], detectors.results(context), DOMAINS)
    assert first == scanning.detect(messages[:1], {9: messages[:1]}, DOMAINS)
    assert second == scanning.detect(messages[1:], context, DOMAINS)
    assert any(r.scope == "conversation" for r in second.records) and 1 in second.remasked


def test_a_detection_process_imports_no_storage():
    code = "import sys, usecases.detecting; print(sorted(m for m in ('sqlalchemy', 'storage', 'psycopg') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_a_detection_process_that_dies_is_reported():
    with pytest.raises(RuntimeError, match="detection process stopped"), Detectors(1) as detectors:
        detectors.processes[0].kill()
        detectors.processes[0].wait()
        batch, context = next(_batches(conversations=2, rounds=1))
        detectors.submit(DOMAINS, context, {m.id for m in batch})
        detectors.results(context)


def test_lock_by_ids_matches_load_messages(app, tmp_path):
    from tests.scanning.test_context_read import load

    load(app, tmp_path)
    with app.session_factory() as session:
        ids = sorted(m.id for m in store.load_messages(session, _all_ids(session), only_unscanned=False))
    chosen = ids[::-1][:30]  # out of order on purpose: both answer in conversation order
    with app.session_factory() as holder, app.session_factory() as writer:
        held = store.load_messages(holder, chosen[:5])  # another scanner holds these rows (PostgreSQL: skipped)
        expected = tuple(m.id for m in store.load_messages(writer, chosen))
        assert store.lock_unscanned(writer, chosen) == expected
        if app.settings.database_url.startswith("postgresql"):
            assert not {m.id for m in held} & set(expected) and len(expected) == 25
        holder.rollback()
    with app.session_factory() as session:
        store.save_scans(session, {chosen[0]: "x"}, [], T0)
        assert chosen[0] not in store.lock_unscanned(session, chosen)
        assert store.lock_unscanned(session, chosen) == tuple(m.id for m in store.load_messages(session, chosen))


def _all_ids(session):
    from sqlalchemy import select

    from storage.models import Message

    return list(session.scalars(select(Message.id)))

