"""Whole-process time of the read-only commands (`review list`, `sellers stats`, `outbox status`).

Each command runs --runs times (process start to exit); the baseline in the same run is
`python -c pass` and `python -c "import sqlalchemy.orm"`. Wall time and CPU time (user + system
of the process, from wait4) are both reported: on the shared machine CPU time is the steadier
figure. Also lists which heavy modules each command imports.

Without options the commands read an empty embedded SQLite database. ``--fill N`` creates a
PostgreSQL database of its own (dropped at the end unless --keep), fills it set-based with
``generate_series`` (bench/review_list_bench.py's load: N review items, N/20 pending, 20,000
users, 10,000 conversations, N messages; then HISTORY_SQL below: N outbox emails and N response
deadlines over a year, unless --no-history), and prints the plan (EXPLAIN ANALYZE) of every query
each command sends through the driver; ``--database-url URL`` reuses such a database. Usage::

    .venv/bin/python bench/cli_startup.py [--runs 10]
    .venv/bin/python bench/cli_startup.py --fill 1000000 --runs 10 [--no-history] [--keep] [--baseline-bin ../main/.venv/bin]
    .venv/bin/python bench/cli_startup.py --database-url URL --baseline-bin ../base/.venv/bin --baseline-database-url URL0

With --baseline-bin each command of this checkout and of the baseline run alternately. When the
two checkouts' schemas differ, the baseline reads its own copy of the database
(``CREATE DATABASE copy TEMPLATE filled``, then migrate one of them) given as --baseline-database-url.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMMANDS = (["review", "list"], ["sellers", "stats"], ["outbox", "status"], ["status"])
HEAVY = ("jinja2", "dramatiq", "weasyprint", "pipeline.detection.scanner", "fastapi", "pydantic", "phonenumbers", "alembic",
         "redis", "prometheus_client", "httpx", "sqlalchemy", "sqlalchemy.orm", "storage.models")
CORE = "import click, psycopg, sqlalchemy, sqlalchemy.dialects.postgresql.psycopg"
FLOORS = (
    ("click + psycopg (driver)", "import click, psycopg"),
    ("Core + psycopg + click", CORE),
    ("  + sqlalchemy.orm", CORE + ", sqlalchemy.orm"),
    ("  + storage.models", CORE + ", sqlalchemy.orm, storage.models"),
    ("  + mappers configured", CORE + ", storage.models; sqlalchemy.orm.configure_mappers()"),
)
ADMIN_URL = os.environ.get("PEERGUARD_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``runs`` processes."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = _one(argv, env)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def timed_pair(first: tuple[list[str], dict[str, str]], second: tuple[list[str], dict[str, str]],
               runs: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median wall and CPU seconds of two commands run alternately (A, B, A, B…), so load changes hit both alike."""
    found: list[list[tuple[float, float]]] = [[], []]
    for _ in range(runs):
        for side, (argv, env) in enumerate((first, second)):
            found[side].append(_one(argv, env))
    medians = [(statistics.median(w for w, _ in side), statistics.median(c for _, c in side)) for side in found]
    return medians[0], medians[1]


def _one(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, (argv, process.returncode)
    return wall, usage.ru_utime + usage.ru_stime


PROBE = """
import json, sys
from storage import direct
statements = []
_rows = direct.DirectReader.rows
def rows(self, sql, parameters=None):
    statements.append((direct.pyformat(sql) if parameters else sql, dict(parameters or {})))
    return _rows(self, sql, parameters)
direct.DirectReader.rows = rows
_stream = direct.DirectReader.stream
def stream(self, sql, parameters=None):
    statements.append((direct.pyformat(sql) if parameters else sql, dict(parameters or {})))
    return _stream(self, sql, parameters)
direct.DirectReader.stream = stream
from peerguard.cli import main
sys.argv = ['peerguard', *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print('HEAVY', json.dumps([m for m in %r if m in sys.modules]))
print('SQL', json.dumps(statements, default=str))
"""


def probe(command: list[str], env: dict[str, str]) -> tuple[list[str], list[tuple[str, object]]]:
    """The heavy modules a command imports and the statements it sends through the driver (in a separate process)."""
    out = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), *command], env=env, capture_output=True,
                         text=True).stdout
    heavy = [json.loads(x[6:]) for x in out.splitlines() if x.startswith("HEAVY ")]
    sql = [json.loads(x[4:]) for x in out.splitlines() if x.startswith("SQL ")]
    return (heavy[-1] if heavy else ["?"]), (sql[-1] if sql else [])


def plans(url: str, statements: list) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each SELECT a command sent, with its parameters."""
    import psycopg

    found = []
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")) or "pg_catalog" in statement \
                    or "alembic_version" in statement or statement.strip().upper() == "SELECT 1":
                continue
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters or None).fetchall()
            found.append(" ".join(statement.split())[:300] + "\n" + "\n".join("    " + r[0] for r in rows))
            conn.rollback()
    return found


# What `outbox status` and `sellers stats` read grows with the same history: one email and one
# response deadline per review item, spread over a year like the items (bench/review_list_bench.py
# fills users, conversations, messages and review items). Emails: about 1 in 1,000 dead, 1 in 500
# still queued, 1 in 997 failed, the rest sent; deadlines: 1 in 10 unanswered, 1 in 50 while away.
HISTORY_SQL = [
    "SET session_replication_role = replica",
    """INSERT INTO email_outbox (id, notice, recipient_address, recipient_name, context, idempotency_key, status,
                                attempts, created_at, next_attempt_at, sent_at, last_error)
        SELECT g, 'new-message', 'u' || (g % 20000) || '@example.com', 'User ' || (g % 20000),
               CAST('{"conversation": "bench-c-' || (g % 10000) || '", "excerpt": "Is the 1 oz Gold Eagle still for sale? I can pay today.", "unsubscribe": "https://peermetals.com/email/unsubscribe/' || md5(g::text) || '"}' AS json),
               'bench-email-' || g, status, 1, t, t,
               CASE WHEN status = 'sent' THEN t + interval '2 seconds' END,
               CASE WHEN status IN ('dead', 'failed') THEN '421 try again later' END
        FROM (SELECT g, :now - (random() * interval '365 days') AS t,
                     CASE WHEN g % 1000 = 0 THEN 'dead' WHEN g % 500 = 1 THEN 'queued' WHEN g % 997 = 0 THEN 'failed'
                          ELSE 'sent' END AS status
              FROM generate_series(1, :items) g) s""",
    """INSERT INTO response_deadlines (id, conversation_id, seller_id, started_at, started_by_message_id, answered_at,
                                      response_seconds, stage_sent, next_due_at, away)
        SELECT g, (g - 1) % {conv} + 1, 2 * ((g - 1) % {conv} + 1), t, g,
               CASE WHEN g % 10 <> 0 THEN t + answer END, CASE WHEN g % 10 <> 0 THEN extract(epoch FROM answer)::int END,
               0, NULL, g % 50 = 0
        FROM (SELECT g, :now - (random() * interval '365 days') AS t, random() * interval '30 hours' AS answer
              FROM generate_series(1, :items) g) s""",
    "SET session_replication_role = DEFAULT",
    # The replica role also kept the outbox's triggers quiet: count what was loaded (migration 0017).
    "DELETE FROM email_outbox_counts",
    "INSERT INTO email_outbox_counts (status, n) SELECT status, count(*) FROM email_outbox GROUP BY status",
    "SELECT setval(pg_get_serial_sequence('email_outbox', 'id'), (SELECT max(id) FROM email_outbox))",
    "SELECT setval(pg_get_serial_sequence('response_deadlines', 'id'), (SELECT max(id) FROM response_deadlines))",
]


def load_history(engine, items: int, now: datetime) -> float:
    """Add ``items`` outbox emails and response deadlines (HISTORY_SQL); returns seconds taken with VACUUM ANALYZE."""
    from sqlalchemy import text

    from bench.review_list_bench import CONVERSATIONS

    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in HISTORY_SQL:
            sql = statement.replace("{conv}", str(CONVERSATIONS))
            conn.execute(text(sql), {k: v for k, v in {"now": now, "items": items}.items() if f":{k}" in sql})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE email_outbox, email_outbox_counts, response_deadlines"))
    return time.perf_counter() - started


def fill(items: int, history: bool = True) -> tuple[str, str]:
    """A fresh migrated PostgreSQL database with ``items`` review items, emails and deadlines; returns (name, url)."""
    sys.path.insert(0, str(ROOT))
    from bench.review_list_bench import load
    from storage.db import make_engine
    from tests import scratch_db

    name = f"peerguard_bench_cli_{uuid.uuid4().hex[:8]}"
    url = scratch_db.create_database(ADMIN_URL, name)
    engine = make_engine(url)
    now = datetime.now(UTC)
    seconds = load(engine, items, max(1, items // 20), now) + (load_history(engine, items, now) if history else 0)
    engine.dispose()
    extra = f", {items:,} outbox emails and {items:,} response deadlines" if history else ""
    print(f"filled {name}: {items:,} review items ({max(1, items // 20):,} pending){extra} in {seconds:.0f} s", flush=True)
    return name, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--fill", type=int, help="PostgreSQL with this many review items (set-based load)")
    parser.add_argument("--database-url", help="an already filled PostgreSQL database to read")
    parser.add_argument("--keep", action="store_true", help="keep the --fill database (its URL is printed)")
    parser.add_argument("--no-history", action="store_true", help="--fill without outbox emails and response deadlines")
    parser.add_argument("--no-plans", action="store_true")
    parser.add_argument("--baseline-bin", type=Path,
                        help="the bin/ folder of another checkout's virtual environment (e.g. main's), timed in the same run")
    parser.add_argument("--baseline-database-url",
                        help="the database the baseline reads (a copy of --database-url at the baseline's schema head)")
    args = parser.parse_args()
    filled = None
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PEERGUARD_DATA_DIR": folder}
        for var in ("DATABASE_URL", "REDIS_URL", "PEERGUARD_LOG_FORMAT"):
            env.pop(var, None)
        url = args.database_url
        if args.fill:
            filled, url = fill(args.fill, history=not args.no_history)
        if url:
            env["DATABASE_URL"] = url
        else:
            subprocess.run([str(BIN / "peerguard"), "db", "upgrade"], env=env, check=True, capture_output=True)
        try:
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; median of {args.runs} runs; "
                  f"database: {'PostgreSQL ' + url.rsplit('/', 1)[1] if url else 'empty SQLite'}")
            floor = timed([sys.executable, "-c", "pass"], env, args.runs)
            orm = timed([sys.executable, "-c", "import sqlalchemy.orm"], env, args.runs)
            print(f"{'':<28} {'wall':>8} {'CPU':>8}")
            print(f"{'python -c pass':<28} {floor[0] * 1000:6.0f} ms {floor[1] * 1000:6.0f} ms")
            print(f"{'import sqlalchemy.orm':<28} {orm[0] * 1000:6.0f} ms {orm[1] * 1000:6.0f} ms")
            # The floors under a command on PostgreSQL: what Core alone would cost, and what the ORM
            # and the model classes (with their mappers configured) add on top of it.
            for label, code in FLOORS:
                wall, cpu = timed([sys.executable, "-c", code], env, args.runs)
                print(f"{label:<28} {wall * 1000:6.0f} ms {cpu * 1000:6.0f} ms")
            explained = []
            base_env = {**env, "DATABASE_URL": args.baseline_database_url} if args.baseline_database_url else env
            for command in COMMANDS:
                if args.baseline_bin:
                    # Alternately, run by run: this branch, then the baseline.
                    (wall, cpu), (base_wall, base_cpu) = timed_pair(
                        ([str(BIN / "peerguard"), *command], env),
                        ([str(args.baseline_bin / "peerguard"), *command], base_env), args.runs)
                else:
                    wall, cpu = timed([str(BIN / "peerguard"), *command], env, args.runs)
                heavy, statements = probe(command, env)
                print(f"{'peerguard ' + ' '.join(command):<28} {wall * 1000:6.0f} ms {cpu * 1000:6.0f} ms  "
                      f"({wall / orm[0]:.2f}x the ORM import's wall)  heavy modules: {', '.join(heavy) or 'none'}",
                      flush=True)
                if args.baseline_bin:
                    print(f"{'  baseline ' + ' '.join(command):<28} {base_wall * 1000:6.0f} ms {base_cpu * 1000:6.0f} ms"
                          f"  (this branch / baseline: wall {wall / base_wall:.2f}x, CPU {cpu / base_cpu:.2f}x)",
                          flush=True)
                if url and not args.no_plans:
                    explained.append((command, plans(url, statements)))
            print(f"load average {os.getloadavg()[0]:.1f} at the end")
            for command, found in explained:
                print(f"\n## peerguard {' '.join(command)}: {len(found)} queries")
                for plan in found:
                    print(plan)
        finally:
            if filled and not args.keep:
                from tests import scratch_db

                scratch_db.drop_database(ADMIN_URL, filled)
            elif filled:
                print(f"kept {url}")


if __name__ == "__main__":
    main()
