"""``peerguard scheduler``: ring the idempotent sweeps every minute, one scheduler at a time."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import click

from peerguard.cli._common import open_app

log = logging.getLogger(__name__)


@click.command()
@click.option("--interval", default=60, show_default=True, type=click.IntRange(1), help="Seconds between sweeps.")
@click.option("--standby-poll", default=15, show_default=True, type=click.IntRange(1),
              help="Seconds between lock attempts while another scheduler runs.")
def scheduler(interval: int, standby_poll: int) -> None:
    """Ring every stage's sweep every --interval seconds.

    With REDIS_URL the sweeps are enqueued for `peerguard worker`; without it every pipeline
    stage runs in this process. On PostgreSQL a session advisory lock makes sure only one
    scheduler fires; others wait as standbys.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler

    from storage.locks import LeaderLock

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = open_app(sends_email="peerguard scheduler")
    lock = LeaderLock(app.engine)
    while not lock.try_acquire():
        click.echo("another scheduler holds the lock; waiting as a standby")
        time.sleep(standby_poll)
    runner = BlockingScheduler(timezone=UTC)
    runner.add_job(lambda: _tick(app, lock, runner), "interval", seconds=interval,
                   next_run_time=datetime.now(UTC), max_instances=1, coalesce=True, id="sweeps")
    click.echo(f"scheduler running every {interval} s ({'Redis broker' if app.settings.redis_url else 'in-process'})")
    try:
        runner.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()


def _tick(app, lock, runner) -> None:
    if not lock.still_held():
        log.error("lost the scheduler lock connection; stopping so a standby can take over")
        runner.shutdown(wait=False)
        return
    fire_sweeps(app, datetime.now(UTC))


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
