"""What the outbox's per-status count triggers (migration 0017) cost the writers, on PostgreSQL.

Each round empties the outbox, enqueues --emails in one statement (as the sweeps do), then claims
them in batches of 100 and records every delivery through ``DeliveryLog`` exactly as the
dispatcher does (one UPDATE per email that moves one row to ``sent`` and starts the next), with
the triggers enabled and, alternately, disabled (``ALTER TABLE … DISABLE TRIGGER USER``). It
reports wall time and the PostgreSQL backends' CPU time (from /proc, so the server must run on
this machine), medians over --rounds. No SMTP: only the database side of delivery is timed.
Creates and drops its own database. Usage::

    .venv/bin/python bench/outbox_counts_bench.py [--emails 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from storage import outbox as store  # noqa: E402
from storage.db import make_engine, make_session_factory, transaction  # noqa: E402
from tests import scratch_db  # noqa: E402

ADMIN_URL = os.environ.get("PEERGUARD_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(engine) -> float:
    """CPU seconds used so far by every backend connected to this database (the pool keeps them open)."""
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def one_round(engine, factory, emails: int, triggers: bool) -> dict[str, tuple[float, float]]:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE email_outbox, email_outbox_counts"))
        conn.execute(text(f"ALTER TABLE email_outbox {'ENABLE' if triggers else 'DISABLE'} TRIGGER USER"))
    now = datetime.now(UTC)
    requests = [store.NoticeRequest("new-message", f"u{n}@example.com", f"User {n}",
                                    {"conversation": f"c-{n}", "excerpt": "Is the 1 oz Gold Eagle still for sale?"},
                                    f"bench-{uuid.uuid4().hex}") for n in range(emails)]
    found = {}
    cpu, wall = backend_cpu(engine), time.perf_counter()
    with transaction(factory) as session:
        store.enqueue_notices(session, requests, now)
    found["enqueue"] = (time.perf_counter() - wall, backend_cpu(engine) - cpu)
    cpu, wall = backend_cpu(engine), time.perf_counter()
    while claimed := store.claim_emails(factory, now, now, 100, timedelta(minutes=5)):
        log = store.DeliveryLog(engine)
        for email in claimed:
            assert log.begin_send(email, now)
            log.sent(email, f"<{email.id}@bench>", now)
        log.close()
    found["claim + deliver"] = (time.perf_counter() - wall, backend_cpu(engine) - cpu)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM email_outbox WHERE status = 'sent'")).scalar_one() == emails
        if triggers:
            assert conn.execute(text("SELECT sum(n) FROM email_outbox_counts WHERE status = 'sent'")).scalar_one() == emails
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    name = f"peerguard_bench_counts_{uuid.uuid4().hex[:8]}"
    url = scratch_db.create_database(ADMIN_URL, name)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    results: dict[bool, dict[str, list[tuple[float, float]]]] = {True: {}, False: {}}
    try:
        print(f"load average {os.getloadavg()[0]:.1f}; {args.emails:,} emails a round, {args.rounds} rounds alternating")
        for _ in range(args.rounds):
            for triggers in (True, False):
                for step, figures in one_round(engine, factory, args.emails, triggers).items():
                    results[triggers].setdefault(step, []).append(figures)
        for step in results[True]:
            on, off = results[True][step], results[False][step]
            wall_on, wall_off = statistics.median(w for w, _ in on), statistics.median(w for w, _ in off)
            cpu_on, cpu_off = statistics.median(c for _, c in on), statistics.median(c for _, c in off)
            print(f"{step:<16} triggers: wall {wall_on:.3f} s, server CPU {cpu_on:.2f} s | without: wall {wall_off:.3f} s, "
                  f"server CPU {cpu_off:.2f} s | ratio wall {wall_on / wall_off:.2f}x, server CPU {cpu_on / max(cpu_off, 0.01):.2f}x")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        engine.dispose()
        scratch_db.drop_database(ADMIN_URL, name)


if __name__ == "__main__":
    main()
