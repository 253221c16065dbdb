"""A Dramatiq middleware that keeps a heartbeat file per worker process (read by ``peerguard health``)."""

from __future__ import annotations

import os

from dramatiq.middleware import Middleware

from storage.heartbeats import HeartbeatThread, heartbeat_dir
from usecases.settings import Settings


class WorkerHeartbeat(Middleware):
    """Starts beating ``worker-<pid>`` when a worker process boots and removes it at shutdown."""

    def __init__(self) -> None:
        self._thread: HeartbeatThread | None = None

    def after_worker_boot(self, broker, worker) -> None:
        directory = heartbeat_dir(Settings.from_environment().data_dir)
        self._thread = HeartbeatThread(directory, f"worker-{os.getpid()}")
        self._thread.start()

    def before_worker_shutdown(self, broker, worker) -> None:
        if self._thread is not None:
            self._thread.stop()
