"""Review fixtures: the ``peerguard`` command against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PEERGUARD = str(Path(sys.executable).parent / "peerguard")


@pytest.fixture
def cli(app, tmp_path):
    """Run ``peerguard`` against the test database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {"DATABASE_URL": app.settings.database_url, "PEERGUARD_DATA_DIR": str(tmp_path / "data"),
            "PEERGUARD_STAFF_EMAIL": "safety@peermetals.com"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PEERGUARD, *args], capture_output=True, text=True, env=env, timeout=120)

    return run
