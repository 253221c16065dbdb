"""End-to-end load benchmark: messages offered at a fixed rate through the ingest, scanned by `peerguard worker`.

Real PostgreSQL (a fresh database per phase) and Redis (``--redis``, flushed per phase), and the
default worker (``peerguard worker``: 2 processes × 4 threads) started as its own process group.
The driver offers chat messages (texts from bench/stream.py, about 4% contact attempts, spread
over ``--conversations`` conversations) through ``usecases.importing.ingest`` — what
``POST /v1/batch`` calls — in batches paced to the offered rate; each commit rings the doorbell,
the workers scan. Two measurements per design:

* ``throughput``: offered at ``--rate`` (above what the system sustains) for ``--seconds``; the
  figure is messages scanned per second over the window after a warm-up (ingested and scanned
  counts, and the backlog left, are printed alongside so "sustained" can be judged);
* ``latency``: offered at ``--latency-rate`` (1,000 msg/s) for ``--latency-seconds``; a monitor
  polls the database every 50 ms for the offered messages and takes, per message, the time from
  the ingest's commit (when ``ingest`` returned) to the first poll that sees it scanned (its
  findings and review items commit in the same transaction); p50/p99/max.

Designs: ``batched`` (this code: one ring per ingest commit, up to 200 ids a Dramatiq message)
and ``naive`` (the baseline the issue names: one Dramatiq message per chat message — the same
driver with a doorbell that sends each id alone). Each prints the load average at start and end.

    .venv/bin/python bench/e2e_load.py [--seconds 120] [--rate 6000] [--latency-seconds 60]
        [--designs batched,naive] [--phases throughput,latency] [--redis redis://127.0.0.1:6379/3]
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("PEERGUARD_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BIN = Path(sys.executable).parent


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


class Phase:
    """One design × one measurement: a fresh database and Redis db, the workers, the driver."""

    def __init__(self, design: str, redis_url: str, folder: Path, conversations: int) -> None:
        from tests.scratch_db import create_database

        self.design, self.redis_url, self.folder = design, redis_url, folder
        self.db_name = f"pg_e2e_{design}_{uuid.uuid4().hex[:8]}"
        self.url = create_database(ADMIN_URL, self.db_name)
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        self.env = {**os.environ, "DATABASE_URL": self.url, "REDIS_URL": redis_url, "PEERGUARD_DATA_DIR": str(folder),
                    "EMAIL_URL": (folder / "outbox").as_uri(), "PEERGUARD_SECRET_KEY": "bench-e2e",
                    "PEERGUARD_ENV": "development"}
        self.worker: subprocess.Popen | None = None
        self.conversations = conversations
        self.worker_args: list[str] = []

    def start_worker(self, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        log = (logs / f"worker-{self.db_name}.log").open("w")
        self.worker = subprocess.Popen([str(BIN / "peerguard"), "worker", *self.worker_args], env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        from tests.scratch_db import drop_database

        if self.worker is not None:
            try:
                os.killpg(self.worker.pid, signal.SIGTERM)
                self.worker.wait(60)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait()
        drop_database(ADMIN_URL, self.db_name)


def driver_app(phase: Phase):
    """The ingest's App in this process: the broker doorbell, or the naive one (one message per id)."""
    os.environ.update({k: phase.env[k] for k in ("DATABASE_URL", "REDIS_URL", "PEERGUARD_DATA_DIR", "EMAIL_URL",
                                                 "PEERGUARD_SECRET_KEY", "PEERGUARD_ENV")})
    from actors import broker as _broker  # noqa: F401  (the Redis broker, before any actor)
    from actors.app import BrokerDoorbell
    from usecases.app import App
    from usecases.settings import Settings

    class NaiveDoorbell(BrokerDoorbell):
        """The design the issue compares with: every chat message its own Dramatiq message."""

        def scan(self, message_ids):
            for message_id in message_ids:
                super().scan([message_id])

    doorbell = NaiveDoorbell() if phase.design == "naive" else BrokerDoorbell()
    return App.from_settings(Settings.from_environment(), doorbell)


def seed_conversations(app, conversations: int, now: datetime | None = None) -> list[tuple[str, str, str]]:
    """Users and ``conversations`` conversations through the ingest (recorded as of ``now``); their (id, buyer, seller)."""
    from usecases import importing

    people = max(4, conversations // 2)
    rng = random.Random(17)
    now = now or datetime.now(UTC)
    users = [{"type": "user", "id": f"u-{i}", "name": f"Trader {i}", "email": f"trader{i}@example.com"} for i in range(people)]
    pairs = []
    records: list[dict] = list(users)
    for c in range(conversations):
        buyer, seller = rng.sample(range(people), 2)
        pairs.append((f"c-{c}", f"u-{buyer}", f"u-{seller}"))
        records.append({"type": "conversation", "id": f"c-{c}", "buyer": f"u-{buyer}", "seller": f"u-{seller}",
                        "subject": f"Lot {c}"})
    for start in range(0, len(records), 1000):
        outcomes = importing.ingest(app, records[start:start + 1000], now)
        assert all(o.status != "error" for o in outcomes), [o for o in outcomes if o.status == "error"][:3]
    return pairs


class Offer:
    """Paced ingest of generated messages; remembers each batch's commit time."""

    def __init__(self, app, pairs, rate: float, seconds: float, batch: int, seed: int) -> None:
        import stream

        self.app, self.pairs, self.rate, self.seconds, self.batch = app, pairs, rate, seconds, batch
        self.texts = stream.messages(10_000_000, seed)
        self.rng = random.Random(seed)
        self.clock = datetime.now(UTC) - timedelta(days=1)
        self.sent = 0
        self.committed: list[tuple[float, list[str]]] = []
        self.behind = 0.0

    def records(self, count: int) -> list[dict]:
        out = []
        for _ in range(count):
            c, buyer, seller = self.pairs[self.sent % len(self.pairs)]
            self.clock += timedelta(milliseconds=5)
            out.append({"type": "message", "id": f"m-{self.sent}", "conversation": c,
                        "sender": buyer if self.rng.random() < 0.55 else seller,
                        "sent_at": self.clock.isoformat(), "text": next(self.texts)})
            self.sent += 1
        return out

    def run(self) -> None:
        from usecases import importing

        started = time.monotonic()
        k = 0
        while True:
            due = started + k * self.batch / self.rate
            if due - started >= self.seconds or time.monotonic() - started >= self.seconds:
                return  # offered for the whole time (a driver that cannot keep up offers fewer)
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                self.behind = max(self.behind, -wait)
            records = self.records(self.batch)
            outcomes = importing.ingest(self.app, records, datetime.now(UTC))
            self.committed.append((time.monotonic(), [r["id"] for r in records]))
            assert all(o.status == "created" for o in outcomes), [o for o in outcomes if o.status != "created"][:3]
            k += 1


def counts(engine) -> tuple[int, int]:
    from sqlalchemy import text

    with engine.connect() as conn:
        total, scanned = conn.execute(text("SELECT count(*), count(scanned_at) FROM messages")).one()
    return total, scanned


def throughput(args, phase: Phase) -> dict:
    from sqlalchemy import create_engine

    app = driver_app(phase)
    engine = create_engine(phase.url)
    try:
        pairs = seed_conversations(app, args.conversations)
        phase.start_worker(args.logs)
        time.sleep(args.worker_start)
        offer = Offer(app, pairs, args.rate, args.seconds, args.batch, seed=1)
        thread = threading.Thread(target=offer.run, daemon=True)
        samples: list[tuple[float, int, int]] = []
        began = time.monotonic()
        thread.start()
        while thread.is_alive():
            time.sleep(1.0)
            total, scanned = counts(engine)
            samples.append((time.monotonic() - began, total, scanned))
        thread.join()
        ended = time.monotonic() - began
        total, scanned = counts(engine)
        samples.append((ended, total, scanned))
        warm = next((s for s in samples if s[0] >= args.warmup), samples[0])
        window = ended - warm[0]
        drained = None
        if args.drain:
            while scanned < total and time.monotonic() - began < ended + args.drain:
                time.sleep(0.5)
                total, scanned = counts(engine)
            drained = time.monotonic() - began - ended if scanned >= total else None
        return {
            "design": phase.design, "offered_rate": args.rate, "seconds": round(ended, 1),
            "ingested": samples[-1][1], "ingested_per_s": round(samples[-1][1] / ended),
            "scanned_per_s_after_warmup": round((samples[-1][2] - warm[2]) / window) if window > 0 else None,
            "scanned_per_s_overall": round(samples[-1][2] / ended),
            "backlog_at_end": samples[-1][1] - samples[-1][2], "drain_s": round(drained, 1) if drained is not None else None,
            "driver_fell_behind_s": round(offer.behind, 2),
        }
    finally:
        engine.dispose()
        app.dispose()


def latency(args, phase: Phase) -> dict:
    from sqlalchemy import create_engine, text

    app = driver_app(phase)
    engine = create_engine(phase.url)
    try:
        pairs = seed_conversations(app, args.conversations)
        phase.start_worker(args.logs)
        time.sleep(args.worker_start)
        offer = Offer(app, pairs, args.latency_rate, args.latency_seconds, args.latency_batch, seed=2)
        thread = threading.Thread(target=offer.run, daemon=True)
        seen: dict[str, float] = {}
        thread.start()
        taken = 0
        waiting: dict[str, float] = {}
        deadline = None
        while True:
            # Messages committed since the last poll join the waiting set with their commit time.
            for at, ids in offer.committed[taken:]:
                waiting.update(dict.fromkeys(ids, at))
            taken = len(offer.committed)
            if waiting:
                with engine.connect() as conn:
                    done = conn.execute(text("SELECT external_id FROM messages WHERE scanned_at IS NOT NULL "
                                             "AND external_id = ANY(:ids)"), {"ids": list(waiting)}).scalars().all()
                polled = time.monotonic()
                for external_id in done:
                    seen[external_id] = polled - waiting.pop(external_id)
            if not thread.is_alive():
                deadline = deadline or time.monotonic() + 60
                if not waiting or time.monotonic() > deadline:
                    break
            time.sleep(0.05)
        values = sorted(seen.values())

        def pct(p: float) -> float:
            return round(values[min(len(values) - 1, int(p * len(values)))], 3)

        return {"design": phase.design, "offered_rate": args.latency_rate, "seconds": args.latency_seconds,
                "messages": offer.sent, "measured": len(values), "never_scanned": len(waiting),
                "p50_s": pct(0.50), "p99_s": pct(0.99), "max_s": round(values[-1], 3),
                "mean_s": round(statistics.fmean(values), 3), "driver_fell_behind_s": round(offer.behind, 2)}
    finally:
        engine.dispose()
        app.dispose()


def run_phase(args, design: str, measurement: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="e2e_") as tmp:
        phase = Phase(design, args.redis, Path(tmp), args.conversations)
        phase.worker_args = shlex.split(args.worker_args)
        before = load()
        try:
            result = (throughput if measurement == "throughput" else latency)(args, phase)
        finally:
            phase.stop()
        return {"measurement": measurement, **result, "load_before": before, "load_after": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="throughput: how long messages are offered")
    parser.add_argument("--rate", type=float, default=6000.0, help="throughput: offered messages/s")
    parser.add_argument("--batch", type=int, default=500, help="throughput: messages per ingest call")
    parser.add_argument("--warmup", type=float, default=10.0, help="throughput: seconds left out of the rate")
    parser.add_argument("--drain", type=float, default=0.0, help="throughput: wait up to this long for the backlog")
    parser.add_argument("--latency-rate", type=float, default=1000.0)
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--latency-batch", type=int, default=50, help="latency: messages per ingest call")
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--worker-start", type=float, default=8.0, help="seconds to let the workers start")
    parser.add_argument("--designs", default="batched,naive")
    parser.add_argument("--worker-args", default="", help="extra `peerguard worker` options, e.g. '-t 2'")
    parser.add_argument("--logs", type=Path, default=ROOT / "var" / "bench-e2e", help="where the workers' logs go")
    parser.add_argument("--phases", default="throughput,latency")
    parser.add_argument("--redis", default=os.environ.get("PEERGUARD_BENCH_REDIS", "redis://127.0.0.1:6379/3"))
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {load()}; PostgreSQL {ADMIN_URL.rsplit('@', 1)[-1]}, Redis {args.redis}", flush=True)
    for measurement in args.phases.split(","):
        for design in args.designs.split(","):
            print(run_phase(args, design, measurement), flush=True)


if __name__ == "__main__":
    main()
