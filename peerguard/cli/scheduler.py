"""``peerguard scheduler``: ring the idempotent sweeps every tick, one leader at a time, through any outage."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime

import click

from peerguard.cli._common import open_app

log = logging.getLogger(__name__)
MAX_BACKOFF = 10.0  # seconds between attempts while PostgreSQL or Redis is unreachable


@click.command()
@click.option("--interval", default=60, show_default=True, type=click.IntRange(1), help="Seconds between sweeps.")
@click.option("--standby-poll", default=None, type=click.IntRange(1),
              help="Seconds between lock attempts while another scheduler leads [default: the interval, at most 5].")
def scheduler(interval: int, standby_poll: int | None) -> None:
    """Ring every stage's sweep every --interval seconds.

    With REDIS_URL the sweeps are enqueued for `peerguard worker`; without it every pipeline
    stage runs in this process. On PostgreSQL a session advisory lock makes sure only one
    scheduler fires; the others are standbys that take over within --standby-poll seconds of
    the leader's end. A lost database or Redis connection is retried with backoff, and a lost
    lock is taken again; the scheduler never exits on its own. It touches a heartbeat file
    every loop (`peerguard health scheduler`).
    """
    from storage.heartbeats import HeartbeatThread, heartbeat_dir
    from storage.locks import LeaderLock
    from usecases.logs import configure_logging

    app = open_app(sends_email="peerguard scheduler")
    configure_logging(app.settings.log_format)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _s, _f: stop.set())
    heartbeat = HeartbeatThread(heartbeat_dir(app.settings.data_dir), f"scheduler-{os.getpid()}", every=5.0)
    heartbeat.start()
    loop = SchedulerLoop(LeaderLock(app.engine), lambda: fire_sweeps(app, datetime.now(UTC)), interval,
                         standby_poll or min(interval, 5), stop)
    click.echo(f"scheduler ticking every {interval} s ({'Redis broker' if app.settings.redis_url else 'in-process'})")
    try:
        loop.run()
    finally:
        loop.lock.release()
        heartbeat.stop()


class SchedulerLoop:
    """Lead when the lock is free, fire every ``interval``; survive every connection failure."""

    def __init__(self, lock, fire, interval: float, standby_poll: float, stop: threading.Event) -> None:
        self.lock, self.fire, self.interval, self.standby_poll, self.stop = lock, fire, interval, standby_poll, stop
        self.leading = False
        self._failures = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.stop.wait(self.step())

    def step(self) -> float:
        """One pass: (re)take the lock or fire; returns how long to wait before the next pass."""
        if self.leading and not self.lock.still_held():
            log.warning("lost the scheduler lock's connection; taking it again when the database answers")
            self.lock.forget()
            self.leading = False
        if not self.leading:
            try:
                self.leading = self.lock.try_acquire()
            except Exception as exc:  # noqa: BLE001 - the database is down or restarting
                return self._backoff("cannot reach the database for the scheduler lock", exc)
            if not self.leading:
                return self.standby_poll
            log.info("this scheduler now leads")
        started = time.monotonic()
        try:
            self.fire()
        except Exception as exc:  # noqa: BLE001 - Redis or the database is down; the next tick re-rings
            return self._backoff("ringing the sweeps failed", exc)
        self._failures = 0
        return max(0.0, self.interval - (time.monotonic() - started))

    def _backoff(self, what: str, exc: Exception) -> float:
        self._failures += 1
        delay = min(MAX_BACKOFF, 0.5 * 2 ** min(self._failures, 5))
        log.warning("%s (%s); retrying in %.1f s", what, exc.__class__.__name__, delay)
        return delay


def fire_sweeps(app, now: datetime) -> None:
    """Ring the sweeps on Redis, or run every stage here when there is no broker."""
    from actors.stages import ring_sweeps, run_once

    if app.settings.redis_url:
        # The broker is only a doorbell: each sweep re-rings whatever its queue lost.
        ring_sweeps()
        return
    # Without a broker there are no workers, so this process runs every stage itself.
    for stage, counts in run_once(app, now).items():
        log.info("%s: %s", stage, ", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing to do")
