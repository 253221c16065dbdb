"""The ingest path's CPU: ``usecases.importing.ingest`` (what ``POST /v1/batch`` calls) fed bench/e2e_load.py's batches.

A fresh PostgreSQL database (``tests.scratch_db``, dropped at the end), ``--conversations``
conversations seeded (e2e_load's users and conversations, through the ingest), ``--warmup``
batches, then ``--batches`` batches of ``--batch`` chat messages spread over all conversations
(e2e_load's ``Offer.records``: each batch of 500 touches 500 different conversations), each
through ``importing.ingest`` in this process. The doorbell is ``usecases.app.SilentDoorbell``
(nobody scans; no Redis involved), so what is measured is the ingest alone.

Reported per message over the measured batches: wall time, this process's CPU
(``time.process_time``: the ingest's Python, psycopg included) and the CPU of the PostgreSQL
backends serving the database (from /proc: bench/run_once_bench.py's ``server_cpu``).

``--statements``: every statement of the measured batches is logged by the server
(``SET log_min_duration_statement = 0`` on the ingest's connections) and summed per statement
text from the server's log (``--log``, lines filtered by this database's name): parse, bind
and execute durations added up.

``--analyze``: ANALYZE after the warm-up; otherwise the planner sees the tables as never analysed
(a run is shorter than autovacuum's first look), as in the first minute of bench/e2e_load.py.

``--fixed-clock``: messages' times and the ingest's ``now`` come from a fixed clock, so two
runs (two checkouts) store identical rows; ``--dump FILE`` then writes every table the ingest
writes, ordered by the marketplace's ids, for ``diff``.

Run from a checkout's root with its .venv; against another checkout, put it first on the path and
run from its root (the migrations' alembic.ini puts the working directory first on the path):

    .venv/bin/python bench/ingest_bench.py [--batches 60] [--warmup 10] [--batch 500]
        [--conversations 2000] [--statements] [--fixed-clock --dump /tmp/ingest.dump]
    cd /path/to/other && PYTHONPATH=$PWD /this/checkout/.venv/bin/python /this/checkout/bench/ingest_bench.py
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The checkout measured: the first PYTHONPATH entry when set (its bench/e2e_load.py, which puts its own
# checkout first on the path, and its stream.py too), else this file's.
_PATH = os.environ.get("PYTHONPATH")
ROOT = Path(_PATH.split(os.pathsep)[0]).resolve() if _PATH else Path(__file__).resolve().parent.parent
HERE = ROOT / "bench"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("PEERGUARD_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FIXED_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def log_statements(engine) -> None:
    """Every statement on the engine's connections goes to the server's log with its duration."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _log_all(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET log_min_duration_statement = 0")
        dbapi_connection.commit()


_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+ \[\d+\] ")
_DURATION = re.compile(r"duration: ([\d.]+) ms\s+(?:statement|execute [^:]*|parse [^:]*|bind [^:]*):\s*(.*)", re.S)


def statement_summary(log: Path, offset: int, database: str, top: int) -> None:
    """Sum the durations the server logged for this database since ``offset``, per statement text."""
    entries: list[str] = []
    with log.open(errors="replace") as f:
        f.seek(offset)
        for line in f:
            if _ENTRY.match(line):
                entries.append(line)
            elif entries:
                entries[-1] += line
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    marker = f"@{database} "
    for entry in entries:
        if marker not in entry:
            continue
        found = _DURATION.search(entry)
        if found:
            statement = re.sub(r"\s+", " ", re.sub(r"\$\d+", "$", found.group(2))).strip()[:150]
            totals[statement][0] += 1
            totals[statement][1] += float(found.group(1))
    print(f"server-logged statement time: {sum(t for _, t in totals.values()):.0f} ms (parse + bind + execute)")
    for statement, (count, ms) in sorted(totals.items(), key=lambda item: -item[1][1])[:top]:
        print(f"  {ms:8.1f} ms {count:5.0f}  {statement}")


DUMPS = {
    "users": "SELECT * FROM users ORDER BY external_id",
    "conversations": "SELECT * FROM conversations ORDER BY external_id",
    "messages": "SELECT * FROM messages ORDER BY external_id",
    "conversation_reads": "SELECT c.external_id, u.external_id, r.* FROM conversation_reads AS r"
                          " JOIN conversations AS c ON c.id = r.conversation_id JOIN users AS u ON u.id = r.user_id"
                          " ORDER BY c.external_id, u.external_id",
    "notifications": "SELECT c.external_id, u.external_id, n.* FROM notifications AS n"
                     " JOIN conversations AS c ON c.id = n.conversation_id JOIN users AS u ON u.id = n.recipient_id"
                     " ORDER BY c.external_id, u.external_id",
}


def dump(engine, path: Path) -> None:
    """Every table the ingest writes (plus every other non-empty table's row count), ordered by external ids."""
    from sqlalchemy import inspect, text

    with engine.connect() as connection, path.open("w") as out:
        for table, query in DUMPS.items():
            out.write(f"== {table}\n")
            for row in connection.execute(text(query)):
                out.write(repr(tuple(row)) + "\n")
        for table in sorted(inspect(connection).get_table_names()):
            if table not in DUMPS:
                out.write(f"== {table}: {connection.execute(text(f'SELECT count(*) FROM {table}')).scalar()} rows\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--statements", action="store_true", help="per-statement server time from the server's log")
    parser.add_argument("--log", type=Path, default=Path("/var/log/postgresql/postgresql-15-main.log"))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--analyze", action="store_true", help="ANALYZE the database after the warm-up (statistics as"
                        " autovacuum would give them; by default the tables are as fresh as the bench made them)")
    parser.add_argument("--fixed-clock", action="store_true", help="message times and `now` from a fixed clock")
    parser.add_argument("--dump", type=Path, help="write the tables the ingest writes here (use with --fixed-clock)")
    args = parser.parse_args()

    from tests.scratch_db import create_database, drop_database

    name = f"pg_ingest_{uuid.uuid4().hex[:8]}"
    url = create_database(ADMIN_URL, name)
    folder = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    os.environ.update({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(folder), "EMAIL_URL": (folder / "outbox").as_uri(),
                       "PEERGUARD_SECRET_KEY": "bench-ingest", "PEERGUARD_ENV": "development"})
    os.environ.pop("REDIS_URL", None)
    try:
        import e2e_load
        from run_once_bench import server_cpu

        from usecases import importing
        from usecases.app import App, SilentDoorbell
        from usecases.settings import Settings

        app = App.from_settings(Settings.from_environment(), SilentDoorbell())
        if args.statements:
            log_statements(app.engine)
        start = FIXED_START if args.fixed_clock else datetime.now(UTC)
        pairs = e2e_load.seed_conversations(app, args.conversations, start)
        offer = e2e_load.Offer(app, pairs, 1e9, 1e9, args.batch, seed=1)
        if args.fixed_clock:
            offer.clock = start - timedelta(days=1)

        def now(k: int) -> datetime:
            return start + timedelta(seconds=k) if args.fixed_clock else datetime.now(UTC)

        def ingest(k: int, records: list[dict]) -> None:
            outcomes = importing.ingest(app, records, now(k))
            assert all(o.status == "created" for o in outcomes), [o for o in outcomes if o.status != "created"][:3]

        for k in range(args.warmup):
            ingest(k, offer.records(args.batch))
        batches = [offer.records(args.batch) for _ in range(args.batches)]
        if args.analyze:
            from sqlalchemy import text

            with app.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
        offset = args.log.stat().st_size if args.statements else 0
        wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu(app)
        for k, records in enumerate(batches, start=args.warmup):
            ingest(k, records)
        wall, cpu, server = time.perf_counter() - wall, time.process_time() - cpu, server_cpu(app) - server
        n = args.batches * args.batch
        one, five, _ = os.getloadavg()
        print(f"ingest {n} messages ({args.batches} x {args.batch}, {args.conversations} conversations, "
              f"{args.warmup} warm-up batches) from {importing.__file__}")
        print(f"wall {wall:.2f} s = {wall / n * 1e6:.0f} us/msg; CPU here {cpu:.2f} s = {cpu / n * 1e6:.1f} us/msg; "
              f"PostgreSQL {server:.2f} s = {server / n * 1e6:.1f} us/msg; load {one:.1f} (5 min {five:.1f})")
        if args.statements:
            time.sleep(0.5)  # the logger's last lines
            statement_summary(args.log, offset, name, args.top)
        if args.dump:
            dump(app.engine, args.dump)
            print(f"tables written to {args.dump}")
        app.dispose()
    finally:
        drop_database(ADMIN_URL, name)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
