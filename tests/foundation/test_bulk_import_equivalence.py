"""The bulk import (consecutive messages applied together) against the row-at-a-time reference.

A generated corpus — in-order and late messages, read receipts, repeats, a changed text, a
stranger as sender, a user update — is imported both ways into two fresh databases, then the
scan stage and the response sync run on each. Every table must end up identical, row for row.
"""

import json
import random
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from storage.db import make_engine
from storage.models import Base, Message
from tests.conftest import ADMIN_URL
from tests.scratch_db import scratch_database
from usecases import notifications, responses, scanning
from usecases.app import App, SilentDoorbell
from usecases.importing import InterchangeImporter
from usecases.settings import Settings

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
NOW = START + timedelta(days=30)
TEXTS = ["is this still available?", "text me at 415 555 0199", "my number is 312", "555", "0147", "deal",
         "email me at stacker9@gmail.com", "shipped USPS, tracking 9400 1234 5678 9012 3456 78", "thanks!",
         "venmo @coinguy12", "would you do $1,250?", "Received today, beautiful coin"]


def corpus(seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    lines: list[dict] = [{"type": "user", "id": f"u-{i}", "name": f"Trader {i}", "email": f"t{i}@example.com"}
                         for i in range(8)]
    for c in range(10):
        buyer, seller = rng.sample(range(8), 2)
        lines.append({"type": "conversation", "id": f"c-{c}", "buyer": f"u-{buyer}", "seller": f"u-{seller}"})
    parties = {line["id"]: (line["buyer"], line["seller"]) for line in lines if line["type"] == "conversation"}
    clock = {c: START for c in parties}
    for m in range(160):
        c = f"c-{rng.randrange(10)}"
        clock[c] += timedelta(minutes=rng.randint(1, 900))
        # Some messages arrive late, dated before what is already stored for their conversation.
        sent = clock[c] - timedelta(hours=rng.randint(1, 30)) if rng.random() < 0.08 else clock[c]
        sender = rng.choice(parties[c])
        lines.append({"type": "message", "id": f"m-{m}", "conversation": c, "sender": sender,
                      "sent_at": sent.isoformat(), "text": rng.choice(TEXTS)})
        if rng.random() < 0.07:
            reader = rng.choice(parties[c])
            lines.append({"type": "read", "conversation": c, "user": reader,
                          "at": (clock[c] - timedelta(minutes=rng.randint(0, 120))).isoformat()})
        if rng.random() < 0.04:
            lines.append(dict(lines[rng.randrange(18, len(lines))]))  # a repeat: unchanged
    # An export by conversation: its users' lines (repeats), its line, its messages (regrouped by the bulk
    # path); with a message naming its conversation before the conversation's line, a conversation naming
    # a user before the user's line, a subject and a name changed after messages, and an unknown buyer.
    for c in range(10, 16):
        buyer, seller = (f"u-{i}" for i in rng.sample(range(8), 2))
        if c == 14:
            buyer = "u-nobody"
        conversation = {"type": "conversation", "id": f"c-{c}", "buyer": buyer, "seller": seller}
        talk = [{"type": "message", "id": f"m-c{c}-{k}", "conversation": f"c-{c}", "sender": (buyer, seller)[k == 1],
                 "sent_at": (START + timedelta(days=c, minutes=k)).isoformat(), "text": rng.choice(TEXTS)}
                for k in range(5)]
        people = [{"type": "user", "id": user, "name": f"Trader {user[2:]}", "email": f"t{user[2:]}@example.com"}
                  for user in (buyer, seller) if user != "u-nobody"]
        if c == 13:  # a new user named by the conversation before the user's own line: refused, then created
            conversation["seller"] = "u-9"
            people = people[:1]
        lines += people + (talk[:1] + [conversation] + talk[1:] if c == 12 else [conversation] + talk)
        if c == 13:
            lines.append({"type": "user", "id": "u-9", "name": "Trader Nine", "email": "t9@example.com"})
        if c == 15:
            lines.append({**people[0], "name": "Renamed Trader"})
        if c == 11:
            lines.append({**conversation, "subject": "Lot 11, repriced"})
        # Receipts among the messages: one stopping inside the seller's streak (recounted), the newest read,
        # a stale one (unchanged), a stranger's, an unknown conversation's.
        last = talk[-1]["sent_at"]
        lines += [{"type": "read", "conversation": f"c-{c}", "user": seller, "at": talk[3]["sent_at"]},
                  {"type": "read", "conversation": f"c-{c}", "user": seller, "at": last},
                  {"type": "read", "conversation": f"c-{c}", "user": seller, "at": talk[0]["sent_at"]},
                  {"type": "read", "conversation": f"c-{c}", "user": "u-7" if "u-7" not in (buyer, seller) else "u-6",
                   "at": last},
                  {"type": "read", "conversation": "c-99", "user": buyer, "at": last}]
    lines.append({"type": "message", "id": "m-3", "conversation": "c-0", "sender": parties["c-0"][0],
                  "sent_at": START.isoformat(), "text": "changed"})  # conflict
    lines.append({"type": "message", "id": "m-x", "conversation": "c-1", "sender": "u-nobody",
                  "sent_at": START.isoformat(), "text": "who am I"})  # unknown sender
    lines.append({"type": "user", "id": "u-1", "name": "Trader One", "email": "t1@example.com"})
    # Last-read receipts as a dump lists them, after everything: each stops inside the other side's
    # streak (recounted from the stored messages after it and the run's own).
    for c in range(10):
        for reader in parties[f"c-{c}"]:
            lines.append({"type": "read", "conversation": f"c-{c}", "user": reader,
                          "at": (START + timedelta(days=2 + c % 3, hours=c)).isoformat()})
    return lines


def run_pipeline(url: str, data_dir: Path, path: Path, bulk: bool | None) -> tuple[list, dict]:
    """Import the first half, scan and sync; then the whole file (new messages, repeats), scan and sync."""
    settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data_dir),
                                          "EMAIL_URL": (data_dir / "outbox").as_uri()})
    app = App.from_settings(settings, SilentDoorbell())
    lines = path.read_bytes().splitlines(keepends=True)
    try:
        options = {} if bulk is None else {"bulk": bulk}
        importer = InterchangeImporter(app.session_factory, app.blobs, path.parent, clock=lambda: NOW, batch_size=37,
                                       **options)
        outcomes = []
        for part, at in ((lines[: len(lines) // 2], NOW - timedelta(days=10)), (lines, NOW)):
            outcomes += [(o.line_no, o.status, o.kind, o.external_id, o.error) for o in importer.import_lines(part)]
            scanning.scan_pending(app, at)
            responses.sync_new_messages(app, at)
            notifications.sweep(app, at)  # queues new-message emails that later replies withdraw
        return outcomes, snapshot(url)
    finally:
        app.dispose()


RANDOM = {("webhook_events", "event_id"), ("contact_findings", "fingerprint"), ("notifications", "id"),
          ("review_items", "target_key"), ("email_outbox", "idempotency_key")}
"""Left out: drawn at random (a webhook event's id), hashed from row ids, or a row id that PostgreSQL's
upsert draws from its sequence even when it updates (nothing refers to a notification's id)."""


def outbox_count_sums(connection) -> list[tuple]:
    """The outbox's per-status counts (migration 0017's table, folded)."""
    return sorted(tuple(row) for row in connection.execute(text(
        "SELECT status, CAST(sum(n) AS BIGINT) FROM email_outbox_counts GROUP BY status HAVING sum(n) <> 0")))


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every table's rows (the outbox's per-status counts folded: their rows follow the statements); message row ids by their external ids (PostgreSQL sequences skip rolled-back ids)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            names = dict(connection.execute(select(Message.id, Message.external_id)).all())
            return {table.name: sorted((tuple(_external(names, table, column, value) for column, value in zip(
                        [c for c in table.columns if (table.name, c.name) not in RANDOM], row, strict=True))
                        for row in connection.execute(select(
                            *(c for c in table.columns if (table.name, c.name) not in RANDOM)))), key=repr)
                    for table in Base.metadata.sorted_tables if table.name != "email_outbox_counts"} | {
                "email_outbox_counts": outbox_count_sums(connection)}
    finally:
        engine.dispose()


def _external(names: dict[int, str], table, column, value):
    if value is None:
        return None
    if (table.name == "messages" and column.name == "id") or any(
            fk.column.table.name == "messages" for fk in column.foreign_keys) or column.name == "last_message_id":
        return names.get(value, ("gone", value))
    if column.name == "message_ids":
        return [names[v] for v in value]
    if column.name == "spans":
        return [{**span, "message_id": names[span["message_id"]]} for span in value]
    return value


@pytest.fixture(params=["sqlite", "postgres", "postgres-copy"])
def two_urls(request, sqlite_template: Path, tmp_path: Path, monkeypatch):
    """Two fresh databases; "postgres-copy" sends every set-based write of the bulk path through COPY."""
    if request.param == "postgres-copy":
        from storage import bulk

        copies = []
        # Every COPY goes through ``copy_on`` (``copy_into`` too; the messages' from a helper thread).
        real = bulk.copy_on
        monkeypatch.setattr(bulk, "copy_on", lambda raw, table, *rest, **options: copies.append(table) or real(
            raw, table, *rest, **options))
        request.node.copies = copies
    if request.param == "sqlite":
        urls = []
        for name in ("reference", "bulk"):
            shutil.copy(sqlite_template, tmp_path / f"{name}.sqlite3")
            urls.append(f"sqlite:///{tmp_path / name}.sqlite3")
        yield urls
        return
    suffix = uuid.uuid4().hex[:10]  # unique per run: two runs on one server must not drop each other's databases
    with scratch_database(ADMIN_URL, f"pg_eq_ref_{suffix}") as reference, \
            scratch_database(ADMIN_URL, f"pg_eq_bulk_{suffix}") as bulk:
        yield [reference, bulk]


def test_bulk_import_matches_row_at_a_time_reference(two_urls, tmp_path, request, monkeypatch):
    from storage import bulk as bulk_writes

    path = tmp_path / "market.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in corpus()))
    copies = getattr(request.node, "copies", None)
    if copies is not None:
        # The reference never copies (its response sync neither); the bulk side copies every set-based write,
        # its sync's deadlines and history lines too (else only from 64 rows up, none with batches of 37).
        monkeypatch.setattr(bulk_writes, "COPY_FROM_ROWS", 10**9)
    from storage import notifications as notification_rows

    recounts = []
    real_recount = notification_rows._recount
    monkeypatch.setattr(notification_rows, "_recount", lambda *args: recounts.append(args[1]) or real_recount(*args))
    reference_outcomes, reference = run_pipeline(two_urls[0], tmp_path / "ref", path, bulk=False)
    assert recounts == []  # the reference recounts in SQL
    if copies is not None:
        assert copies == []
        monkeypatch.setattr(bulk_writes, "COPY_FROM_ROWS", 1)
    bulk_outcomes, bulk = run_pipeline(two_urls[1], tmp_path / "bulk", path, bulk=True)
    assert len(recounts) >= 5  # receipts that stop inside a streak were recounted in the plan
    if copies is not None:
        # New messages straight into their table, a run with a repeat through the scratch table.
        assert {"messages", "pg_temp.import_messages", "pg_temp.import_reads", "notifications", "users", "conversations",
                "pg_temp.import_notifications", "pg_temp.scratch_response_deadlines",
                "response_deadline_events"} <= set(copies)
    statuses = {status for _, status, *_ in reference_outcomes}
    assert {"created", "unchanged", "updated", "error"} <= statuses
    assert reference["contact_findings"] and reference["notifications"] and reference["review_items"]
    withdrawn = [row for row in reference["email_outbox"] if "the recipient read the conversation" in str(row)]
    assert withdrawn and len(withdrawn) < len(reference["email_outbox"])  # replies withdrew some queued emails, not all
    assert bulk_outcomes == reference_outcomes
    for table in reference:
        assert [row for row in bulk[table] if row not in reference[table]] == [], table
        assert bulk[table] == reference[table], table
