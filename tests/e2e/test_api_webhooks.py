"""End to end: a message PUT through the real API is scanned by a real worker on Redis, a staff decision
follows, and a real receiver gets message.flagged, review.resolved and strike.issued in order, each once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import free_port
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PEERGUARD = str(Path(sys.executable).parent / "peerguard")


def wait_until(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([PEERGUARD, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PEERGUARD, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_put_scan_decide_and_the_receiver_gets_three_events_in_order(pg_url, redis_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "PEERGUARD_DATA_DIR": str(tmp_path / "data"),
           "EMAIL_URL": (tmp_path / "outbox").as_uri(), "PEERGUARD_SECRET_KEY": "e2e-secret", "PEERGUARD_ENV": "production"}
    receiver = Receiver().start()
    processes = []
    try:
        receiver.secret = cli(env, "webhooks", "add", receiver.url, "--events",
                              "message.flagged,review.resolved,strike.issued").splitlines()[1].split(" ", 1)[1]
        token = cli(env, "tokens", "create", "--name", "marketplace", "--scope", "ingest,read").strip()
        port = free_port()
        processes += [start(env, "worker", "--processes", "1", "--threads", "2"),
                      start(env, "web", "--port", str(port), "--workers", "1")]
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert wait_until(lambda: _up(api))
        assert api.put("/v1/users/u-17", json={"name": "Sam", "email": "sam@example.com"}).status_code == 201
        assert api.put("/v1/users/u-3", json={"name": "Bea"}).status_code == 201
        assert api.put("/v1/conversations/c-9", json={"buyer": "u-3", "seller": "u-17", "order": "o-55"}).status_code == 201
        put = api.put("/v1/messages/m-100", json={"conversation": "c-9", "sender": "u-17", "sent_at": "2026-12-01T10:00:00Z",
                                                  "text": "my number is 415 555 0199"})
        assert put.status_code == 201
        assert wait_until(lambda: [r.type for r in receiver.accepted()] == ["message.flagged"]), receiver.accepted()
        cli(env, "staff", "add", "ana@peermetals.com")
        [item] = [json.loads(line) for line in cli(env, "review", "list", "--json").splitlines()]
        assert item["message_id"] == "m-100" and item["conversation_id"] == "c-9"
        cli(env, "review", "resolve", str(item["id"]), "--outcome", "confirmed", "--by", "ana@peermetals.com")
        assert wait_until(lambda: len(receiver.accepted()) >= 3), receiver.accepted()
        time.sleep(2)  # anything duplicated would arrive now
        got = receiver.accepted()
        assert [r.type for r in got] == ["message.flagged", "review.resolved", "strike.issued"]
        assert len({r.webhook_id for r in got}) == 3
        assert got[0].data["message"] == "m-100" and got[0].data["user"] == "u-17" and got[1].data["outcome"] == "confirmed"
        assert api.get("/v1/users/u-17").json()["active_strikes"] == 1
    finally:
        for process in processes:
            stop(process)
        receiver.stop()


def _up(api: httpx.Client) -> bool:
    try:
        return api.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False
