"""The catch-up sweep on real Redis: messages whose scan ring still waits are not rung again; after
a FLUSHDB (the rings are gone) every unscanned message is rung once more."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.e2e.test_workers import export

pytestmark = [pytest.mark.e2e]
BIN = Path(sys.executable).parent

SWEEP = """
from datetime import UTC, datetime, timedelta
from actors.app import current_app
from usecases.scanning import ring_for_lost
print(ring_for_lost(current_app(), datetime.now(UTC) + timedelta(minutes=1)))
"""


def sweep(env) -> int:
    result = subprocess.run([sys.executable, "-c", SWEEP], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def queued_scans(client: redis.Redis) -> int:
    return client.hlen("peerguard:scanning.msgs")


def test_the_sweep_skips_rings_still_queued_and_recovers_after_flushdb(pg_url, redis_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "PEERGUARD_DATA_DIR": str(tmp_path / "d"),
           "EMAIL_URL": (tmp_path / "outbox").as_uri()}
    client = redis.Redis.from_url(redis_url)
    path = export(tmp_path, [(f"m-{i}", "u-b", f"message {i}") for i in range(5)])
    # No worker runs: the import's ring waits in the queue, as during a worker outage.
    subprocess.run([str(BIN / "peerguard"), "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "peerguard"), "import", str(path)], env=env, check=True, capture_output=True)
    before = queued_scans(client)
    assert before >= 1
    assert sweep(env) == 0 and sweep(env) == 0  # everything is still queued: nothing rung again
    assert queued_scans(client) == before
    client.flushdb()  # the broker loses everything, rings included
    assert sweep(env) == 5
    assert queued_scans(client) >= 1
    assert sweep(env) == 0  # and those new rings are waiting now
    client.close()
