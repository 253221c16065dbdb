import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from actors.scanning import scan_messages
from storage.models import ContactFinding, Message
from usecases.importing import InterchangeImporter
from usecases.scanning import BATCH_SIZE, scan_batch, scan_pending

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def load(app, tmp_path, texts, start=0):
    lines = [
        {"type": "user", "id": "b", "name": "Buyer"},
        {"type": "user", "id": "s", "name": "Seller"},
        {"type": "conversation", "id": "c", "buyer": "b", "seller": "s"},
    ]
    for i, (sender, text) in enumerate(texts, start=start):
        lines.append({"type": "message", "id": f"m{i}", "conversation": "c", "sender": sender,
                      "sent_at": (NOW - timedelta(hours=1) + timedelta(minutes=i)).isoformat(), "text": text})
    path = tmp_path / f"export{start}.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    ids = []
    list(InterchangeImporter(app.session_factory, app.blobs, tmp_path).import_lines(path.open("rb"), ids.extend))
    return ids


def findings(app):
    with app.session_factory() as s:
        return s.scalars(select(ContactFinding).order_by(ContactFinding.id)).all()


def test_split_phone_across_separately_scanned_messages(app, tmp_path):
    first = load(app, tmp_path, [("b", "how do I reach you?"), ("s", "my number is 312")])
    assert scan_batch(app, first, NOW)["findings"] == 0
    second = load(app, tmp_path, [("s", "555"), ("s", "0147")], start=2)
    scan_batch(app, second, NOW)
    split = [f for f in findings(app) if f.scope == "conversation"]
    assert [(f.kind, f.value) for f in split] == [("phone", "+13125550147")]
    assert split[0].message_ids == first[1:] + second
    assert split[0].message_id == second[-1]


def test_rescanning_never_duplicates(app, tmp_path):
    ids = load(app, tmp_path, [("s", "zelle me at jo.silver@gmail.com"), ("b", "ok")])
    scan_pending(app, NOW)
    before = [(f.kind, f.value) for f in findings(app)]
    assert ("email", "jo.silver@gmail.com") in before
    with app.session_factory.begin() as s:
        s.execute(update(Message).values(scanned_at=None))
    assert scan_pending(app, NOW)["findings"] == 0
    assert [(f.kind, f.value) for f in findings(app)] == before
    with app.session_factory() as s:
        masked = s.scalar(select(Message.masked_body).where(Message.id == ids[0]))
    assert masked == "[payment removed] me at [email removed]"


def test_clean_messages_are_marked_scanned_without_findings(app, tmp_path):
    load(app, tmp_path, [("b", "PCGS cert 44512398, is it MS65?"), ("s", "Yes, $1,249 shipped, USPS tomorrow")])
    counts = scan_pending(app, NOW)
    assert counts == {"messages": 2, "findings": 0, "review_items": 0}
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.scanned_at.is_(None))) == 0


def test_actor_arguments_survive_json(stub_broker, stub_worker, app, tmp_path):
    """Actors take JSON-safe ids only: the message round-trips through the encoder unchanged."""
    ids = load(app, tmp_path, [("s", "text me 415 555 0199")])
    message = scan_messages.message(ids)
    assert json.loads(json.dumps(message.asdict()))["args"] == [ids]
    scan_messages.send(ids)
    stub_broker.join(scan_messages.queue_name, fail_fast=True)
    stub_worker.join()
    assert sorted(f.kind for f in findings(app)) == ["intent", "phone"]


def test_batches_are_bounded():
    assert 50 <= BATCH_SIZE <= 1000


def test_auto_processes_start_detection_processes_only_for_a_large_backlog_on_several_cores(app, tmp_path, monkeypatch):
    """PEERGUARD_SCAN_PROCESSES=auto (the default): one per core for a backlog of AUTO_BACKLOG, else in-process."""
    from usecases import scanning
    from usecases.settings import Settings

    assert Settings.from_environment({}).scan_processes is None
    assert Settings.from_environment({"PEERGUARD_SCAN_PROCESSES": "AUTO"}).scan_processes is None
    assert Settings.from_environment({"PEERGUARD_SCAN_PROCESSES": "3"}).scan_processes == 3
    load(app, tmp_path, [("b", "is the eagle still available?"), ("s", "yes"), ("s", "text me at 415 555 0123")])
    monkeypatch.setattr(scanning.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    monkeypatch.setattr(scanning, "AUTO_BACKLOG", 4)
    assert scanning.auto_processes(app) == 1  # three waiting: below the backlog
    monkeypatch.setattr(scanning, "AUTO_BACKLOG", 3)
    assert scanning.auto_processes(app) == scanning.AUTO_MAX_PROCESSES  # six cores, capped
    monkeypatch.setattr(scanning.os, "sched_getaffinity", lambda pid: {0})
    assert scanning.auto_processes(app) == 1  # one core: never

    started = []
    import usecases.scan_processes as pool

    real = pool.Detectors.__init__

    def counting(self, count):
        started.append(count)
        real(self, count)

    monkeypatch.setattr(pool.Detectors, "__init__", counting)
    monkeypatch.setattr(scanning.os, "sched_getaffinity", lambda pid: {0, 1})
    assert scan_pending(app, NOW)["messages"] == 3
    assert started == [2]  # auto, backlog reached, two cores: two detection processes
    assert ("phone", "+14155550123") in [(f.kind, f.value) for f in findings(app)]


def test_scan_latencies_count_what_the_batch_scanned_up_to_its_commit(app, tmp_path):
    """The commit→finding histogram: only the messages this batch scanned (one was scanned by an
    earlier batch, which counted it), each from its commit to this batch's commit."""
    from usecases.status import scan_latencies

    ids = load(app, tmp_path, [("b", "hello"), ("s", "hi, it's available"), ("b", "price?")])
    scan_batch(app, ids[:1], NOW)
    started = NOW + timedelta(minutes=10)
    assert scan_batch(app, ids, started)["messages"] == 2  # the first one is skipped: scanned already
    committed = datetime.now(timezone.utc) + timedelta(seconds=3)
    with app.session_factory() as s:
        recorded = dict(s.execute(select(Message.id, Message.recorded_at).where(Message.id.in_(ids))).all())
    expected = sorted((committed - recorded[i].replace(tzinfo=recorded[i].tzinfo or timezone.utc)).total_seconds()
                      for i in ids[1:])
    got = sorted(scan_latencies(app, ids, scanned_at=started, committed=committed))
    assert len(got) == 2 and all(seconds >= 3 for seconds in got)
    assert got == pytest.approx(expected, abs=1e-6)
