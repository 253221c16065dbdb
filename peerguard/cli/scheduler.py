"""``peerguard scheduler``: fire the idempotent sweeps every minute, one scheduler at a time."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import click

from peerguard.cli._common import open_context

# An arbitrary constant shared by every PeerGuard scheduler: whoever holds this PostgreSQL
# advisory lock is the one scheduler that fires; the others wait as hot standbys.
SCHEDULER_LOCK_KEY = 0x5E6_0A4D

log = logging.getLogger(__name__)


@click.command()
@click.option("--interval", default=60, show_default=True, type=click.IntRange(1), help="Seconds between sweeps.")
@click.option("--standby-poll", default=15, show_default=True, type=click.IntRange(1), help="Seconds between lock attempts while another scheduler runs.")
def scheduler(interval: int, standby_poll: int) -> None:
    """Fire the idempotent sweeps every --interval seconds.

    With REDIS_URL the response sweep and mail dispatch are enqueued for `peerguard worker`;
    without it every pipeline stage runs in this process. On PostgreSQL a session advisory lock
    makes sure only one scheduler fires; others wait as standbys.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    context = open_context()
    lock = _acquire_leadership(context.engine, standby_poll)
    runner = BlockingScheduler(timezone=UTC)
    runner.add_job(lambda: _tick(context, lock, runner), "interval", seconds=interval,
                   next_run_time=datetime.now(UTC), max_instances=1, coalesce=True, id="sweeps")
    click.echo(f"scheduler running every {interval} s ({'Redis broker' if context.settings.redis_url else 'in-process'})")
    try:
        runner.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if lock is not None:
            lock.close()


def _acquire_leadership(engine, poll_seconds: int):
    """Hold a PostgreSQL advisory lock on a dedicated connection; SQLite has one process anyway."""
    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        return None
    connection = engine.connect()
    while not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK_KEY}).scalar():
        connection.rollback()
        click.echo("another scheduler holds the lock; waiting as a standby")
        time.sleep(poll_seconds)
    # Commit so the connection is idle (not "idle in transaction"); the session lock survives.
    connection.commit()
    return connection


def _tick(context, lock, runner) -> None:
    from sqlalchemy import text

    if lock is not None:
        try:
            lock.execute(text("SELECT 1")).scalar()
            lock.commit()
        except Exception:  # noqa: BLE001 - losing the lock connection means losing leadership
            log.error("lost the scheduler lock connection; stopping so a standby can take over")
            runner.shutdown(wait=False)
            return
    fire_sweeps(context, datetime.now(UTC))


def fire_sweeps(context, now: datetime) -> None:
    """Enqueue the sweeps on Redis, or run them here when there is no broker."""
    if context.settings.redis_url:
        from actors.outbox import dispatch_outbox
        from actors.responses import response_sweep
        from actors.review import review_sweep
        from actors.scanning import catch_up_sweep
        from actors.transcripts import transcript_sweep

        # The broker is only a doorbell: re-ring it for messages whose scan message was lost.
        catch_up_sweep.send()
        transcript_sweep.send()
        response_sweep.send()
        review_sweep.send()
        dispatch_outbox.send()
        return
    from actors.runner import run_once

    # Without a broker there are no workers, so this process runs every stage itself.
    for stage, counts in run_once(context, now).items():
        log.info("%s: %s", stage, ", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing to do")
