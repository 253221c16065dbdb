"""End to end on the Redis broker with real `peerguard worker` processes and real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import make_engine, make_session_factory
from storage.models import ContactFinding, Message

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent


def export(folder: Path, messages: list[tuple[str, str, str]]) -> Path:
    lines = [
        {"type": "user", "id": "u-b", "name": "Buyer", "email": "buyer@example.com"},
        {"type": "user", "id": "u-s", "name": "Seller", "email": "seller@example.com", "timezone": "America/Chicago"},
        {"type": "conversation", "id": "c-1", "buyer": "u-b", "seller": "u-s", "subject": "Maple tube"},
    ]
    for i, (mid, sender, text) in enumerate(messages):
        lines.append({"type": "message", "id": mid, "conversation": "c-1", "sender": sender,
                      "sent_at": f"2026-11-25T14:{i:02d}:00Z", "text": text})
    path = folder / "export.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


@pytest.fixture
def env(pg_url, redis_url, tmp_path):
    return {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url,
            "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "EMAIL_URL": (tmp_path / "outbox").as_uri()}


@pytest.fixture
def workers(env):
    process = subprocess.Popen([str(BIN / "peerguard"), "worker", "--processes", "1", "--threads", "2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        total = s.scalar(select(func.count()).select_from(Message))
        scanned = s.scalar(select(func.count()).select_from(Message).where(Message.scanned_at.is_not(None)))
        findings = s.scalar(select(func.count()).select_from(ContactFinding))
    engine.dispose()
    return total, scanned, findings


def test_import_rings_the_doorbell_and_workers_scan(env, workers, pg_url, tmp_path):
    path = export(tmp_path, [("m-1", "u-b", "is the tube still available?"),
                             ("m-2", "u-s", "yes, text me at 415-555-0199 and we skip the fees"),
                             ("m-3", "u-b", "ok thanks")])
    result = subprocess.run([str(BIN / "peerguard"), "import", str(path)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: counts(pg_url)[1] == 3), counts(pg_url)
    assert counts(pg_url)[2] >= 1


def test_catch_up_sweep_finds_what_the_broker_lost(env, workers, pg_url, redis_url, tmp_path):
    # Importing without REDIS_URL rings no doorbell: exactly what a lost broker message looks like.
    quiet_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    path = export(tmp_path, [("m-9", "u-s", "zelle me and save the fees")])
    subprocess.run([str(BIN / "peerguard"), "import", str(path)], env=quiet_env, check=True, capture_output=True)
    time.sleep(2)
    assert counts(pg_url)[1] == 0

    from dramatiq import Message as BrokerMessage
    from dramatiq.brokers.redis import RedisBroker

    from actors.broker import REDIS_NAMESPACE

    broker = RedisBroker(url=redis_url, namespace=REDIS_NAMESPACE)
    broker.declare_queue("sweeps")
    # The sweep waits until a message is CATCH_UP_AGE old; send it after that.
    time.sleep(11)
    broker.enqueue(BrokerMessage(queue_name="sweeps", actor_name="catch_up_sweep", args=(), kwargs={}, options={}))
    assert wait_until(lambda: counts(pg_url)[1] == 1), counts(pg_url)
    assert counts(pg_url)[2] >= 1
    broker.close()


def test_worker_metrics_cover_every_process(env, pg_url, tmp_path):
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([str(BIN / "peerguard"), "worker", "-p", "2", "-t", "1", "--metrics-port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        path = export(tmp_path, [("m-1", "u-s", "my number is 415 555 0199")])
        subprocess.run([str(BIN / "peerguard"), "import", str(path)], env=env, check=True, capture_output=True)
        assert wait_until(lambda: counts(pg_url)[1] == 1)

        def scraped():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                return ""
        assert wait_until(lambda: 'peerguard_actor_messages_total{actor="scan_messages",outcome="ok"} 1.0' in scraped(), 20), scraped()[-2000:]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_worker_renders_a_requested_transcript(env, workers, pg_url, redis_url, tmp_path):
    from dramatiq import Message as BrokerMessage
    from dramatiq.brokers.redis import RedisBroker
    from pypdf import PdfReader

    from actors.broker import REDIS_NAMESPACE
    from storage.models import TranscriptRequest
    from usecases.app import App
    from usecases.settings import Settings
    from usecases.transcripts import create_request

    path = export(tmp_path, [("m-1", "u-b", "does it have the COA?"), ("m-2", "u-s", "yes, photo attached soon")])
    subprocess.run([str(BIN / "peerguard"), "import", str(path)], env=env, check=True, capture_output=True)
    context = App.from_settings(Settings.from_environment(
        {"DATABASE_URL": pg_url, "PEERGUARD_DATA_DIR": env["PEERGUARD_DATA_DIR"]}))
    request_id = create_request(context, "c-1", "handler@peermetals.com", datetime_now())
    broker = RedisBroker(url=redis_url, namespace=REDIS_NAMESPACE)
    broker.declare_queue("transcripts")
    broker.enqueue(BrokerMessage(queue_name="transcripts", actor_name="render_transcript",
                                 args=(request_id,), kwargs={}, options={}))

    def done():
        with context.session_factory() as s:
            return s.get(TranscriptRequest, request_id).status == "done"

    assert wait_until(done, 120)
    with context.session_factory() as s:
        request = s.get(TranscriptRequest, request_id)
    pdf = Path(env["PEERGUARD_DATA_DIR"]) / request.pdf_path
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "does it have the COA?" in text and "Page 1 of" in text
    broker.close()
    context.dispose()


def datetime_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def test_mail_processes_share_a_backlog_and_send_each_email_once(env, pg_url, tmp_path):
    from storage.db import transaction
    from storage.models import OutboxEmail
    from storage.outbox import NoticeRequest, enqueue_notices
    from tests.responses.smtp_server import RecordingHandler, start_server

    handler = RecordingHandler()
    controller = start_server(handler)
    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        enqueue_notices(session, [
            NoticeRequest("flag-alert", f"staff{n}@example.com", f"Staff {n}",
                          {"item_id": n, "kind": "payment", "sender_email": "x@example.com", "excerpt": "iban",
                           "review_url": "https://peermetals.com/r"}, f"e2e-mail:{n}")
            for n in range(400)
        ], datetime_now())
    # Only the scanning queue for the Dramatiq workers: every email here goes through the two
    # dedicated mail processes.
    process = subprocess.Popen(
        [str(BIN / "peerguard"), "worker", "-p", "1", "-t", "1", "-Q", "scanning", "--mail-processes", "2"],
        env={**env, "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        def all_sent() -> bool:
            with sessions() as session:
                return session.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status == "sent")) == 400
        assert wait_until(all_sent, timeout=90)
        ids = [m["Message-ID"] for m in handler.messages]
        assert len(ids) == len(set(ids)) == 400
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output = process.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0].decode(errors="replace")
        controller.stop()
        engine.dispose()
    started = {line.split("mail process ")[1].split()[0] for line in output.splitlines() if "mail process " in line and "polling" in line}
    assert len(started) == 2, output[-3000:]
