"""PEERGUARD_LOG_FORMAT=json: real runs of the CLI and the scheduler write one JSON object per line
with time, level, logger, message and the marketplace's ids; secrets are masked."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.responses.smtp_server import RecordingHandler, free_port, start_server
from usecases.logs import JsonFormatter, log_context, redact

BIN = Path(sys.executable).parent
CORPUS = [
    {"type": "user", "id": "u-1", "name": "Bea", "email": "bea@example.com"},
    {"type": "user", "id": "u-2", "name": "Sam", "email": "sam@example.com"},
    {"type": "conversation", "id": "c-77", "buyer": "u-1", "seller": "u-2", "subject": "Maple"},
    # Dated in the future (a warning naming the conversation) and flagged (a staff alert the
    # server refuses: a warning naming the email).
    {"type": "message", "id": "m-770", "conversation": "c-77", "sender": "u-1", "sent_at": "2035-01-01T10:00:00Z",
     "text": "zelle me at pay.me@example.com and text 415 555 0199"},
]


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    documents = [json.loads(line) for line in lines]  # every line is one JSON object, or this fails
    for document in documents:
        assert {"time", "level", "logger", "message"} <= document.keys(), document
        assert document["time"].endswith("Z") and document["level"] in ("debug", "info", "warning", "error", "critical")
    return documents


def test_run_once_logs_json_lines_with_marketplace_ids(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(line) for line in CORPUS) + "\n")
    controller = start_server(RecordingHandler(), port=free_port())
    env = {**os.environ, "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "PEERGUARD_LOG_FORMAT": "json",
           "PEERGUARD_STAFF_EMAIL": "reject-staff@example.com", "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
           "PEERGUARD_SECRET_KEY": "never-in-a-log-0d1f"}
    try:
        subprocess.run([str(BIN / "peerguard"), "import", str(corpus)], env=env, check=True, capture_output=True)
        done = subprocess.run([str(BIN / "peerguard"), "run", "--once", "--now", "2026-12-06T12:00:00Z"], env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        controller.stop()
    assert done.returncode == 0, done.stderr
    documents = json_lines(done.stderr)
    future = [d for d in documents if d["logger"] == "usecases.responses"]
    assert future and future[0]["conversation"] == "c-77" and future[0]["level"] == "warning"
    refused = [d for d in documents if d["logger"] == "usecases.notices"]
    assert refused and refused[0]["notice"] == "flag-alert" and refused[0]["email"].endswith("@peermetals.com>")
    assert "550" in refused[0]["message"]
    assert "never-in-a-log" not in done.stderr and "never-in-a-log" not in done.stdout


def test_the_scheduler_logs_json_lines(tmp_path):
    env = {**os.environ, "PEERGUARD_DATA_DIR": str(tmp_path / "data"), "PEERGUARD_LOG_FORMAT": "json"}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([str(BIN / "peerguard"), "scheduler", "--interval", "1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(4)
    os.killpg(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    documents = json_lines(stderr)
    assert any(d["logger"] == "peerguard.cli.scheduler" and d["message"] == "this scheduler now leads" for d in documents)


def test_a_bad_log_format_is_a_one_line_configuration_error(tmp_path):
    env = {**os.environ, "PEERGUARD_DATA_DIR": str(tmp_path), "PEERGUARD_LOG_FORMAT": "xml"}
    done = subprocess.run([str(BIN / "peerguard"), "outbox", "status"], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "PEERGUARD_LOG_FORMAT" in done.stderr


def test_context_ids_and_redaction_in_one_record():
    record = logging.LogRecord("peerguard.test", logging.WARNING, __file__, 1,
                               "cannot reach postgresql://app:hunter2@db/pg with Authorization: Bearer pg_live_abc123",
                               None, None)
    with log_context(conversation="c-9", user="u-17"), log_context(email="<x@peermetals.com>"):
        document = json.loads(JsonFormatter().format(record))
    assert document["conversation"] == "c-9" and document["user"] == "u-17" and document["email"] == "<x@peermetals.com>"
    assert "hunter2" not in document["message"] and "pg_live_abc123" not in document["message"]
    assert "postgresql://app:***@db/pg" in document["message"]
    assert redact("EMAIL_URL=smtp://mailer:s3cret@mail:587?starttls=1") == "EMAIL_URL=smtp://mailer:***@mail:587?starttls=1"
    # The access log names the token (never shows it): the name stays readable.
    assert redact("GET /v1/messages/m-1 200 3.1ms token=ingest-bot") == "GET /v1/messages/m-1 200 3.1ms token=ingest-bot"
    # Outside the block the ids are gone.
    assert "conversation" not in json.loads(JsonFormatter().format(record))
