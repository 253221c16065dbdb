"""Benchmark of `peerguard review list` on PostgreSQL: 1,000,000 items of which 50,000 pending.

Creates a database of its own (dropped at the end, even on failure), bulk-loads it with
``generate_series`` in SQL, then times:

* the service query (``usecases.review.list_queue``), warm, with and without ``--kind``;
* the same query with the partial queue index dropped inside a transaction that is rolled
  back (the baseline), in the same run, so the ratio compares like with like;
* the whole command line (``peerguard review list``), process start to exit;

and prints EXPLAIN (ANALYZE, BUFFERS) of both plans. Usage::

    .venv/bin/python bench/review_list_bench.py [--items 1000000] [--pending 50000] [--runs 30]

PEERGUARD_BENCH_POSTGRES overrides the admin URL (default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import migrations  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.review_queue import queue_sql  # noqa: E402
from tests import scratch_db as scratch  # noqa: E402
from usecases.review import list_queue  # noqa: E402

ADMIN_URL = os.environ.get("PEERGUARD_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
USERS = 20_000
CONVERSATIONS = USERS // 2

LOAD_SQL = [
    "SELECT setseed(0.42)",
    # Bulk load without per-row foreign-key triggers; the generated ids are consistent by construction.
    "SET session_replication_role = replica",
    f"""INSERT INTO users (id, external_id, name, email, timezone, away, role, restricted)
        SELECT g, 'bench-u-' || g, 'User ' || g, 'u' || g || '@example.com', 'UTC', false,
               CASE WHEN g = 1 THEN 'staff' ELSE 'member' END, false
        FROM generate_series(1, {USERS}) g""",
    f"""INSERT INTO conversations (id, external_id, buyer_id, seller_id, subject)
        SELECT g, 'bench-c-' || g, 2 * g - 1, 2 * g, 'Lot ' || g FROM generate_series(1, {CONVERSATIONS}) g""",
    """INSERT INTO messages (id, external_id, conversation_id, sender_id, body, sent_at, recorded_at, scanned_at)
        SELECT g, 'bench-m-' || g, (g - 1) % {conv} + 1, 2 * ((g - 1) % {conv} + 1), 'bench message ' || g,
               t, t, t
        FROM (SELECT g, :now - (random() * interval '365 days') AS t FROM generate_series(1, :items) g) s""",
    """INSERT INTO review_items (id, target_key, conversation_id, message_id, subject_user_id, kind, status, score,
                                priority, high_severity, claimed_by_id, claim_expires_at, resolved_by_id, resolved_at,
                                resolution_note, opened_at, version)
        SELECT g, 'message:' || g, (g - 1) % {conv} + 1, g, 2 * ((g - 1) % {conv} + 1), kind,
               CASE WHEN g % :every = 0 THEN 'pending' ELSE (ARRAY['confirmed', 'dismissed', 'ignored'])[1 + g % 3] END,
               score,
               CASE kind WHEN 'payment' THEN 3 WHEN 'intent' THEN 1 ELSE 2 END * 100 + score * 20 + (g % 4) * 6
                 - 2 * extract(epoch FROM opened_at - timestamptz '2026-01-01 00:00:00+00') / 86400,
               kind = 'payment' AND g % 7 = 0,
               CASE WHEN g % :every = 0 AND g % 100 = 0 THEN 1 END,
               CASE WHEN g % :every = 0 AND g % 100 = 0 THEN :now + interval '20 minutes' END,
               CASE WHEN g % :every <> 0 THEN 1 END,
               CASE WHEN g % :every <> 0 THEN opened_at + interval '3 hours' END,
               NULL, opened_at, 2
        FROM (SELECT g, (ARRAY['payment', 'phone', 'email', 'url', 'handle', 'intent'])[1 + floor(random() * 6)::int] AS kind,
                     random() AS score, :now - (random() * interval '365 days') AS opened_at
              FROM generate_series(1, :items) g) s""",
    "SET session_replication_role = DEFAULT",
    # Keep the sequences ahead of the generated ids, as a real database would be.
    "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))",
    "SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT max(id) FROM conversations))",
    "SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))",
    "SELECT setval(pg_get_serial_sequence('review_items', 'id'), (SELECT max(id) FROM review_items))",
]


def create_database() -> tuple[str, str]:
    """A fresh database for this run; returns (name, url)."""
    name = f"peerguard_bench_review_{uuid.uuid4().hex[:8]}"
    return name, scratch.create_database(ADMIN_URL, name)


def drop_database(name: str) -> None:
    scratch.drop_database(ADMIN_URL, name)


def load(engine, items: int, pending: int, now: datetime) -> float:
    """Fill the database; returns seconds taken (load plus VACUUM ANALYZE)."""
    started = time.perf_counter()
    params = {"now": now, "items": items, "every": items // pending}
    with engine.begin() as conn:
        for statement in LOAD_SQL:
            sql = statement.replace("{conv}", str(CONVERSATIONS))
            conn.execute(text(sql), {k: v for k, v in params.items() if f":{k}" in sql})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def time_service(session, now: datetime, runs: int, kind: str | None) -> list[float]:
    """Milliseconds of ``list_queue`` per run (one warm-up run first, not counted)."""
    list_queue(session, now, kind=kind)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        entries = list_queue(session, now, kind=kind)
        timings.append((time.perf_counter() - started) * 1000)
    assert len(entries) == 50
    return timings


def explain(session, kind: str | None) -> str:
    """The plan of the statement `peerguard review list` sends (storage.review_queue), with its parameters."""
    parameters = {"limit": 50} | ({"kind": kind} if kind else {})
    rows = session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {queue_sql('pending', kind)}"), parameters)
    return "\n".join(row[0] for row in rows)


def measure(session_factory, now: datetime, runs: int, drop_index: bool) -> dict[str, object]:
    """Timings and plans, with the queue index in place or dropped in a rolled-back transaction."""
    with session_factory() as session:
        if drop_index:
            session.execute(text("DROP INDEX ix_review_items_queue"))
        result = {
            "all": time_service(session, now, runs, None),
            "payment": time_service(session, now, runs, "payment"),
            "plan_all": explain(session, None),
            "plan_payment": explain(session, "payment"),
        }
        session.rollback()
    return result


def time_cli(url: str, runs: int, args: list[str]) -> list[float]:
    """Milliseconds of a whole `peerguard review list` process, start to exit."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"DATABASE_URL": url}
    command = [str(Path(sys.executable).parent / "peerguard"), "review", "list", *args]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        timings.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
    return timings


def time_imports(runs: int) -> list[float]:
    """Milliseconds of a Python process that only imports what `review list` needs: the floor."""
    command = [sys.executable, "-c", "import peerguard.cli, usecases.review_queue, storage.migrations, psycopg"]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def summary(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, min {ordered[0]:.2f} ms (n={len(ordered)})"


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(timezone.utc)
    name, url = create_database()
    try:
        migrations.upgrade(url)
        engine = make_engine(url)
        seconds = load(engine, args.items, args.pending, now)
        factory = make_session_factory(engine)
        with factory() as session:
            version = session.scalar(text("SHOW server_version"))
            counts = session.execute(text("SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM review_items")).one()
        indexed = measure(factory, now, args.runs, drop_index=False)
        baseline = measure(factory, now, args.runs, drop_index=True)
        cli_table = time_cli(url, args.cli_runs, [])
        cli_json = time_cli(url, args.cli_runs, ["--json"])
        imports = time_imports(args.cli_runs)
        engine.dispose()
        report(args, seconds, version, counts, indexed, baseline, cli_table, cli_json, imports)
    finally:
        drop_database(name)


def report(args, seconds, version, counts, indexed, baseline, cli_table, cli_json, imports) -> None:
    print(f"machine: {machine()}, PostgreSQL {version}")
    print(f"data: {counts[0]:,} review items, {counts[1]:,} pending, loaded in {seconds:.1f} s")
    for key, label in (("all", "review list"), ("payment", "review list --kind payment")):
        with_index, without = statistics.median(indexed[key]), statistics.median(baseline[key])
        print(f"service {label:<28} indexed:  {summary(indexed[key])}")
        print(f"service {label:<28} baseline: {summary(baseline[key])}")
        print(f"service {label:<28} ratio baseline/indexed (medians): {without / with_index:.1f}x")
    print(f"CLI peerguard review list         {summary(cli_table)}")
    print(f"CLI peerguard review list --json  {summary(cli_json)}")
    print(f"imports only (process floor)      {summary(imports)}")
    for key in ("plan_all", "plan_payment"):
        print(f"\n--- EXPLAIN ANALYZE {key} (indexed) ---\n{indexed[key]}")
        print(f"\n--- EXPLAIN ANALYZE {key} (baseline, index dropped) ---\n{baseline[key]}")


if __name__ == "__main__":
    main()
