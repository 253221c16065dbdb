"""The read-only commands' plain-SQL reads (storage.direct): same answers on the bare driver as on a
session and as the SQLAlchemy listing, URLs understood as SQLAlchemy understands them, and
commands that stay off SQLAlchemy, the models and every other heavy module (issue 17: whole
process within 300 ms on 1,000,000 review items)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage import direct, migrations
from storage import status as status_reads
from storage.db import SessionReader, transaction
from storage.models import (
    Conversation,
    Message,
    OutboxEmail,
    ResponseDeadline,
    ReviewItem,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from storage.response_stats import seller_records
from storage.review import _queue_row, queue_query
from storage.review_queue import STATUSES, queue_rows, queue_sql

NOW = datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
PEERGUARD = str(Path(sys.executable).parent / "peerguard")
HEAVY = ("sqlalchemy", "storage.models", "storage.db", "usecases.app", "alembic", "dramatiq", "redis", "jinja2",
         "pydantic", "fastapi", "phonenumbers", "prometheus_client", "httpx", "weasyprint", "pipeline.detection.scanner",
         "email.headerregistry")
READ_ONLY = (["review", "list"], ["review", "list", "--json", "--status", "confirmed"], ["sellers", "stats", "--json"],
             ["outbox", "status"], ["status", "--json"])


# --- A small marketplace with every case the reads distinguish ---------------------------------


def _marketplace(session) -> dict[str, int]:
    """Users with and without email, items of every status, live and expired claims, outbox rows, deadlines, webhooks."""
    staff = User(external_id="u-1", name="Ana", email="Ana@PeerMetals.com", role="staff")
    seller = User(external_id="u-2", name="Sam", email="sam@example.com")
    quiet = User(external_id="u-3", name="No Mail", email=None)
    buyer = User(external_id="u-4", name="Bea", email="bea@example.com")
    session.add_all([staff, seller, quiet, buyer])
    session.flush()
    conversations = [Conversation(external_id=f"c-{n:03d}", buyer_id=buyer.id, seller_id=s.id)
                     for n, s in enumerate((seller, quiet), 1)]
    session.add_all(conversations)
    session.flush()
    messages = []
    for n in range(12):
        at = NOW - timedelta(hours=30 - n, microseconds=n)
        messages.append(Message(external_id=f"m-{n:05d}", conversation_id=conversations[n % 2].id,
                                sender_id=(seller, quiet)[n % 2].id, body=f"message {n}", sent_at=at, recorded_at=at,
                                scanned_at=None if n in (3, 7) else at + timedelta(seconds=n)))
    session.add_all(messages)
    session.flush()
    kinds = ("payment", "phone", "email", "intent")
    for n, m in enumerate(messages):
        status = STATUSES[n % len(STATUSES)] if n < 10 else "pending"
        claimed = n in (0, 5, 10)
        session.add(ReviewItem(
            target_key=f"message:{m.id}", conversation_id=m.conversation_id, message_id=m.id, subject_user_id=m.sender_id,
            kind=kinds[n % 4], status=status, score=0.5 + n / 40, priority=200.0 + n * 7.25 - (n % 3) * 30,
            high_severity=n % 4 == 0, opened_at=NOW - timedelta(days=n, minutes=n),
            claimed_by_id=staff.id if claimed else None,
            claim_expires_at=(NOW + timedelta(minutes=20) if n != 5 else NOW - timedelta(minutes=1)) if claimed else None,
            resolved_by_id=staff.id if status not in ("pending", "merged") else None,
            resolved_at=NOW - timedelta(hours=n) if status != "pending" else None, version=2))
    for n, state in enumerate(("queued", "queued", "sending", "sent", "sent", "sent", "failed", "dead")):
        session.add(OutboxEmail(notice="flag-alert", recipient_address="ana@peermetals.com", context={}, status=state,
                                idempotency_key=f"k-{n}", created_at=NOW - timedelta(hours=n),
                                next_attempt_at=NOW - timedelta(minutes=10 * n, microseconds=7)))
    for n, m in enumerate(messages[:8]):
        away = n == 6
        session.add(ResponseDeadline(
            conversation_id=m.conversation_id, seller_id=conversations[n % 2].seller_id, started_at=m.sent_at,
            started_by_message_id=m.id, answered_at=m.sent_at + timedelta(minutes=45 * n) if n % 3 else None,
            away=away, stage_sent=0, next_due_at=NOW - timedelta(minutes=n) if n < 3 else NOW + timedelta(hours=1),
            superseded_at=NOW if n == 4 else None))
    endpoint = WebhookEndpoint(url="https://example.com/hook", secret="s", events=["message.flagged"], created_at=NOW)
    session.add(endpoint)
    session.flush()
    for n in range(3):
        event = WebhookEvent(event_id=f"e-{n}", type="message.flagged", ordering_key="u-2", payload={},
                             created_at=NOW - timedelta(minutes=n))
        session.add(event)
        session.flush()
        session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, ordering_key="u-2",
                                    status="pending" if n else "delivered", created_at=NOW - timedelta(minutes=5 * n),
                                    next_attempt_at=NOW))
    return {"seller": seller.id, "quiet": quiet.id}


@pytest.fixture
def seeded(app):
    with transaction(app.session_factory) as session:
        ids = _marketplace(session)
    reader = direct.connect_if_current(app.settings.database_url, migrations.head_revision())
    assert reader is not None, "a migrated database is read through the bare driver"
    with reader:
        yield app, reader, ids


# --- Same answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [None, "payment", "phone"])
@pytest.mark.parametrize("limit", [50, 2])
def test_the_listing_agrees_with_the_sqlalchemy_query_on_every_status(seeded, kind, limit):
    app, reader, _ids = seeded
    with app.session_factory() as session:
        for status in STATUSES:
            expected = [_queue_row(row) for row in session.execute(queue_query(status, kind, limit))]
            assert queue_rows(reader, status, kind, limit) == expected, status
            assert queue_rows(SessionReader(session), status, kind, limit) == expected, status
    pending = queue_rows(reader, "pending", None, 50)
    assert [row.rank for row in pending] == sorted((row.rank for row in pending), reverse=True)
    assert {row.sender for row in pending} == {"sam@example.com", "u-3"}  # the marketplace id without an email
    assert all(isinstance(row.high_severity, bool) and row.opened_at.tzinfo is UTC for row in pending)


def test_the_status_picture_agrees_on_both_readers_and_counts_what_was_stored(seeded):
    app, reader, _ids = seeded
    with app.session_factory() as session:
        assert status_reads.snapshot(SessionReader(session), NOW) == status_reads.snapshot(reader, NOW)
    snap = status_reads.snapshot(reader, NOW)
    assert snap.outbox == {"queued": 2, "sending": 1, "sent": 3, "failed": 1, "dead": 1}
    assert snap.outbox_oldest_waiting == NOW - timedelta(minutes=60, microseconds=7)
    assert (snap.unscanned.count, snap.unscanned.oldest) == (2, NOW - timedelta(hours=27, microseconds=3))
    assert snap.review_pending.count == 4 and snap.review_pending.oldest == NOW - timedelta(days=11, minutes=11)
    assert (snap.deadlines_due.count, snap.deadlines_due.oldest) == (3, NOW - timedelta(minutes=2))
    assert (snap.webhooks_pending.count, snap.webhooks_pending.oldest) == (2, NOW - timedelta(minutes=10))
    assert status_reads.outbox_counts(reader) == snap.outbox


def test_seller_records_agree_on_both_readers_and_respect_window_superseded_and_email(seeded):
    app, reader, ids = seeded
    since = NOW - timedelta(hours=27, minutes=30)
    with app.session_factory() as session:
        for email in (None, "SAM@example.com", "nobody@example.com"):
            assert seller_records(SessionReader(session), since, NOW, email) == seller_records(reader, since, NOW, email)
    found = {s.seller_id: s for s in seller_records(reader, since, NOW)}
    assert {s.external_id for s in found.values()} == {"u-2", "u-3"}
    # Deadlines 0-2 started before the window; 4 is superseded; 3, 5, 6 (away) and 7 remain.
    assert {k: len(s.records) for k, s in found.items()} == {ids["seller"]: 1, ids["quiet"]: 3}
    assert [r.away for r in found[ids["seller"]].records] == [True]
    assert found[ids["quiet"]].email is None and found[ids["quiet"]].name == "No Mail"
    [only] = seller_records(reader, since, NOW, "SAM@example.com")
    assert only.seller_id == ids["seller"]


# --- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:5432/peerguard",
    "postgresql+psycopg://user:p%40ss%3Aw%2Frd@db.internal/peer%20guard?sslmode=require&application_name=pg",
    "postgresql://alice@[::1]:6543/app",
    "postgresql+psycopg:///peerguard?host=/var/run/postgresql",
    "postgresql+psycopg://bob:@localhost/db",
])
def test_postgresql_urls_become_the_keyword_arguments_sqlalchemy_would_pass(url):
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    _args, expected = PGDialect_psycopg().create_connect_args(make_url(url))
    target = direct.parse_url(url)
    assert target is not None and target.dialect == "postgresql"
    assert dict(target.psycopg_arguments) == expected


@pytest.mark.parametrize("url", ["sqlite:///relative/peer guard.sqlite3", "sqlite:////tmp/abs/peerguard.sqlite3",
                                 "sqlite+pysqlite:///var/db.sqlite3"])
def test_sqlite_urls_name_the_file_sqlalchemy_would_open(url):
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    [filename], _options = SQLiteDialect_pysqlite().create_connect_args(make_url(url))
    assert str(direct.parse_url(url).sqlite_path) == filename


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro&uri=true",
                                 "postgresql+psycopg://a@h1,h2/db", "postgresql+psycopg2://a@h/db",
                                 "postgresql+psycopg://a@h/db?options=x&options=y", "mysql://a@h/db", "not a url"])
def test_forms_the_driver_path_does_not_know_are_left_to_sqlalchemy(url):
    assert direct.parse_url(url) is None


def test_named_parameters_become_pyformat_but_casts_and_percent_signs_stay():
    sql = "SELECT x::text, '%' || :name FROM t WHERE a = :a AND b LIKE 'x%'"
    assert direct.pyformat(sql) == "SELECT x::text, '%%' || %(name)s FROM t WHERE a = %(a)s AND b LIKE 'x%%'"


def test_sqlite_values_come_back_as_the_mapped_types_would_give_them():
    assert direct.utc("2026-12-06 12:00:00.000001") == datetime(2026, 12, 6, 12, 0, 0, 1, tzinfo=UTC)
    assert direct.utc("2026-12-06 13:00:00+01:00") == datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert direct.utc(None) is None and direct.flag(1) is True and direct.flag(0) is False
    assert direct.sqlite_parameters({"at": datetime(2026, 12, 6, 13, tzinfo=direct.UTC), "n": 3}) == {
        "at": "2026-12-06 13:00:00.000000", "n": 3}


# --- The commands: what they import, and the regular path when the driver path cannot go ---------


PROBE = """
import json, sys
from peerguard.cli import main
sys.argv = ['peerguard', *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
print('LOADED', json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in
      ('sqlalchemy', 'storage', 'usecases', 'alembic', 'dramatiq', 'redis', 'jinja2', 'pydantic', 'fastapi',
       'phonenumbers', 'prometheus_client', 'httpx', 'weasyprint', 'pipeline', 'email'))))
"""


def _loaded(env: dict[str, str], *argv: str) -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=120)
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED ")]
    assert line, done.stderr
    return json.loads(line[-1][len("LOADED "):]), done.stdout


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return env | {"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(tmp_path / "data")} | extra


def _heavy(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_read_only_commands_import_no_heavy_module(seeded, tmp_path):
    app, _reader, _ids = seeded
    env = _env(app.settings.database_url, tmp_path, REDIS_URL="redis://127.0.0.1:6379/6")
    for argv in READ_ONLY:
        loaded, out = _loaded(env, *argv)
        assert _heavy(loaded) == [], argv
        assert "storage.direct" in loaded, argv  # it did read, through the driver
    _loaded_list, listed = _loaded(env, "review", "list", "--json")
    assert [json.loads(x)["sender_id"] for x in listed.splitlines() if x.startswith("{")][:1] == ["u-2"]


def test_a_new_sqlite_database_is_created_by_the_regular_path_then_read_directly(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'peerguard.sqlite3'}"
    first = subprocess.run([PEERGUARD, "outbox", "status"], env=_env(url, tmp_path), capture_output=True, text=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["queued", "0", "sending", "0", "sent", "0", "failed", "0", "dead", "0"]
    assert migrations.is_current(url)
    loaded, _out = _loaded(_env(url, tmp_path), "outbox", "status")
    assert _heavy(loaded) == []


def test_an_old_sqlite_schema_is_upgraded_by_the_regular_path(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrations.upgrade(url, "0012")  # the revision before the head (0014)
    assert direct.connect_if_current(url, migrations.head_revision()) is None
    done = subprocess.run([PEERGUARD, "review", "list"], env=_env(url, tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "0 item(s)" in done.stderr, done.stderr
    assert migrations.is_current(url)


def test_an_unreachable_database_is_the_same_one_line_error_as_before(tmp_path):
    url = "postgresql+psycopg://postgres:secret@127.0.0.1:1/nope"
    done = subprocess.run([PEERGUARD, "sellers", "stats"], env=_env(url, tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot reach the database (postgresql+psycopg://postgres:***@127.0.0.1:1/nope): "
                                  "(psycopg.OperationalError) ")
    assert "secret" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_each_plain_sql_read_is_answered_by_its_index(pg_url):
    def plan(reader, sql: str, parameters: dict | None = None) -> str:
        return "\n".join(row[0] for row in reader.rows("EXPLAIN " + sql, parameters))

    reader = direct.connect_if_current(pg_url, migrations.head_revision())
    assert reader is not None
    with reader:
        # On almost empty tables the planner would scan them anyway; forbid that to see which index answers.
        reader.rows("SELECT set_config('enable_seqscan', 'off', false)")
        assert "ix_review_items_queue" in plan(reader, queue_sql("pending", "phone"), {"kind": "phone", "limit": 50})
        assert "ix_review_items_decided" in plan(reader, queue_sql("confirmed", None), {"limit": 50})
        for sql, index in (
            (status_reads._BACKLOGS["unscanned"], "ix_messages_unscanned"),
            (status_reads._BACKLOGS["review_pending"], "ix_review_items_queue"),
            (status_reads._BACKLOGS["webhooks_pending"], "ix_webhook_deliveries_pending"),
            (status_reads._OUTBOX_OLDEST_WAITING, "ix_email_outbox_pending"),
        ):
            assert index in plan(reader, sql), sql
        assert "ix_response_deadlines_due" in plan(reader, status_reads._BACKLOGS["deadlines_due"], {"now": NOW})


def test_scan_times_skip_unscanned_messages_on_both_readers(seeded):
    app, reader, _ids = seeded

    def seconds(times):
        return sorted((scanned - recorded).total_seconds() for recorded, scanned in times)

    with app.session_factory() as session:
        ids = [row[0] for row in SessionReader(session).rows("SELECT id FROM messages ORDER BY id LIMIT 5")]
        assert seconds(status_reads.scan_times(SessionReader(session), ids)) == [0.0, 1.0, 2.0, 4.0]
    assert seconds(status_reads.scan_times(reader, ids)) == [0.0, 1.0, 2.0, 4.0]
    assert status_reads.scan_times(reader, []) == []


def test_stream_hands_over_the_first_chunk_before_the_statement_has_finished(pg_url, monkeypatch):
    """`sellers stats` works on the first sellers while PostgreSQL still sends the others; the rows are those of ``rows``."""
    from psycopg import pq

    monkeypatch.setattr(direct, "STREAM_CHUNK", 100)
    sql = "SELECT g, g * interval '1 second', 'x' || g FROM generate_series(1, :n) AS g ORDER BY g"
    reader = direct.connect_if_current(pg_url, migrations.head_revision())
    assert reader is not None
    with reader:
        expected = reader.rows(sql, {"n": 1234})
        streamed = reader.stream(sql, {"n": 1234})
        first = next(streamed)
        # Still inside the statement: the other 1,233 rows have not all been read yet.
        assert reader._connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE
        assert [first, *streamed] == expected and len(expected) == 1234
        assert reader._connection.pgconn.transaction_status == pq.TransactionStatus.IDLE
        assert reader.rows("SELECT 1") == [(1,)]  # the connection is free again
        assert list(reader.stream("SELECT 1 WHERE false")) == []


def test_stream_is_rows_on_sqlite_and_on_a_session(seeded):
    app, reader, _ids = seeded
    sql = "SELECT id, seller_id, started_at, answered_at, away FROM response_deadlines ORDER BY id"
    with app.session_factory() as session:
        for on in (reader, SessionReader(session)):
            found = on.rows(sql)
            assert list(on.stream(sql)) == found and len(found) == 8


def test_a_read_only_command_leaves_its_objects_to_the_collector_only_until_exit(seeded, tmp_path):
    """`sellers stats` and the others freeze the collector at exit (the last collections cost them 50-80 ms), not before."""
    app, _reader, _ids = seeded
    probe = (
        "import atexit, gc, sys\n"
        # atexit runs its handlers last registered first: this one sees what the command registered.
        "atexit.register(lambda: print('frozen at exit', gc.get_freeze_count() > 0))\n"
        "from peerguard.cli import main\n"
        "main(sys.argv[1:], standalone_mode=False)\n"
        "print('frozen before exit', gc.get_freeze_count() > 0)\n"
    )
    env = {**os.environ, "DATABASE_URL": app.settings.database_url, "PEERGUARD_DATA_DIR": str(tmp_path)}
    for command in (["sellers", "stats", "--now", NOW.isoformat()], ["status"]):
        done = subprocess.run([sys.executable, "-c", probe, *command], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-2:] == ["frozen before exit False", "frozen at exit True"], done.stdout
