"""Group commit of single-record PUTs (usecases.group_ingest): the same answers and rows as one at a time.

On PostgreSQL (the web service's database): a mixed set of records (new, repeat, changed text,
dangling references, a stranger as sender, invalid, replies that read a streak) submitted
concurrently through ``GroupIngest`` answers each record as ``importing.ingest`` one record at a
time does, leaves the same rows, acknowledges nothing before its commit, rings the doorbell
only for committed messages, and lets one record's failure stay its own.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from storage.models import ConversationRead, Message, Notification
from tests.conftest import _truncate_all
from usecases import group_ingest, importing
from usecases.app import App, SilentDoorbell
from usecases.settings import Settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

WORLD = [
    *({"type": "user", "id": f"u-{i}", "name": f"User {i}", "email": f"u{i}@example.com"} for i in range(1, 7)),
    {"type": "conversation", "id": "c-1", "buyer": "u-1", "seller": "u-2", "subject": "Eagle"},
    {"type": "conversation", "id": "c-2", "buyer": "u-3", "seller": "u-4", "subject": "Maple"},
    {"type": "conversation", "id": "c-3", "buyer": "u-5", "seller": "u-6", "subject": "Krugerrand"},
    {"type": "message", "id": "m-old", "conversation": "c-1", "sender": "u-1", "sent_at": "2026-11-30T09:00:00Z",
     "text": "stored before the test"},
]


def msg(mid: str, conversation: str = "c-1", sender: str = "u-1", minute: int = 0, text: str | None = None) -> dict:
    return {"type": "message", "id": mid, "conversation": conversation, "sender": sender,
            "sent_at": f"2026-12-01T10:{minute:02d}:00Z", "text": text if text is not None else f"text of {mid}"}


# In arrival order. The expected answer one at a time is given for readability; the test compares
# against what importing.ingest really answers one record at a time.
MIXED = [
    msg("m-1", minute=1),                                  # created
    msg("m-2", "c-2", "u-3", minute=1),                    # created
    msg("m-3", "c-1", "u-2", minute=2),                    # created: a reply that reads m-1's streak
    msg("m-1", minute=1),                                  # unchanged: a repeat of a record earlier in the set
    msg("m-1", minute=1, text="edited"),                   # conflict (409)
    msg("m-old", sender="u-1", text="stored before the test"),  # changed sent_at: conflict
    msg("m-4", "c-none"),                                  # rejected: dangling conversation
    msg("m-5", "c-2", "u-9"),                              # rejected: dangling sender
    msg("m-6", "c-3", "u-1"),                              # rejected: not a participant
    {"type": "message", "id": "m-7", "conversation": "c-1"},  # invalid
    msg("m-8", "c-3", "u-5", minute=3),                    # created
    msg("m-9", "c-3", "u-6", minute=4),                    # created: reply in the same group as m-8
    msg("m-10", "c-2", "u-4", minute=0),                   # created: back-dated reply, the read never moves backwards
    {"type": "read", "conversation": "c-2", "user": "u-3", "at": "2026-12-01T10:30:00Z"},  # updated
    msg("m-11", "c-1", "u-1", minute=5, text="x" * 300),   # created
    msg("m-12", minute=6, text=""),                         # whatever one at a time says about an empty text
    msg("m-3", "c-1", "u-2", minute=2),                    # unchanged
] + [msg(f"m-b{i}", f"c-{1 + i % 3}", ("u-1", "u-3", "u-5")[i % 3], minute=10 + i) for i in range(20)]


class RecordingDoorbell(SilentDoorbell):
    """Checks, when rung, that every message it is told about is committed (visible to another connection)."""

    def __init__(self, url: str) -> None:
        self.url, self.rung, self.invisible = url, [], []

    def scan(self, message_ids) -> None:
        engine = create_engine(self.url)
        with engine.connect() as other:
            seen = set(other.scalars(select(Message.id).where(Message.id.in_(list(message_ids)))))
        engine.dispose()
        self.invisible += [i for i in message_ids if i not in seen]
        self.rung += list(message_ids)


@pytest.fixture
def pg_app(pg_url: str, tmp_path: Path):
    settings = Settings.from_environment({"PEERGUARD_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": pg_url,
                                          "EMAIL_URL": (tmp_path / "outbox").as_uri()})
    doorbell = RecordingDoorbell(pg_url)
    app = App.from_settings(settings, doorbell)
    yield app, doorbell
    app.dispose()


def snapshot(app: App) -> dict[str, list]:
    """Every row ingest writes, by the marketplace's ids where row ids could differ."""
    with app.session_factory() as session:
        messages = sorted(session.execute(select(Message.external_id, Message.conversation_id, Message.sender_id,
                                                 Message.body, Message.sent_at, Message.recorded_at)).all())
        reads = sorted(session.execute(select(ConversationRead.conversation_id, ConversationRead.user_id,
                                              ConversationRead.last_read_at)).all())
        n = Notification.__table__.c
        notes = sorted(session.execute(select(n.recipient_id, n.conversation_id, n.unread_count, n.first_unread_at,
                                              n.latest_at, n.read_at, n.email_due_at, n.updated_at)).all())
        latest = sorted(session.execute(text(
            "SELECT n.recipient_id, n.conversation_id, m.external_id FROM notifications n "
            "LEFT JOIN messages m ON m.id = n.latest_message_id")).all())
    return {"messages": messages, "reads": reads, "notifications": notes, "latest": latest}


def one_at_a_time(app: App, records: list[dict]) -> list[importing.RecordOutcome]:
    return [importing.ingest(app, [record], NOW)[0] for record in records]


def test_concurrent_single_records_get_the_one_at_a_time_answers_and_rows(pg_app, pg_url):
    app, doorbell = pg_app
    importing.ingest(app, WORLD, NOW)
    expected = one_at_a_time(app, MIXED)
    expected_rows = snapshot(app)
    assert [(o.status, o.problem) for o in expected[:11]] == [
        ("created", None), ("created", None), ("created", None), ("unchanged", None), ("error", "conflict"),
        ("error", "conflict"), ("error", "rejected"), ("error", "rejected"), ("error", "rejected"),
        ("error", "invalid"), ("created", None)]

    _truncate_all(pg_url)
    doorbell.rung.clear()
    importing.ingest(app, WORLD, NOW)
    doorbell.rung.clear()
    writer = group_ingest.GroupIngest(app, max_records=7, clock=lambda: NOW)
    engine = create_engine(pg_url)
    early: list[str] = []

    async def put(record: dict) -> importing.RecordOutcome:
        outcome = await writer.submit(record)
        if outcome.status == "created":
            # Acknowledged only after the commit: another connection already sees the message.
            with engine.connect() as other:
                if other.scalar(select(Message.id).where(Message.external_id == outcome.external_id)) is None:
                    early.append(outcome.external_id)
        return outcome

    async def everything() -> list[importing.RecordOutcome]:
        return await asyncio.gather(*(put(record) for record in MIXED))

    got = asyncio.run(everything())
    engine.dispose()
    assert got == expected
    assert snapshot(app) == expected_rows
    assert early == []
    assert 1 < writer.groups < len(MIXED)  # records really shared transactions
    assert writer.records == len(MIXED)
    created = {o.external_id for o in got if o.status == "created"}
    with app.session_factory() as session:
        ids = dict(session.execute(select(Message.id, Message.external_id)).all())
    assert {ids[i] for i in doorbell.rung} == created and len(doorbell.rung) == len(created)
    assert doorbell.invisible == []


def test_two_writers_on_one_conversation_never_blame_a_record_for_a_deadlock(pg_app, pg_url):
    """Two processes' group commits on one conversation (two web workers) can deadlock on its rows.

    PostgreSQL rolls one transaction back; that is not any record's fault, so the group is applied
    again, never answered "database refused it" (a 422 for a valid new message, seen in CI).
    """
    import random
    import threading

    app, _ = pg_app
    # New messages from both sides of c-1, repeats and changes of a stored one, dangling ones.
    cases = []
    for i in range(64):
        kind = i % 4
        if kind == 0:
            cases.append((msg(f"m-new-{i}", sender=("u-1", "u-2")[i % 8 // 4], minute=i % 60), "created"))
        elif kind == 1:
            cases.append((msg("m-old", minute=0, text="stored first"), "unchanged"))
        elif kind == 2:
            cases.append((msg("m-old", minute=0, text=f"changed {i}"), "error"))
        else:
            cases.append((msg(f"m-dangling-{i}", "c-none"), "error"))
    wrong: list[tuple] = []
    for trial in range(40):
        _truncate_all(pg_url)
        importing.ingest(app, [*WORLD[:7], msg("m-old", minute=0, text="stored first")], NOW)
        rng = random.Random(trial)
        order = list(range(len(cases)))
        rng.shuffle(order)
        groups, start = [], 0
        while start < len(order):
            size = rng.randint(1, 8)
            groups.append(order[start : start + size])
            start += size

        def write(mine: list[list[int]], trial: int = trial) -> None:
            for group in mine:
                outcomes = group_ingest.ingest_group(app, [cases[i][0] for i in group], NOW)
                for i, outcome in zip(group, outcomes, strict=True):
                    status = outcome.status if isinstance(outcome, importing.RecordOutcome) else repr(outcome)
                    if status != cases[i][1] or "refused" in str(getattr(outcome, "error", "")):
                        wrong.append((trial, cases[i][0]["id"], status, getattr(outcome, "error", None)))

        threads = [threading.Thread(target=write, args=(groups[k::2],)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert wrong == []


def test_a_group_that_fails_as_a_whole_is_applied_record_by_record(monkeypatch):
    """One record whose transaction fails (here: an unexpected error) fails alone; its neighbours are answered."""
    calls: list[list[str]] = []

    def fake_ingest(app, objects, now):
        calls.append([o["id"] for o in objects])
        if any(o["id"] == "bad" for o in objects):
            raise RuntimeError("the commit failed")
        return [importing.RecordOutcome("created", "message", o["id"]) for o in objects]

    monkeypatch.setattr(importing, "ingest", fake_ingest)
    outcomes = group_ingest.ingest_group(None, [{"id": "a"}, {"id": "bad"}, {"id": "c"}], NOW)
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    assert [o.status for o in (outcomes[0], outcomes[2])] == ["created", "created"]
    assert isinstance(outcomes[1], RuntimeError)

    writer = group_ingest.GroupIngest(None, clock=lambda: NOW)

    async def both():
        return await asyncio.gather(writer.submit({"id": "bad"}), writer.submit({"id": "ok"}), return_exceptions=True)

    bad, ok = asyncio.run(both())
    assert isinstance(bad, RuntimeError) and ok.status == "created"


def test_a_request_that_went_away_before_its_group_started_is_not_applied(monkeypatch):
    applied: list[str] = []

    def fake_ingest(app, objects, now):
        applied.extend(o["id"] for o in objects)
        return [importing.RecordOutcome("created", "message", o["id"]) for o in objects]

    monkeypatch.setattr(importing, "ingest", fake_ingest)
    writer = group_ingest.GroupIngest(None, clock=lambda: NOW)

    async def scenario():
        gone = asyncio.ensure_future(writer.submit({"id": "gone"}))
        kept = asyncio.ensure_future(writer.submit({"id": "kept"}))
        await asyncio.sleep(0)  # both queued, the writer not yet past its first pass
        gone.cancel()
        return await kept

    assert asyncio.run(scenario()).status == "created"
    assert applied == ["kept"]


# --- Over HTTP: `peerguard web --workers 2` (one SO_REUSEPORT socket a worker), concurrent PUTs ----------


@pytest.fixture(scope="module")
def two_workers(web_env: dict[str, str]):
    import time

    from tests.web.conftest import start_web

    log_path = Path(web_env["PEERGUARD_DATA_DIR"]) / "web-two-workers.log"
    base, process, log = start_web(web_env, 2, log_path, timeout=60)
    time.sleep(1.0)  # the second worker is up too
    yield base, process, log_path
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)
    log.close()


def test_concurrent_puts_over_two_workers_answer_as_one_at_a_time(two_workers, token):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    base, _process, log_path = two_workers
    headers = {"Authorization": f"Bearer {token}"}
    world = [{"type": "user", "id": "gu-1", "name": "B"}, {"type": "user", "id": "gu-2", "name": "S"},
             {"type": "conversation", "id": "gc-1", "buyer": "gu-1", "seller": "gu-2"},
             {"type": "message", "id": "gm-old", "conversation": "gc-1", "sender": "gu-1",
              "sent_at": "2026-11-30T09:00:00Z", "text": "stored first"}]
    seeded = httpx.post(base + "/v1/batch", json={"records": world}, headers=headers, timeout=30)
    assert [r["status"] for r in seeded.json()["results"]] == ["created"] * 4

    def body(text: str, conversation: str = "gc-1", sender: str = "gu-1", at: str = "2026-11-30T09:00:00Z") -> dict:
        return {"conversation": conversation, "sender": sender, "sent_at": at, "text": text}

    # Each answer is independent of the order the requests meet in: new ids, repeats and changes of a stored one.
    cases = []
    for i in range(64):
        kind = i % 4
        if kind == 0:
            cases.append((f"gm-new-{i}", body(f"new {i}", sender=("gu-1", "gu-2")[i % 8 // 4],
                                                at=f"2026-12-01T10:{i % 60:02d}:00Z"), 201))
        elif kind == 1:
            cases.append(("gm-old", body("stored first"), 200))
        elif kind == 2:
            cases.append(("gm-old", body(f"changed {i}"), 409))
        else:
            cases.append((f"gm-dangling-{i}", body("to nowhere", conversation="gc-none"), 422))

    def put(case):
        mid, payload, _ = case
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            return client.put(f"/v1/messages/{mid}", json=payload)

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(put, cases))
    assert [r.status_code for r in replies] == [expected for *_, expected in cases]
    assert all(r.json()["id"] == mid for r, (mid, _, status) in zip(replies, cases, strict=True) if status < 300)
    assert {r.json()["error"]["code"] for r in replies if r.status_code == 409} == {"conflict"}
    stored = httpx.get(base + "/v1/messages/gm-new-0", headers=headers, timeout=30)
    assert stored.status_code == 200
    workers = set(re.findall(r"peerguard\.web\.access\[(\d+)\]: PUT /v1/messages/", log_path.read_text()))
    assert len(workers) == 2, "both workers should have served PUTs (one SO_REUSEPORT socket each)"


def test_two_workers_stop_together_on_sigterm(two_workers):
    import time

    base, process, log_path = two_workers
    children = [int(pid) for pid in set(re.findall(r"\[(\d+)\]", log_path.read_text())) if int(pid) != process.pid]
    assert len(children) >= 2
    process.terminate()
    assert process.wait(timeout=40) == 0
    time.sleep(0.5)
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []


def test_a_lone_request_never_waits_for_company_and_a_crowd_shares_one_transaction(monkeypatch):
    import time

    groups: list[list[str]] = []

    def fake_ingest(app, objects, now):
        groups.append([o["id"] for o in objects])
        return [importing.RecordOutcome("created", "message", o["id"]) for o in objects]

    monkeypatch.setattr(importing, "ingest", fake_ingest)
    writer = group_ingest.GroupIngest(None, linger=5.0, clock=lambda: NOW)

    async def scenario():
        started = time.monotonic()
        await writer.submit({"id": "alone"})
        alone = time.monotonic() - started
        crowd = await asyncio.gather(*(writer.submit({"id": f"c{i}"}) for i in range(10)))
        return alone, crowd

    alone, crowd = asyncio.run(scenario())
    assert alone < 2.0  # linger is 5 s: a lone request must not wait for it
    assert [o.external_id for o in crowd] == [f"c{i}" for i in range(10)]
    assert groups == [["alone"], [f"c{i}" for i in range(10)]]


def test_stopping_the_writer_answers_every_waiting_request(monkeypatch):
    """At shutdown the writer is cancelled: its group and the queue behind it get an error, none hangs."""
    import threading

    release = threading.Event()

    def fake_ingest(app, objects, now):
        release.wait(10)
        return [importing.RecordOutcome("created", "message", o["id"]) for o in objects]

    monkeypatch.setattr(importing, "ingest", fake_ingest)
    writer = group_ingest.GroupIngest(None, linger=0, clock=lambda: NOW)

    async def scenario():
        first = asyncio.ensure_future(writer.submit({"id": "a"}))
        await asyncio.sleep(0.1)  # the writer is inside its transaction with "a"
        second = asyncio.ensure_future(writer.submit({"id": "b"}))
        await asyncio.sleep(0)
        writer._writer.cancel()  # noqa: SLF001 - what the server's shutdown does to the task
        results = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 5)
        release.set()
        return results

    first, second = asyncio.run(scenario())
    assert isinstance(first, RuntimeError) and isinstance(second, RuntimeError)
