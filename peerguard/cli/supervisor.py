"""A small process supervisor for ``peerguard worker``: each child is restarted alone when it dies.

Dramatiq stops every worker process when one of them exits unexpectedly, and does not replace
fork functions; so ``peerguard worker`` runs each worker process as its own one-process Dramatiq
group, and each mail process on its own, and replaces whichever dies (with backoff when one
keeps dying at start-up) without touching the others.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

QUICK_DEATH = 10.0  # a child that dies sooner than this after starting is restarted with backoff
MAX_RESTART_DELAY = 30.0
STOP_GRACE = 30.0


@dataclass
class Child:
    """One supervised command and its current process."""

    name: str
    argv: Sequence[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = 0.0
    delay: float = 1.0
    restarts: int = field(default=0)


class Supervisor:
    """Starts every child, restarts any that exits while running, stops them all on request."""

    def __init__(self, commands: Mapping[str, Sequence[str]], env: Mapping[str, str],
                 on_exit: Callable[[int], None] | None = None) -> None:
        self.children = [Child(name, list(argv)) for name, argv in commands.items()]
        self.env = dict(env)
        self.on_exit = on_exit or (lambda _pid: None)

    def run(self, stop: threading.Event, poll: float = 0.5) -> int:
        """Supervise until ``stop`` is set, then stop the children; returns 0."""
        try:
            while not stop.is_set():
                self._tend(time.monotonic())
                stop.wait(poll)
        finally:
            self._stop_all()
        return 0

    def _tend(self, now: float) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                self._exited(child, now)
            if child.process is None and child.restart_at is not None and now >= child.restart_at:
                self._start(child, now)

    def _start(self, child: Child, now: float) -> None:
        child.process = subprocess.Popen(child.argv, env=self.env)
        child.started_at, child.restart_at = now, None
        log.info("started %s (pid %d)", child.name, child.process.pid)

    def _exited(self, child: Child, now: float) -> None:
        assert child.process is not None
        pid, code = child.process.pid, child.process.returncode
        self.on_exit(pid)
        quick = now - child.started_at < QUICK_DEATH
        child.delay = min(child.delay * 2, MAX_RESTART_DELAY) if quick else 1.0
        child.process, child.restart_at, child.restarts = None, now + child.delay, child.restarts + 1
        log.warning("%s (pid %d) exited with %s; restarting it in %.0f s", child.name, pid, code, child.delay)

    def _stop_all(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
