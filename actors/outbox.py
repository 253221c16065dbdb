"""Mail actors: deliver the outbox, and the dedicated mail processes of ``peerguard worker --mail-processes``."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime

import dramatiq

from actors import broker as _broker  # noqa: F401  (configures the broker before the actors below)
from actors.app import current_app
from actors.metrics import EMAIL_SEND_SECONDS, count_stage
from storage.heartbeats import HeartbeatThread, heartbeat_dir
from usecases import notices

log = logging.getLogger(__name__)

MAIL_POLL_SECONDS = 2.0  # how often an idle mail process looks at the outbox


@dramatiq.actor(queue_name="mail", max_retries=0, time_limit=10 * 60 * 1000)
def dispatch_outbox() -> None:
    """Deliver everything due in the outbox (idempotent; safe to run from several workers)."""
    count_stage("mail", notices.deliver_outbox(current_app(), datetime.now(UTC), observe_send=EMAIL_SEND_SECONDS.observe))


def mail_process() -> None:
    """A process that only delivers mail: ``peerguard worker --mail-processes N`` forks N of them.

    Dramatiq's consumers prefetch, so a second ``dispatch_outbox`` message may well run in the
    same process as the first; dedicated processes are how a backlog gets more than one core.
    Each polls the outbox (SKIP LOCKED keeps them on disjoint rows) and, on SIGTERM or SIGHUP,
    finishes the email in hand, gives back the rest of its claim and exits.
    """
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    app = current_app()
    heartbeat = HeartbeatThread(heartbeat_dir(app.settings.data_dir), f"mail-{os.getpid()}", every=5.0)
    heartbeat.start()
    log.info("mail process %s polling the outbox every %.1f s", os.getpid(), MAIL_POLL_SECONDS)
    failures = 0
    while not stop.is_set():
        try:
            counts = notices.deliver_outbox(app, datetime.now(UTC), stopping=stop.is_set,
                                            observe_send=EMAIL_SEND_SECONDS.observe)
        except Exception as exc:  # noqa: BLE001 - a broken database or transport must not end the process
            failures += 1
            # 1, 2, 4, 8, 15 s: the first retry comes soon (a database restart takes seconds).
            delay = min(0.5 * 2 ** failures, 15.0)
            log.warning("mail process: delivery failed (%s: %s); retrying in %.0f s", exc.__class__.__name__, exc, delay)
            stop.wait(delay)
            continue
        failures = 0
        count_stage("mail", counts)
        if not counts.get("sent"):
            stop.wait(MAIL_POLL_SECONDS)
    heartbeat.stop()
