"""Two real schedulers on PostgreSQL: one leads, a standby takes over within one tick when the
leader is killed, and a leader whose database connection is killed takes the lock again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from storage.heartbeats import heartbeat_dir, youngest_age


class Scheduler:
    def __init__(self, pg_url: str, data_dir: Path, log: Path, interval: int = 2) -> None:
        env = {**os.environ, "DATABASE_URL": pg_url, "PEERGUARD_DATA_DIR": str(data_dir), "EMAIL_URL": f"file://{data_dir}/mail",
               "PEERGUARD_SECRET_KEY": "test-secret", "PEERGUARD_ENV": "development"}
        env.pop("REDIS_URL", None)
        self.log = log
        self.proc = subprocess.Popen([str(Path(sys.executable).with_name("peerguard")), "scheduler", "--interval", str(interval),
                                      "--standby-poll", "1"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def leads(self) -> int:
        return self.output().count("this scheduler now leads")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


def _wait(predicate, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, what
        time.sleep(0.1)
    return time.monotonic() - started


def test_standby_takes_over_within_one_tick_and_leader_survives_connection_kill(pg_url, tmp_path):
    from storage import migrations

    migrations.upgrade(pg_url)
    first = Scheduler(pg_url, tmp_path, tmp_path / "a.log")
    second = None
    try:
        _wait(lambda: first.leads() == 1, 60, "the first scheduler never led: " + first.output()[-2000:])
        second = Scheduler(pg_url, tmp_path, tmp_path / "b.log")
        _wait(lambda: "ticking every" in second.output(), 60, "the second scheduler never started")
        time.sleep(3)
        assert second.leads() == 0  # a standby while the first one leads
        assert youngest_age(heartbeat_dir(tmp_path), "scheduler-") < 10

        # The leader's database connections are killed: it takes the lock again (or stands by), never exits.
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        admin.dispose()
        assert killed >= 2
        _wait(lambda: first.leads() + second.leads() == 2, 30, "nobody took the lock again")
        assert first.proc.poll() is None and second.proc.poll() is None

        leader, standby = (first, second) if first.leads() == 2 else (second, first)
        leader.proc.kill()  # kill -9: the lock goes with its connection
        leader.proc.wait()
        took = _wait(lambda: standby.leads() == 2 if standby is first else standby.leads() == 1, 30,
                     "the standby did not take over")
        assert took < 2 + 1.5  # within one tick (interval 2 s; standby polls every second)
    finally:
        first.stop()
        if second is not None:
            second.stop()
