"""Fault benchmark: larger versions of tests/faults/, with recovery times, against a reference run.

Each scenario gets a fresh PostgreSQL database and Redis db, real `peerguard worker` and
`peerguard scheduler` processes and an aiosmtpd sink, and is compared by marketplace ids with a
single-process reference (`import` + `run --once` on SQLite):

* ``kill-worker``: kill -9 of one scan worker process while the import is being scanned;
* ``flushdb``: workers stopped (SIGSTOP), import, Redis FLUSHDB, workers resumed;
* ``pg-kill``: pg_terminate_backend of every connection of the app's database while emails are sending;
* ``pg-restart``: a real PostgreSQL restart (``pg_ctl restart -m fast``, down --pg-down seconds) while
  emails are sending, on a private cluster (initdb on a port of 18600-18699; the shared server is
  never restarted);
* ``smtp-down``: the SMTP sink stopped for --smtp-down seconds while emails are due, then back;
* ``kill-mail``: kill -9 of the mail process while emails are sending;
* ``kill-scheduler``: kill -9 of the leading scheduler; a standby takes over;
* ``no-fault``: the mail scenarios' delivery with no fault, the baseline for their recovery times.

Recovery time = from the fault to every message scanned and every email sent. Usage::

    .venv/bin/python bench/faults.py [--conversations 200] [--per-conversation 100] [--emails 2000] [--only NAME]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from storage import migrations  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.outbox import NoticeRequest, enqueue_notices  # noqa: E402
from tests.faults.harness import BIN, STAFF_EMAIL, outcome, reference, write_corpus  # noqa: E402
from tests.faults.private_pg import PrivateCluster, server_bin  # noqa: E402
from tests.responses.smtp_server import RecordingHandler, free_port, start_server  # noqa: E402

ADMIN = os.environ.get("PEERGUARD_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PEERGUARD_BENCH_REDIS", "redis://127.0.0.1:6379/6")


def wait_for(predicate, seconds: float) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            raise TimeoutError
        time.sleep(0.25)
    return time.monotonic() - started


class Deployment:
    """A fresh database + Redis db, and the processes of one scenario."""

    def __init__(self, folder: Path, smtp_port: int, admin_url: str = ADMIN) -> None:
        self.name = f"peerguard_faults_{uuid.uuid4().hex[:8]}"
        self.admin_url = admin_url
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        self.url = admin_url.rsplit("/", 1)[0] + "/" + self.name
        migrations.upgrade(self.url)
        redis.Redis.from_url(REDIS).flushdb()
        self.env = {**os.environ, "DATABASE_URL": self.url, "REDIS_URL": REDIS, "PEERGUARD_DATA_DIR": str(folder),
                    "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}?timeout=5", "PEERGUARD_SECRET_KEY": "bench-faults",
                    "PEERGUARD_STAFF_EMAIL": STAFF_EMAIL}
        self.processes: list[subprocess.Popen] = []

    def start(self, *argv: str) -> subprocess.Popen:
        # Each process's output goes to <scenario folder>/<command>-<n>.log, for reading afterwards.
        folder = Path(self.env["PEERGUARD_DATA_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        log = (folder / f"{argv[0]}-{len(self.processes)}.log").open("w")
        process = subprocess.Popen([str(BIN / "peerguard"), *argv], env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def run(self, *argv: str) -> None:
        subprocess.run([str(BIN / "peerguard"), *argv], env=self.env, check=True, capture_output=True)

    def pids(self, role: str) -> list[int]:
        folder = Path(self.env["PEERGUARD_DATA_DIR"]) / "heartbeats"
        found = []
        for path in folder.glob(f"{role}-*"):
            pid = int(path.name.split("-")[1])
            stat = Path(f"/proc/{pid}/stat")
            if stat.exists() and stat.read_text().split()[2] != "Z":
                found.append(pid)
        return sorted(found)

    def close(self) -> None:
        for process in self.processes:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


def enqueue_emails(url: str, count: int) -> None:
    from datetime import UTC, datetime

    from usecases.app import App
    from usecases.settings import Settings

    app = App.from_settings(Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": "/tmp"}))
    requests = [NoticeRequest("flag-alert", f"staff{n}@example.com", f"Staff {n}",
                              {"item_id": n, "kind": "payment", "sender_email": "x@example.com", "excerpt": "iban",
                               "review_url": "https://peermetals.com/r"}, f"bench:{n}") for n in range(count)]
    with transaction(app.session_factory) as session:
        enqueue_notices(session, requests, datetime.now(UTC))
    app.dispose()


def email_report(handler: RecordingHandler, url: str, count: int) -> dict[str, int]:
    from pipeline.detection import DEFAULT_PLATFORM_DOMAINS
    from pipeline.notices.messages import message_id_for

    ids = Counter(m["Message-ID"] for m in handler.messages)
    engine = create_engine(url)
    with engine.connect() as conn:
        states = Counter({status: count for status, count in
                          conn.execute(text("SELECT status, count(*) FROM email_outbox GROUP BY status"))})
        dead_keys = conn.execute(text("SELECT idempotency_key FROM email_outbox WHERE status = 'dead'")).scalars().all()
    engine.dispose()
    # "Outcome unknown" rows whose message did reach the server (the process died before it
    # recorded the reply) are not missing; lost = neither received nor held as unknown.
    unknown = {message_id_for(key, DEFAULT_PLATFORM_DOMAINS[0]) for key in dead_keys}
    unknown_received = len(unknown & set(ids))
    return {"emails_received": len(ids), "emails_duplicated": sum(c - 1 for c in ids.values() if c > 1),
            "emails_lost": count - len(ids) - (len(unknown) - unknown_received), "outcome_unknown": len(unknown),
            "outcome_unknown_received": unknown_received, "sent_rows": states.get("sent", 0)}


def scan_scenario(name: str, args, folder: Path, expected) -> dict:
    deployment = Deployment(folder / name, free_port())
    try:
        deployment.start("worker", "-p", "2", "-t", "4")
        deployment.start("scheduler", "--interval", "5")
        wait_for(lambda: len(deployment.pids("worker")) == 2, 120)
        workers = deployment.pids("worker")
        if name == "flushdb":
            os.killpg(deployment.processes[0].pid, signal.SIGSTOP)
        started = time.monotonic()
        importer = subprocess.Popen([str(BIN / "peerguard"), "import", str(args.corpus)], env=deployment.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if name == "kill-worker":
            wait_for(lambda: outcome(deployment.url).scanned > expected.messages // 10, 600)
            os.kill(workers[0], signal.SIGKILL)
        importer.wait()
        if name == "flushdb":
            redis.Redis.from_url(REDIS).flushdb()
            os.killpg(deployment.processes[0].pid, signal.SIGCONT)
        fault_at = time.monotonic()
        wait_for(lambda: outcome(deployment.url).scanned == expected.messages, 900)
        recovered = time.monotonic() - fault_at
        # Emails follow the scan: a new-message email that met an unscanned message waits
        # `scan_wait` (1 min) and the next sweep. Wait, bounded, until every email the reference
        # queued is queued here too; what is still missing after that counts as lost.
        def emails_missing() -> bool:
            return bool(expected.emails - outcome(deployment.url).emails)

        try:
            wait_for(lambda: not emails_missing(), 240)
        except TimeoutError:
            pass
        emails_settled = time.monotonic() - fault_at
        time.sleep(5)  # let any duplicate ring finish, so a duplicate would show
        report = outcome(deployment.url).lost_and_duplicated(expected)
        return {"scenario": name, "recovery_s": round(recovered, 1), "emails_settled_s": round(emails_settled, 1),
                "total_s": round(time.monotonic() - started, 1), **report}
    finally:
        deployment.close()


def mail_scenario(name: str, args, folder: Path) -> dict:
    handler = RecordingHandler()
    port = free_port()
    controller = start_server(handler, port=port)
    cluster = None
    if name == "pg-restart":
        bindir = server_bin()
        if bindir is None:
            raise SystemExit("pg-restart needs PostgreSQL's server binaries (initdb, pg_ctl)")
        cluster = PrivateCluster(bindir)
        cluster.start()
    deployment = Deployment(folder / name, port, cluster.url() if cluster else ADMIN)
    extra: dict = {}
    try:
        enqueue_emails(deployment.url, args.emails)
        deployment.start("worker", "-p", "1", "-t", "2", "--mail-processes", "1")
        deployment.start("scheduler", "--interval", "5")
        wait_for(lambda: len(handler.messages) >= args.emails // 10, 300)
        if name == "pg-kill":
            admin = create_engine(deployment.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            admin.dispose()
        elif name == "pg-restart":
            extra["received_before_restart"] = len(handler.messages)
            extra["pg_down_s"] = round(cluster.restart(args.pg_down), 1)
            received = len(handler.messages)
            # Delivery resumed: the first email the sink receives after the server is back.
            extra["resumed_after_s"] = round(wait_for(lambda: len(handler.messages) > received, 300), 1)
        elif name == "smtp-down":
            controller.stop()
            time.sleep(args.smtp_down)
            controller = start_server(handler, port=port)
        elif name == "kill-mail":
            os.kill(deployment.pids("mail")[0], signal.SIGKILL)
        fault_at = time.monotonic() - extra.get("resumed_after_s", 0)
        def settled() -> bool:
            # Every email either reached the server or is an honest "outcome unknown" (the
            # terminator went out and no reply came back before the server went away).
            report = email_report(handler, deployment.url, args.emails)
            return report["emails_received"] + report["outcome_unknown"] >= args.emails

        try:
            wait_for(settled, 900)
        except TimeoutError:
            pass
        recovered = time.monotonic() - fault_at
        time.sleep(3)
        report = email_report(handler, deployment.url, args.emails)
        if name == "pg-restart":
            extra["scheduler_alive"] = deployment.processes[1].poll() is None
            extra["worker_alive"] = deployment.processes[0].poll() is None
            log = Path(deployment.env["PEERGUARD_DATA_DIR"]) / "scheduler-1.log"
            extra["scheduler_took_lock_again"] = log.read_text().count("now leads") >= 2
        return {"scenario": name, "recovery_s": round(recovered, 1), **report, **extra}
    finally:
        deployment.close()
        if cluster is not None:
            cluster.close()
        if controller._thread is not None:
            controller.stop()


def scheduler_scenario(args, folder: Path) -> dict:
    deployment = Deployment(folder / "kill-scheduler", free_port())
    try:
        log_a, log_b = folder / "a.log", folder / "b.log"
        env = {k: v for k, v in deployment.env.items() if k != "REDIS_URL"}
        procs = []
        for log in (log_a, log_b):
            procs.append(subprocess.Popen([str(BIN / "peerguard"), "scheduler", "--interval", "5", "--standby-poll", "1"],
                                          env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True))
            time.sleep(2)
        deployment.processes += procs
        wait_for(lambda: "now leads" in log_a.read_text(), 60)
        os.killpg(procs[0].pid, signal.SIGKILL)
        took = wait_for(lambda: "now leads" in log_b.read_text(), 60)
        return {"scenario": "kill-scheduler", "standby_took_over_s": round(took, 1), "interval_s": 5}
    finally:
        deployment.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--per-conversation", type=int, default=100)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--smtp-down", type=float, default=60.0)
    parser.add_argument("--pg-down", type=float, default=3.0, help="seconds the private PostgreSQL stays down")
    parser.add_argument("--only", action="append")
    parser.add_argument("--folder", type=Path, default=Path("var/bench-faults"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    args.corpus = args.folder / "corpus.jsonl"
    total = write_corpus(args.corpus, args.conversations, args.per_conversation)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {total} messages, {args.emails} emails")
    wanted = args.only or ["kill-worker", "flushdb", "pg-kill", "pg-restart", "smtp-down", "kill-mail", "kill-scheduler"]
    expected = None
    for name in wanted:
        if name in ("kill-worker", "flushdb"):
            if expected is None:
                ref_folder = args.folder / f"reference-{uuid.uuid4().hex[:6]}"
                started = time.monotonic()
                expected = reference(args.corpus, ref_folder)
                print(f"reference: {expected.scanned} scanned, {sum(expected.findings.values())} findings, "
                      f"{sum(expected.review_items.values())} review items in {time.monotonic() - started:.1f} s")
            result = scan_scenario(name, args, args.folder, expected)
        elif name == "kill-scheduler":
            result = scheduler_scenario(args, args.folder)
        else:
            result = mail_scenario(name, args, args.folder)
        print(result, flush=True)


if __name__ == "__main__":
    main()
