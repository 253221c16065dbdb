"""Liveness heartbeats as files under ``DATA_DIR/heartbeats``: each live process touches its own.

A compose healthcheck (``peerguard health worker``) reads their ages; files are cheap, need no
database (so a database outage does not make a healthy worker look dead) and vanish with the
process's clean exit.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def heartbeat_dir(data_dir: Path) -> Path:
    """Where the heartbeats of one deployment live."""
    return data_dir / "heartbeats"


def beat(directory: Path, name: str) -> None:
    """Create or touch ``name``: this process is alive now."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.touch()
    os.utime(path)


def youngest_age(directory: Path, prefix: str, now: float | None = None) -> float | None:
    """Seconds since the freshest heartbeat whose name starts with ``prefix``; None when there is none."""
    now = time.time() if now is None else now
    ages = [now - path.stat().st_mtime for path in directory.glob(f"{prefix}*") if path.is_file()]
    return min(ages) if ages else None


def remove(directory: Path, name: str) -> None:
    """Forget a heartbeat (a clean exit)."""
    (directory / name).unlink(missing_ok=True)


class HeartbeatThread:
    """Touches one heartbeat file every ``every`` seconds from a daemon thread."""

    def __init__(self, directory: Path, name: str, every: float = 10.0) -> None:
        self.directory, self.name, self.every = directory, name, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{name}", daemon=True)

    def start(self) -> None:
        beat(self.directory, self.name)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        remove(self.directory, self.name)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                beat(self.directory, self.name)
            except OSError:
                pass  # a full or read-only disk shows up as a stale heartbeat, which is the point
