"""New-message sweep: 100,000 conversations with unread messages, 10,000 of them due for their email.

Usage: .venv/bin/python bench/notify_bench.py [--unread 100000] [--due 10000]
Creates and drops its own PostgreSQL database (peerguard_bench_notify). Prints the plan of the due
query, the time to plan every due email (load the due rows and their unread messages, decide,
build the contexts; nothing written), the whole sweep (the same plus the outbox and notification
writes), and the plan time without the partial index on ``email_due_at`` (baseline).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from storage import notifications as store  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from tests.scratch_db import scratch_database  # noqa: E402
from usecases.app import App  # noqa: E402
from usecases.notifications import plan_batch, sweep_new_messages  # noqa: E402
from usecases.settings import Settings  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = "peerguard_bench_notify"
NOW = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
USERS = 10_000


def populate(engine: Engine, unread: int, due_every: int) -> None:
    """Users, conversations with two scanned buyer messages each, and their sellers' notifications."""
    params = {"now": NOW, "n": unread, "every": due_every, "users": USERS}
    statements = [
        """INSERT INTO users (id, external_id, name, email, timezone, away)
           SELECT g, 'u-' || g, 'User ' || g, 'user' || g || '@example.com',
                  (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'America/Sao_Paulo'])[1 + g % 4], false
           FROM generate_series(1, 2 * :users) g""",
        """INSERT INTO conversations (id, external_id, buyer_id, seller_id, subject)
           SELECT g, 'c-' || g, :users + 1 + g % :users, 1 + g % :users, '1 oz Gold Eagle' FROM generate_series(1, :n) g""",
        # Due rows: the streak began 10 minutes ago. The others: just arrived (due later) or already emailed.
        """CREATE TEMP TABLE starts AS
           SELECT g, CASE WHEN g % :every = 0 THEN CAST(:now AS timestamptz) - interval '10 minutes'
                          ELSE CAST(:now AS timestamptz) - interval '30 seconds' END AS ts
           FROM generate_series(1, :n) g""",
        """INSERT INTO messages (id, external_id, conversation_id, sender_id, body, sent_at, recorded_at, scanned_at, masked_body)
           SELECT 2 * g - k, 'm-' || (2 * g - k), g, :users + 1 + g % :users, 'Is this still available?',
                  ts + make_interval(secs => 1 - k), ts, ts, 'Is this still available?'
           FROM starts, (VALUES (0), (1)) AS v(k)""",
        """INSERT INTO notifications (recipient_id, conversation_id, unread_count, first_unread_at, latest_at,
                                      latest_message_id, email_due_at, emailed_at, emailed_through, updated_at)
           SELECT 1 + g % :users, g, 2, ts, ts + interval '1 second', 2 * g,
                  CASE WHEN g % :every = 0 THEN ts WHEN g % 2 = 0 THEN ts + interval '2 minutes' END,
                  CASE WHEN g % :every <> 0 AND g % 2 = 1 THEN ts END,
                  CASE WHEN g % :every <> 0 AND g % 2 = 1 THEN ts + interval '1 second' END, ts
           FROM starts""",
        "SELECT setval(pg_get_serial_sequence('users', 'id'), 2 * :users)",
        "SELECT setval(pg_get_serial_sequence('conversations', 'id'), :n)",
        "SELECT setval(pg_get_serial_sequence('messages', 'id'), 2 * :n)",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def due_query_plan(engine: Engine) -> str:
    """EXPLAIN ANALYZE of the sweep's own first-batch query (rolled back: the locks are released)."""
    sql = str(store.due_query(NOW, 2000, postgres=True).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = "\n".join(conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)).scalars())
        conn.rollback()
    return plan


def make_app(engine: Engine, url: str) -> App:
    settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": "/tmp/peerguard-bench"})
    return App(settings, engine, make_session_factory(engine), None)  # type: ignore[arg-type]  # no blobs needed


def timed_plan(app: App, due_count: int) -> tuple[float, Counter[str], int]:
    """Lock every due row, plan them in batches of 2,000 as the sweep does, then roll back (nothing written)."""
    totals: Counter[str] = Counter()
    emails = 0
    started = time.perf_counter()
    with app.session_factory() as session:
        due = store.lock_due(session, NOW, due_count)
        for first in range(0, len(due), 2000):
            _, notices = plan_batch(app, session, due[first:first + 2000], NOW, totals)
            emails += len(notices)
        session.rollback()
    return time.perf_counter() - started, totals, emails


def timed_sweep(app: App) -> tuple[float, Counter[str]]:
    started = time.perf_counter()
    counts = sweep_new_messages(app, NOW)
    return time.perf_counter() - started, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--unread", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args()
    with scratch_database(ADMIN_URL, DB_NAME) as url:
        engine = make_engine(url)
        started = time.perf_counter()
        populate(engine, args.unread, args.unread // args.due)
        print(f"populated {args.unread} unread conversations ({args.due} due) in {time.perf_counter() - started:.1f} s")
        print("plan of the due query (first batch):\n" + due_query_plan(engine))
        app = make_app(engine, url)
        for round_ in (1, 2, 3):
            seconds, totals, emails = timed_plan(app, args.due)
            print(f"plan {round_}: {seconds:.3f} s  {emails} emails planned  {dict(totals)}")
        seconds, counts = timed_sweep(app)
        print(f"whole sweep (plan + outbox and notification writes): {seconds:.3f} s  {dict(counts)}")
        with engine.begin() as conn:
            conn.execute(text("UPDATE notifications SET email_due_at = first_unread_at, emailed_at = NULL, emailed_through = NULL "
                              "WHERE emailed_at = CAST(:now AS timestamptz)"), {"now": NOW})
            conn.execute(text("DROP INDEX ix_notifications_email_due"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE notifications"))
        seconds, totals, emails = timed_plan(app, args.due)
        print(f"plan without the partial index (baseline): {seconds:.3f} s  {emails} emails planned")
        engine.dispose()


if __name__ == "__main__":
    main()
