"""`peerguard worker` on real Redis and PostgreSQL: a killed worker or mail process is replaced
alone, heartbeats and `peerguard health` follow, and the metrics port serves the backlog gauges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from storage import migrations
from tests.responses.smtp_server import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
BIN = Path(sys.executable).parent


def pids(heartbeats: Path, role: str) -> set[int]:
    return {int(p.name.split("-")[1]) for p in heartbeats.glob(f"{role}-*")} if heartbeats.exists() else set()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child stays a zombie until its parent reaps it; a zombie is not alive.
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "Z"
    return status != "Z"


def live(heartbeats: Path, role: str) -> set[int]:
    return {pid for pid in pids(heartbeats, role) if alive(pid)}


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(what)


def test_a_killed_worker_or_mail_process_is_replaced_alone(pg_url, redis_url, tmp_path):
    migrations.upgrade(pg_url)
    data = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "PEERGUARD_DATA_DIR": str(data),
           "EMAIL_URL": (tmp_path / "outbox").as_uri()}
    process = subprocess.Popen([str(BIN / "peerguard"), "worker", "-p", "2", "-t", "1", "--mail-processes", "1",
                                "--metrics-port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    beats = data / "heartbeats"
    try:
        workers = wait_for(lambda: len(live(beats, "worker")) == 2 and live(beats, "worker"), 90, "workers never beat")
        (mail,) = wait_for(lambda: live(beats, "mail"), 60, "the mail process never beat")
        health = subprocess.run([str(BIN / "peerguard"), "health", "worker"], env=env, capture_output=True, text=True)
        assert health.returncode == 0, health.stdout

        victim, survivor = sorted(workers)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not alive(victim), 10, "the worker did not die")
        replaced = wait_for(lambda: live(beats, "worker") - {survivor, victim}, 60, "the killed worker was not replaced")
        assert replaced and alive(survivor) and alive(mail)
        assert process.poll() is None

        os.kill(mail, signal.SIGKILL)
        wait_for(lambda: not alive(mail), 10, "the mail process did not die")
        new_mail = wait_for(lambda: live(beats, "mail") - {mail}, 60, "the killed mail process was not replaced")
        assert new_mail and alive(survivor)

        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert "peerguard_database_up 1.0" in body
        assert 'peerguard_outbox_emails{state="queued"} 0.0' in body
        assert "peerguard_unscanned_oldest_age_seconds" in body
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0
