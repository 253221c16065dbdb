"""The Dramatiq workers alone: a pre-filled queue drained by `peerguard worker`, with their CPU a message.

A fresh PostgreSQL database and Redis db (bench/e2e_load.py's ``Phase``), 2,000 conversations, then
``N`` messages ingested the e2e driver's way (500-record batches, each conversation its next message
in turn; every commit rings the doorbell, so the rings wait in Redis). Then `peerguard worker`
(with ``WARGS``) starts and drains them; from its first scanned message to the last it prints the
rate, the workers' CPU (every `dramatiq` process, from /proc) and the database's backends' CPU, a
message. No driver competes for the cores, unlike bench/e2e_load.py.

    N=30000 WARGS="-p 2 -t 4" .venv/bin/python bench/worker_drain.py [--redis redis://127.0.0.1:6379/11]
    PYTHONPATH=/other/checkout ...          # another checkout (run from its directory)
"""

import argparse
import os
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import e2e_load  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(database: str) -> tuple[float, float]:
    """CPU seconds so far of the worker processes and of this database's backends."""
    workers = backends = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / TICK
        if "dramatiq" in command or "peerguard worker" in command:
            workers += seconds
        elif database in command:
            backends += seconds
    return workers, backends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    count = int(os.environ.get("N", "30000"))
    worker_args = shlex.split(os.environ.get("WARGS", ""))
    folder = Path(tempfile.mkdtemp(prefix="pg-drain-"))
    phase = e2e_load.Phase("batched", args.redis, folder, 2000)
    phase.worker_args = worker_args
    try:
        from sqlalchemy import create_engine, text

        from usecases import importing

        app = e2e_load.driver_app(phase)
        offer = e2e_load.Offer(app, e2e_load.seed_conversations(app, 2000), 1e9, 1e9, 500, seed=1)
        started = time.perf_counter()
        for _ in range(count // 500):
            importing.ingest(app, offer.records(500), datetime.now(UTC))
        print(f"pre-filled {count // 500 * 500} messages in {time.perf_counter() - started:.1f} s", flush=True)
        engine = create_engine(phase.url)

        def waiting() -> int:
            with engine.connect() as connection:
                return connection.execute(text("SELECT count(*) FROM messages WHERE scanned_at IS NULL")).scalar_one()

        total = waiting()
        phase.start_worker(folder / "logs")
        while waiting() == total:
            time.sleep(0.05)
        began, (workers, backends), first = time.perf_counter(), cpu_seconds(phase.db_name), waiting()
        while waiting():
            time.sleep(0.5)
        seconds = time.perf_counter() - began
        workers_after, backends_after = cpu_seconds(phase.db_name)
        worker_cpu, database_cpu = workers_after - workers, backends_after - backends
        print(f"worker {' '.join(worker_args) or '(defaults)'}: scanned {first} in {seconds:.1f} s = {first / seconds:,.0f} msg/s; "
              f"worker CPU {worker_cpu:.1f} s ({worker_cpu / first * 1e6:.0f} µs a message), "
              f"PostgreSQL {database_cpu:.1f} s ({database_cpu / first * 1e6:.0f} µs); load {os.getloadavg()[0]:.1f}")
        engine.dispose()
        app.dispose()
    finally:
        phase.stop()


if __name__ == "__main__":
    main()
