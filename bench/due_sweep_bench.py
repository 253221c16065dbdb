"""Due-sweep: 1,000,000 open deadlines of which 10,000 are due; one sweep finds and records them.

Usage: .venv/bin/python bench/due_sweep_bench.py [--open 1000000] [--due 10000]
Creates and drops its own PostgreSQL database (peerguard_bench_due_sweep). Prints the plan of
the due query, the sweep time with the partial index, and the same sweep without it (baseline).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.responses import due_query  # noqa: E402
from tests.scratch_db import scratch_database  # noqa: E402
from usecases.app import App  # noqa: E402
from usecases.responses import sweep_due  # noqa: E402
from usecases.settings import Settings  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = "peerguard_bench_due_sweep"
NOW = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
SELLERS = 10_000


def bench_database():
    """This benchmark's own database, fresh and migrated, dropped afterwards."""
    return scratch_database(ADMIN_URL, DB_NAME)


def populate(engine: Engine, open_count: int, due_every: int) -> None:
    """Sellers, one conversation and buyer message per deadline; every ``due_every``-th is due."""
    params = {"now": NOW, "n": open_count, "every": due_every, "sellers": SELLERS}
    statements = [
        """INSERT INTO users (id, external_id, name, email, timezone, away)
           SELECT g, 'u' || g, 'Seller ' || g, 'seller' || g || '@example.com',
                  (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'America/Sao_Paulo'])[1 + g % 4], false
           FROM generate_series(1, :sellers) g""",
        """INSERT INTO users (id, external_id, name, email, timezone, away)
           VALUES (:sellers + 1, 'buyer', 'Buyer', 'buyer@example.com', 'UTC', false)""",
        """INSERT INTO conversations (id, external_id, buyer_id, seller_id)
           SELECT g, 'c' || g, :sellers + 1, 1 + g % :sellers FROM generate_series(1, :n) g""",
        """CREATE TEMP TABLE starts AS
           SELECT g, CASE WHEN g % :every = 0 THEN CAST(:now AS timestamptz) - interval '90 minutes'
                          ELSE CAST(:now AS timestamptz) - make_interval(mins => g % 59) END AS ts
           FROM generate_series(1, :n) g""",
        """INSERT INTO messages (id, external_id, conversation_id, sender_id, body, sent_at, recorded_at)
           SELECT g, 'm' || g, g, :sellers + 1, 'Is this still available?', ts, ts FROM starts""",
        """INSERT INTO response_deadlines (conversation_id, seller_id, started_at, started_by_message_id,
                                          stage_sent, next_due_at, away)
           SELECT g, 1 + g % :sellers, ts, g, 0, ts + interval '1 hour', false FROM starts""",
        "SELECT setval(pg_get_serial_sequence('users', 'id'), :sellers + 1)",
        "SELECT setval(pg_get_serial_sequence('conversations', 'id'), :n)",
        "SELECT setval(pg_get_serial_sequence('messages', 'id'), :n)",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def due_query_plan(engine: Engine) -> str:
    """EXPLAIN ANALYZE of the sweep's own first-batch query (rolled back: the locks are released)."""
    query = due_query(NOW, 2000, postgres=True)
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        rows = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)).scalars()
        plan = "\n".join(rows)
        conn.rollback()
    return plan


def reset_due(engine: Engine) -> None:
    """Undo a sweep so the baseline sweeps the same 10,000 rows."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE email_outbox, response_deadline_events"))
        conn.execute(text("""UPDATE response_deadlines SET stage_sent = 0, next_due_at = started_at + interval '1 hour'
                             WHERE stage_sent > 0 OR next_due_at <> started_at + interval '1 hour'"""))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE response_deadlines"))


def timed_sweep(engine: Engine, url: str) -> tuple[float, dict[str, int]]:
    """The due part of the response sweep (the use case), timed; the bench's messages are never synced."""
    settings = Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": "/tmp/peerguard-bench"})
    app = App(settings, engine, make_session_factory(engine), None)  # type: ignore[arg-type]  # no blobs needed
    started = time.perf_counter()
    outcome = sweep_due(app, NOW)
    return time.perf_counter() - started, dict(outcome.counts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args()
    with bench_database() as url:
        engine = make_engine(url)
        started = time.perf_counter()
        populate(engine, args.open, args.open // args.due)
        print(f"populated {args.open} open deadlines in {time.perf_counter() - started:.1f} s")
        print("plan of the due query (first batch):\n" + due_query_plan(engine))
        cold, counts = timed_sweep(engine, url)
        print(f"sweep, first after the bulk load (cold pages, full-page WAL images): {cold:.3f} s  {counts}")
        reset_due(engine)
        warm, counts = timed_sweep(engine, url)
        print(f"sweep, repeated on the same 10,000 rows (warm): {warm:.3f} s  {counts}")
        reset_due(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_response_deadlines_due"))
        print("plan without the index:\n" + due_query_plan(engine))
        naive, counts = timed_sweep(engine, url)
        print(f"sweep without the partial index (baseline, warm): {naive:.3f} s  {counts}")
        print(f"ratio baseline / indexed (warm): {naive / warm:.2f}x")
        engine.dispose()


if __name__ == "__main__":
    main()
