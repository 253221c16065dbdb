"""A real PostgreSQL restart while `peerguard worker --mail-processes 1` sends: nothing lost, nothing
sent twice, nothing left "outcome unknown", and the scheduler rides it out.

The shared server is never restarted: the scenario runs on a private cluster (initdb + pg_ctl on a
port of its own, tests/faults/private_pg.py). It needs PostgreSQL's server binaries; where they
are missing the test is skipped with that reason (scripts/dev installs the server package).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage import migrations
from tests.faults.private_pg import PrivateCluster, server_bin
from tests.responses.smtp_server import RecordingHandler, free_port, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent
EMAILS = 400


class SlowHandler(RecordingHandler):
    """20 ms per recipient, so the restart lands while the outbox is still draining."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio

        await asyncio.sleep(0.02)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def enqueue_alerts(url: str, count: int, data: Path) -> None:
    from storage.db import transaction
    from storage.outbox import NoticeRequest, enqueue_notices
    from usecases.app import App
    from usecases.settings import Settings

    app = App.from_settings(Settings.from_environment({"DATABASE_URL": url, "PEERGUARD_DATA_DIR": str(data)}))
    requests = [NoticeRequest("flag-alert", f"staff{n}@example.com", f"Staff {n}",
                              {"item_id": n, "kind": "payment", "sender_email": "x@example.com", "excerpt": "iban",
                               "review_url": "https://peermetals.com/r"}, f"pg-restart:{n}") for n in range(count)]
    with transaction(app.session_factory) as session:
        enqueue_notices(session, requests, datetime.now(UTC))
    app.dispose()


def outbox_states(url: str) -> Counter:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(dict(conn.execute(text("SELECT status, count(*) FROM email_outbox GROUP BY status")).all()))
    finally:
        engine.dispose()


@pytest.fixture
def cluster():
    bindir = server_bin()
    if bindir is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: no private cluster to restart")
    cluster = PrivateCluster(bindir)
    cluster.start()
    yield cluster
    cluster.close()


def test_postgres_restart_while_emails_send_loses_and_duplicates_nothing(cluster, redis_url, tmp_path):
    url = cluster.create_database("peerguard_restart")
    migrations.upgrade(url)
    data = tmp_path / "data"
    enqueue_alerts(url, EMAILS, data)
    handler = SlowHandler()
    port = free_port()
    controller = start_server(handler, port=port)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "PEERGUARD_DATA_DIR": str(data),
           "EMAIL_URL": f"smtp://127.0.0.1:{port}?timeout=5"}
    scheduler_log = tmp_path / "scheduler.log"
    worker = subprocess.Popen([str(BIN / "peerguard"), "worker", "-p", "1", "-t", "1", "--mail-processes", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    scheduler = subprocess.Popen([str(BIN / "peerguard"), "scheduler", "--interval", "2"], env=env,
                                 stdout=scheduler_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(handler.messages) < 40:
            assert time.monotonic() < deadline, "delivery never started"
            time.sleep(0.05)
        received_before = len(handler.messages)
        down = cluster.restart(down_seconds=3)
        restarted_at = time.monotonic()
        # Delivery really was cut: the restart landed mid-drain.
        assert received_before < EMAILS
        deadline = restarted_at + 90
        while outbox_states(url).get("sent", 0) + outbox_states(url).get("dead", 0) < EMAILS:
            assert time.monotonic() < deadline, (outbox_states(url), len(handler.messages))
            time.sleep(0.25)
        recovery = time.monotonic() - restarted_at
        time.sleep(1)
        ids = Counter(m["Message-ID"] for m in handler.messages)
        states = outbox_states(url)
        print(f"server down {down:.1f} s; {received_before} received before; every email settled "
              f"{recovery:.1f} s after the restart; {dict(states)}")
        assert len(ids) == EMAILS and max(ids.values()) == 1  # none lost, none twice
        # The SMTP server never went away, so no email may be "outcome unknown".
        assert states == Counter({"sent": EMAILS})
        # Neither the scheduler nor the worker exited; the scheduler leads again after the restart.
        assert scheduler.poll() is None and worker.poll() is None
        log = scheduler_log.read_text()
        assert log.count("now leads") >= 2, log[-2000:]
    finally:
        for process in (worker, scheduler):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (worker, scheduler):
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        controller.stop()
