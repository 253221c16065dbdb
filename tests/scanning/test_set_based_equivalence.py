"""The set-based scan stage against the one-incident-at-a-time reference.

A generated corpus is imported in three waves into two fresh databases; after each wave the scan
stage runs, set-based in one database and with ``one_by_one=True`` (every incident through
``usecases.review._open_incident``) in the other. Between waves the same staff decisions are taken
in both (a confirmation with its strike, a dismissal, a restricted sender), and the third wave
comes after the strike window. The corpus has details split over messages (parts in different
waves, so a new finding joins an item still pending or decided recently), repeated texts,
high-severity payment findings (flag-alerts), and a webhook endpoint (events and deliveries).
Every table must end up identical, row for row, ids included.
"""

import json
import random
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import review as review_store
from storage.db import make_engine, transaction
from storage.models import Base, Conversation, Message, ReviewItem
from tests.conftest import ADMIN_URL
from tests.foundation.test_bulk_import_equivalence import _external, outbox_count_sums
from tests.scratch_db import scratch_database
from usecases import detecting, review, scan_processes, scanning, webhooks
from usecases.app import App, SilentDoorbell
from usecases.importing import InterchangeImporter
from usecases.settings import Settings

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
WAVES = (START + timedelta(days=20), START + timedelta(days=22), START + timedelta(days=140))
STAFF = "moderator@example.com"
TEXTS = ["is this still available?", "text me at 415 555 0199", "my number is 312", "555", "0147", "deal",
         "email me at stacker9@gmail.com", "thanks!", "venmo @coinguy12", "would you do $1,250?",
         "pay with zelle to 415-555-0123 and save the fees", "call me 2125550147", "my gmail is coin.guy77",
         "Received today, beautiful coin", "cashapp $goldbug22", "wire to account 021000021 routing"]


def corpus(seed: int = 11) -> list[list[dict]]:
    """Users and conversations, then messages in three waves (a wave's message may continue a detail of the last)."""
    rng = random.Random(seed)
    head: list[dict] = [{"type": "user", "id": f"u-{i}", "name": f"Trader {i}", "email": f"t{i}@example.com"}
                        for i in range(9)]
    parties = {}
    for c in range(12):
        buyer, seller = rng.sample(range(9), 2)
        parties[f"c-{c}"] = (f"u-{buyer}", f"u-{seller}")
        head.append({"type": "conversation", "id": f"c-{c}", "buyer": f"u-{buyer}", "seller": f"u-{seller}"})
    clock = {c: START for c in parties}
    waves: list[list[dict]] = [list(head), [], []]
    number = 0
    for wave in range(3):
        if wave == 2:
            clock = {c: WAVES[1] + timedelta(days=100) for c in parties}
        for _ in range(70):
            c = f"c-{rng.randrange(12)}"
            clock[c] += timedelta(minutes=rng.randint(1, 300))
            text = rng.choice(TEXTS)
            waves[wave].append({"type": "message", "id": f"m-{number}", "conversation": c,
                                "sender": rng.choice(parties[c]), "sent_at": clock[c].isoformat(), "text": text})
            number += 1
        # The next wave opens some conversations with the rest of a number begun here.
        for c in ("c-1", "c-4", "c-7"):
            clock[c] += timedelta(minutes=1)
            waves[wave].append({"type": "message", "id": f"m-{number}", "conversation": c, "sender": parties[c][0],
                                "sent_at": clock[c].isoformat(), "text": "email me at stacker9@gmail.com, or my cell is 917"})
            number += 1
            if wave < 2:
                waves[wave + 1].append({"type": "message", "id": f"m-{number}", "conversation": c,
                                        "sender": parties[c][0], "sent_at": (clock[c] + timedelta(minutes=1)).isoformat(),
                                        "text": "555 0182 or stacker9@gmail.com"})
                number += 1
    return waves


def decide(app: App, now: datetime, wave: int) -> None:
    """The same decisions in both databases (by item id, which the equivalence makes the same).

    The items waiting for the rest of a split number: c-1's is confirmed (a strike; the next
    part reopens it), c-4's dismissed (reopened too), c-7's left pending (the next part joins it).
    Besides: the oldest pending item confirmed, and another one's sender restricted.
    """
    with transaction(app.session_factory) as session:
        def newest_pending(conversation: str) -> int:
            return session.scalar(select(ReviewItem.id).join(Conversation, Conversation.id == ReviewItem.conversation_id)
                                  .where(Conversation.external_id == conversation, ReviewItem.status == "pending")
                                  .order_by(ReviewItem.id.desc()).limit(1))
        review.resolve(session, newest_pending("c-1"), "confirmed", STAFF, now, app.settings, note=f"wave {wave}")
        review.resolve(session, newest_pending("c-4"), "dismissed", STAFF, now, app.settings)
        pending = list(session.scalars(select(ReviewItem.id).where(ReviewItem.status == "pending").order_by(ReviewItem.id)))
        assert len(pending) >= 3
        review.resolve(session, pending[0], "confirmed", STAFF, now, app.settings)
        subject = session.get(ReviewItem, pending[1]).subject_user_id
        review_store.set_restricted(session, subject, True)


def run_pipeline(url: str, data_dir: Path, waves: list[list[dict]], one_by_one: bool, processes: int = 1) -> dict[str, list[tuple]]:
    settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data_dir),
                                          "EMAIL_URL": (data_dir / "outbox").as_uri(), "PEERGUARD_STAFF_EMAIL": "tns@example.com",
                                          "PEERGUARD_SCAN_PROCESSES": str(processes)})
    app = App.from_settings(settings, SilentDoorbell())
    try:
        webhooks.add_endpoint(app, "https://hooks.example.com/peerguard", ["*"], START)
        with transaction(app.session_factory) as session:
            review.add_staff(session, STAFF, "Mod", START)
        importer = InterchangeImporter(app.session_factory, app.blobs, data_dir, clock=lambda: START)
        for wave, (lines, now) in enumerate(zip(waves, WAVES, strict=True)):
            data = "".join(json.dumps(line) + "\n" for line in lines).encode()
            assert all(o.status != "error" for o in importer.import_lines(data.splitlines(keepends=True)))
            totals = scanning.scan_pending(app, now, one_by_one=one_by_one)
            assert totals["messages"] == sum(line["type"] == "message" for line in lines)
            if wave < 2:
                decide(app, now + timedelta(hours=1), wave)
        return snapshot(url)
    finally:
        app.dispose()


LEFT_OUT = {("webhook_events", "event_id"), ("webhook_endpoints", "secret"), ("contact_findings", "fingerprint")}
"""Drawn at random (a webhook event's id, an endpoint's secret) or hashed from row ids."""


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, ids included; message row ids by their external ids."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            names = dict(connection.execute(select(Message.id, Message.external_id)).all())
            tables = {}
            for table in Base.metadata.sorted_tables:
                if table.name == "email_outbox_counts":
                    # Signed changes the outbox triggers append, one per statement or row that made
                    # them: the two paths' statements differ, their sums per status must not.
                    tables[table.name] = outbox_count_sums(connection)
                    continue
                columns = [c for c in table.columns if (table.name, c.name) not in LEFT_OUT]
                tables[table.name] = sorted((tuple(_external(names, table, c, v) for c, v in zip(columns, row, strict=True))
                                             for row in connection.execute(select(*columns))), key=repr)
            return tables
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def two_urls(request, sqlite_template: Path, tmp_path: Path):
    if request.param == "sqlite":
        urls = []
        for name in ("reference", "setbased"):
            shutil.copy(sqlite_template, tmp_path / f"{name}.sqlite3")
            urls.append(f"sqlite:///{tmp_path / name}.sqlite3")
        yield urls
        return
    suffix = uuid.uuid4().hex[:10]  # unique per run: two runs on one server must not drop each other's databases
    with scratch_database(ADMIN_URL, f"pg_scan_ref_{suffix}") as reference, \
            scratch_database(ADMIN_URL, f"pg_scan_set_{suffix}") as setbased:
        yield [reference, setbased]


def test_set_based_scan_matches_one_incident_at_a_time(two_urls, tmp_path, monkeypatch):
    monkeypatch.setattr(scanning, "PENDING_BATCH_SIZE", 23)  # several batches a wave
    waves = corpus()
    reference = run_pipeline(two_urls[0], tmp_path / "ref", waves, one_by_one=True)
    setbased = run_pipeline(two_urls[1], tmp_path / "set", waves, one_by_one=False)
    # The corpus reaches what the set-based path must hand back to the one-by-one path.
    history = {row[3] for row in reference["review_history"]}
    assert {"opened", "signal_added", "reopened", "staff_alerted", "strike_issued"} <= history, history
    assert any(row[3] == "conversation" for row in reference["contact_findings"])  # split over messages
    assert reference["webhook_deliveries"] and reference["email_outbox"]
    for table in reference:
        assert [row for row in setbased[table] if row not in reference[table]] == [], table
        assert setbased[table] == reference[table], table


def test_detection_in_two_processes_stores_the_same(tmp_path, monkeypatch):
    """`run --once` with detection in a process pool: the same batches, the same rows, ids included (PostgreSQL)."""
    monkeypatch.setattr(scanning, "PENDING_BATCH_SIZE", 23)
    monkeypatch.setattr(scan_processes, "LOOKAHEAD_BATCHES", 3)  # several read-ahead rounds a wave
    waves = corpus()
    suffix = uuid.uuid4().hex[:10]  # unique per run: two runs on one server must not drop each other's databases
    with scratch_database(ADMIN_URL, f"pg_scan_one_{suffix}") as one, scratch_database(ADMIN_URL, f"pg_scan_two_{suffix}") as two:
        reference = run_pipeline(one, tmp_path / "one", waves, one_by_one=False)
        pooled = run_pipeline(two, tmp_path / "two", waves, one_by_one=False, processes=2)
    assert any(row[3] == "conversation" for row in reference["contact_findings"])
    for table in reference:
        assert pooled[table] == reference[table], table


def test_memo_and_short_context_store_the_same(tmp_path, monkeypatch):
    """`run --once` as it runs now (each conversation's readings remembered across batches, the
    context read limited to what detection looks at) against the plain loop (nothing remembered,
    every earlier message of the conversation read): every row the same, ids included (PostgreSQL).
    The corpus's conversations grow past the context limit (about 17 messages each by the third wave)."""
    monkeypatch.setattr(scanning, "PENDING_BATCH_SIZE", 23)
    monkeypatch.setattr(scan_processes, "LOOKAHEAD_BATCHES", 3)
    waves = corpus()
    suffix = uuid.uuid4().hex[:10]  # unique per run: two runs on one server must not drop each other's databases
    with scratch_database(ADMIN_URL, f"pg_scan_pla_{suffix}") as plain, scratch_database(ADMIN_URL, f"pg_scan_mem_{suffix}") as remembered:
        with monkeypatch.context() as m:
            m.setattr(detecting, "_MEMORY", detecting._Memory(0))
            m.setattr(scanning, "CONTEXT_BEFORE", None)
            reference = run_pipeline(plain, tmp_path / "plain", waves, one_by_one=False)
        monkeypatch.setattr(detecting, "_MEMORY", detecting._Memory(1000))
        kept = run_pipeline(remembered, tmp_path / "remembered", waves, one_by_one=False)
    assert any(row[3] == "conversation" for row in reference["contact_findings"])
    assert len(detecting._MEMORY.memos) == 12  # every conversation's readings were kept
    for table in reference:
        assert kept[table] == reference[table], table
